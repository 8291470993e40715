/* ApiVersions (18): what this broker speaks. Authenticate (36), the other
 * API a connection may use before it is authenticated, is in policy.c.
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
