/* The broker's configuration, as loaded from a Lua config file (see
 * docs/config.md) or built from defaults. Loading lives in src/host/ (the Lua
 * host); every other layer only reads this plain struct.
 */
#ifndef FLYQ_CONFIG_H
#define FLYQ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "flyq/log.h"

/* What a failing plugin hook does to a record (a topic's `on_error`). */
enum {
  FLYQ_ON_ERROR_REJECT = 0,     /* the whole request fails (the default) */
  FLYQ_ON_ERROR_PASS = 1,       /* the record goes on unchanged */
  FLYQ_ON_ERROR_DEAD_LETTER = 2 /* the original record goes to <topic>.dlq */
};

/* A plugin named in the config: the file <name>.lua on plugin_path with its
 * params, or (partitioner only) an inline function of the config file. */
typedef struct flyq_config_plugin {
  char *name;   /* "key_hash", "redact"; NULL for an inline function */
  char *params; /* a JSON object ("{}" without params); NULL when inline */
  int inline_fn; /* 1: the function topics.<topic>.partitioner of the file
                    (cfg->source), re-run by the plugin runtime */
  char *path;    /* where the file wrote it, as the schema writes key paths
                    ("topics[\"a-b\"].on_produce[2]", "auth"); NULL (a
                    config built in C) for messages without a key path */
  int first_line; /* inline: the lines of cfg->source that hold the function */
  int last_line;  /* (Lua's linedefined, lastlinedefined); 0 when its value
                     may depend on other lines too (it reads a local of the
                     file) or it is not the file's own code */
} flyq_config_plugin_t;

/* One topic declared in the config file. */
typedef struct flyq_config_topic {
  char *name;
  int32_t partitions;
  flyq_log_config_t log; /* the defaults with this topic's overrides */
  flyq_config_plugin_t partitioner; /* name NULL and not inline: default */
  flyq_config_plugin_t *on_produce; /* hooks in order, owned */
  size_t non_produce;
  flyq_config_plugin_t *on_consume; /* hooks every consumer goes through */
  size_t non_consume;
  int on_error; /* FLYQ_ON_ERROR_*; REJECT */
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
  int prune; /* `config apply` deletes topics the file does not declare; 0 */
  char **plugin_path;          /* directories searched for <name>.lua */
  size_t nplugin_path;
  int64_t plugin_instructions; /* per hook call; 0: not counted */
  int64_t plugin_time_ms;      /* CPU time per hook call; 10 */
  uint64_t plugin_memory;      /* per plugin Lua state; 64 MiB */
  flyq_config_plugin_t *auth;  /* authenticate/authorize plugins, in order */
  size_t nauth;
  char *path;        /* the file loaded, NULL for the defaults */
  char *source;      /* its text (for inline functions), NULL for defaults */
  size_t source_len;
} flyq_config_t;

/* Fills cfg with the defaults above (strings are malloc'd). Returns 0 or
 * -ENOMEM (cfg then owns nothing). */
int flyq_config_init(flyq_config_t *cfg);

/* Loads the Lua config file at path: cfg (initialised, and owned by the
 * caller) is replaced by the defaults with the file's settings applied.
 * The file runs in a sandbox (docs/config.md). On error cfg is unchanged,
 * err (may be NULL) receives one line, either "FILE: key.path: reason" for
 * a value the schema rejects or "FILE:LINE: reason" for an error in the
 * Lua code, and the result is FLYQ_ERR_CONFIG (bad content), FLYQ_ERR_LIMIT
 * (the file used more than the sandbox's memory or instruction limit) or
 * -errno (the file cannot be read). */
int flyq_config_load(flyq_config_t *cfg, const char *path, char *err,
                     size_t errlen);

/* Loads config text (len bytes of Lua source, e.g. received by ConfigApply)
 * exactly as flyq_config_load loads a file: name (NULL: "config") stands
 * for the file name, in error messages and in cfg->path. The text is
 * copied. Errors as for flyq_config_load, plus FLYQ_ERR_CONFIG for text
 * over the 4 MiB a file may have and FLYQ_ERR_INVALID_ARG for NULL text
 * with len > 0. */
int flyq_config_load_string(flyq_config_t *cfg, const char *text, size_t len,
                            const char *name, char *err, size_t errlen);

/* Reads text, the value of topic setting key ("retention.ms",
 * "segment.bytes", "flush.ms", ...: `flyq topic create --config KEY=TEXT`),
 * by the config file's rules (docs/config.md, "Units": "1h", "256MiB",
 * digits, -1 where allowed) into *out. Returns 0; FLYQ_ERR_NOT_FOUND for a
 * key that is not a topic setting (*out untouched); FLYQ_ERR_CONFIG for a
 * bad value, with "KEY: reason" in err (may be NULL); or -ENOMEM. */
int flyq_config_topic_setting(const char *key, const char *text, int64_t *out,
                              char *err, size_t errlen);

/* Frees everything cfg owns (not cfg itself) and zeroes it; safe to call
 * twice. */
void flyq_config_free(flyq_config_t *cfg);

#endif /* FLYQ_CONFIG_H */
