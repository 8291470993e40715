/* The broker's configuration, as loaded from a Lua config file (see
 * docs/config.md) or built from defaults. Loading lives in src/host/ (the Lua
 * host); every other layer only reads this plain struct.
 */
#ifndef FLYQ_CONFIG_H
#define FLYQ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "flyq/log.h"

/* One topic declared in the config file. */
typedef struct flyq_config_topic {
  char *name;
  int32_t partitions;
  flyq_log_config_t log; /* the defaults with this topic's overrides */
} flyq_config_topic_t;

typedef struct flyq_config {
  char *listen;      /* "host:port" of the native protocol; "127.0.0.1:7500" */
  char *http;        /* "host:port" of the HTTP API; "127.0.0.1:7501" */
  char *data_dir;    /* "./data" */
  int log_level;     /* FLYQ_LOG_* (include/flyq/logmsg.h); INFO */
  int allow_anonymous; /* allow a non-loopback listen without auth; 0 */
  int auto_create_topics; /* create unknown topics on produce; 1 */
  int32_t default_partitions; /* for auto-created topics; 1 */
  flyq_log_config_t log;      /* defaults for every topic */
  int64_t groups_flush_interval_ms; /* group offsets flush period; 1000 */
  int64_t retention_check_interval_ms; /* 60000 */
  uint32_t max_frame_bytes;   /* 16 MiB */
  uint32_t max_connections;   /* 10000 */
  uint32_t max_inflight;      /* per connection; 256 */
  uint64_t max_output_bytes;  /* per connection; 64 MiB */
  int64_t request_timeout_ms; /* incomplete-frame timeout; 30000 */
  uint32_t max_topics;        /* 10000 */
  int64_t shutdown_timeout_ms; /* bound on graceful shutdown; 10000 */
  flyq_config_topic_t *topics; /* declared topics, owned */
  size_t ntopics;
} flyq_config_t;

/* Fills cfg with the defaults above (strings are malloc'd). */
int flyq_config_init(flyq_config_t *cfg);

/* Loads a Lua config file over the defaults. On error returns a negative
 * code and writes "file:line: key.path: reason" into err. cfg is left with
 * the defaults on error. */
int flyq_config_load(flyq_config_t *cfg, const char *path, char *err,
                     size_t errlen);

/* Frees everything cfg owns (not cfg itself). */
void flyq_config_free(flyq_config_t *cfg);

#endif /* FLYQ_CONFIG_H */
