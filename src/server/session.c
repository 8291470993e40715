/* Connection setup APIs: ApiVersions (18), which lists what this broker
 * speaks, and Authenticate (36). No authentication hook exists yet, so
 * every connection is anonymous (`flyq serve` refuses a non-loopback
 * listener unless allow_anonymous is set) and Authenticate is refused.
 */
#include "flyq/common.h"
#include "server/internal.h"

void flyq__handle_api_versions(flyq__req_t *req) {
  flyq_proto_api_versions_resp_t resp = {{req->correlation_id, 0, {NULL, -1}},
                                         flyq_proto_api_versions,
                                         FLYQ_PROTO_API_COUNT,
                                         flyq_str(FLYQ_VERSION)};
  flyq__req_respond(req, flyq_proto_encode_api_versions_resp(&req->out, &resp));
}

void flyq__handle_authenticate(flyq__req_t *req,
                               const flyq_proto_authenticate_req_t *r) {
  (void)r;
  flyq__req_error(req, FLYQ_WIRE_UNSUPPORTED_SASL_MECHANISM,
                  "no authentication is configured on this broker "
                  "(connections are anonymous)");
}
