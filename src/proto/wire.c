/* Tables of the wire protocol: API names and advertised versions, wire
 * error names, and the mapping between FlyQ return codes and wire error
 * codes (docs/protocol.md, "APIs" and "Error codes").
 */
#include <errno.h>

#include "flyq/proto.h"

const flyq_proto_api_version_t flyq_proto_api_versions[FLYQ_PROTO_API_COUNT] = {
    {FLYQ_API_PRODUCE, 0, 0},        {FLYQ_API_FETCH, 0, 1},
    {FLYQ_API_LIST_OFFSETS, 0, 0},   {FLYQ_API_METADATA, 0, 0},
    {FLYQ_API_OFFSET_COMMIT, 0, 0},  {FLYQ_API_OFFSET_FETCH, 0, 0},
    {FLYQ_API_LIST_GROUPS, 0, 0},    {FLYQ_API_API_VERSIONS, 0, 0},
    {FLYQ_API_CREATE_TOPICS, 0, 0},  {FLYQ_API_DELETE_TOPICS, 0, 0},
    {FLYQ_API_AUTHENTICATE, 0, 0},   {FLYQ_API_CONFIG_PLAN, 0, 0},
    {FLYQ_API_CONFIG_APPLY, 0, 0},   {FLYQ_API_STATS, 0, 0},
};

static const char *const api_names[FLYQ_PROTO_API_COUNT] = {
    "Produce",     "Fetch",        "ListOffsets",  "Metadata",
    "OffsetCommit", "OffsetFetch", "ListGroups",   "ApiVersions",
    "CreateTopics", "DeleteTopics", "Authenticate", "ConfigPlan",
    "ConfigApply",  "Stats",
};

static int api_index(int16_t api_key) {
  for (int i = 0; i < FLYQ_PROTO_API_COUNT; i++)
    if (flyq_proto_api_versions[i].api_key == api_key) return i;
  return -1;
}

int flyq_proto_version_supported(int16_t api_key, int16_t api_version) {
  int i = api_index(api_key);
  return i >= 0 && api_version >= flyq_proto_api_versions[i].min_version &&
         api_version <= flyq_proto_api_versions[i].max_version;
}

const char *flyq_proto_api_name(int16_t api_key) {
  int i = api_index(api_key);
  return i >= 0 ? api_names[i] : "Unknown";
}

const char *flyq_wire_errname(int16_t code) {
  switch (code) {
#define FLYQ_WIRE_NAME(name, val)                                             \
  case (val):                                                                 \
    return #name;
    FLYQ_WIRE_ERRNO_MAP(FLYQ_WIRE_NAME)
#undef FLYQ_WIRE_NAME
  }
  return "UNKNOWN";
}

int16_t flyq_wire_error_from(int err) {
  switch (err) {
  case 0: return FLYQ_WIRE_NONE;
  case FLYQ_ERR_CORRUPT:
  case FLYQ_ERR_TRUNCATED: return FLYQ_WIRE_CORRUPT_MESSAGE;
  case FLYQ_ERR_OFFSET_OUT_OF_RANGE: return FLYQ_WIRE_OFFSET_OUT_OF_RANGE;
  case FLYQ_ERR_UNKNOWN_TOPIC:
  case FLYQ_ERR_UNKNOWN_PARTITION: return FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION;
  case FLYQ_ERR_INVALID_NAME: return FLYQ_WIRE_INVALID_TOPIC;
  case FLYQ_ERR_TOPIC_EXISTS: return FLYQ_WIRE_TOPIC_ALREADY_EXISTS;
  case FLYQ_ERR_TOO_LARGE: return FLYQ_WIRE_MESSAGE_TOO_LARGE;
  case FLYQ_ERR_UNSUPPORTED: return FLYQ_WIRE_UNSUPPORTED_COMPRESSION_TYPE;
  case FLYQ_ERR_LIMIT: return FLYQ_WIRE_LIMIT_EXCEEDED;
  case -ENOSPC:
  case -EIO:
  case -EDQUOT:
  case -EROFS: return FLYQ_WIRE_STORAGE_ERROR;
  case FLYQ_ERR_DENIED: return FLYQ_WIRE_TOPIC_AUTHORIZATION_FAILED;
  case FLYQ_ERR_AUTH: return FLYQ_WIRE_AUTHENTICATION_FAILED;
  case FLYQ_ERR_PLUGIN: return FLYQ_WIRE_PLUGIN_ERROR;
  case FLYQ_ERR_TIMEOUT: return FLYQ_WIRE_REQUEST_TIMED_OUT;
  case FLYQ_ERR_INVALID_ARG:
  case FLYQ_ERR_PROTOCOL: return FLYQ_WIRE_INVALID_REQUEST;
  case FLYQ_ERR_CONFIG: return FLYQ_WIRE_INVALID_CONFIG;
  }
  return FLYQ_WIRE_UNKNOWN_SERVER_ERROR;
}

int flyq_wire_error_to_err(int16_t code) {
  switch (code) {
  case FLYQ_WIRE_NONE: return 0;
  case FLYQ_WIRE_OFFSET_OUT_OF_RANGE: return FLYQ_ERR_OFFSET_OUT_OF_RANGE;
  case FLYQ_WIRE_CORRUPT_MESSAGE:
  case FLYQ_WIRE_INVALID_RECORD: return FLYQ_ERR_CORRUPT;
  case FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION: return FLYQ_ERR_UNKNOWN_TOPIC;
  case FLYQ_WIRE_REQUEST_TIMED_OUT: return FLYQ_ERR_TIMEOUT;
  case FLYQ_WIRE_MESSAGE_TOO_LARGE: return FLYQ_ERR_TOO_LARGE;
  case FLYQ_WIRE_INVALID_TOPIC: return FLYQ_ERR_INVALID_NAME;
  case FLYQ_WIRE_TOPIC_AUTHORIZATION_FAILED:
  case FLYQ_WIRE_GROUP_AUTHORIZATION_FAILED:
  case FLYQ_WIRE_CLUSTER_AUTHORIZATION_FAILED: return FLYQ_ERR_DENIED;
  case FLYQ_WIRE_UNSUPPORTED_SASL_MECHANISM:
  case FLYQ_WIRE_AUTHENTICATION_FAILED: return FLYQ_ERR_AUTH;
  case FLYQ_WIRE_UNSUPPORTED_VERSION:
  case FLYQ_WIRE_UNSUPPORTED_COMPRESSION_TYPE: return FLYQ_ERR_UNSUPPORTED;
  case FLYQ_WIRE_TOPIC_ALREADY_EXISTS: return FLYQ_ERR_TOPIC_EXISTS;
  case FLYQ_WIRE_INVALID_PARTITIONS: return FLYQ_ERR_INVALID_ARG;
  case FLYQ_WIRE_INVALID_CONFIG: return FLYQ_ERR_CONFIG;
  case FLYQ_WIRE_INVALID_REQUEST: return FLYQ_ERR_PROTOCOL;
  case FLYQ_WIRE_STORAGE_ERROR: return -EIO;
  case FLYQ_WIRE_GROUP_ID_NOT_FOUND: return FLYQ_ERR_NOT_FOUND;
  case FLYQ_WIRE_LIMIT_EXCEEDED: return FLYQ_ERR_LIMIT;
  case FLYQ_WIRE_PLUGIN_ERROR: return FLYQ_ERR_PLUGIN;
  }
  return FLYQ_ERR_PROTOCOL;
}
