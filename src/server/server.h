/* The native protocol server: the listener of docs/protocol.md. It puts the
 * network layer (src/net: connections, frames, limits), the wire codec
 * (include/flyq/proto.h) and the broker (include/flyq/broker.h) together:
 * each frame is decoded, turned into broker calls, and the result encoded
 * and sent back, in request order per connection.
 *
 * Everything runs on the broker's loop thread.
 */
#ifndef FLYQ_SERVER_H
#define FLYQ_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "flyq/broker.h"
#include "flyq/config.h"
#include "flyq/plugins.h"

typedef struct flyq_server flyq_server_t;

/* Listens on cfg->listen with the limits of cfg (max_frame_bytes,
 * max_connections, max_inflight, max_output_bytes, request_timeout_ms)
 * and serves broker, which must not be closed before flyq_server_close()
 * was called (right after it is fine: see there). cfg is read during the
 * call only. Returns 0, FLYQ_ERR_INVALID_ARG (bad address), -ENOMEM or a
 * UV_E* code such as UV_EADDRINUSE; on error *out is untouched and the
 * handles made so far close when the loop next runs. */
int flyq_server_start(uv_loop_t *loop, flyq_broker_t *broker,
                      const flyq_config_t *cfg, flyq_server_t **out);

/* The bound address (the real port when port 0 was asked). host receives
 * the numeric address without brackets. Returns 0 or a UV_E* code. */
int flyq_server_address(const flyq_server_t *s, char *host, size_t hostlen,
                        int *port);

/* Open client connections. */
size_t flyq_server_connections(const flyq_server_t *s);

/* Puts the plugin runtime rt (NULL: none) in force for every request from
 * now on and returns the one it replaces, which the caller may free at
 * once: hooks run only inside server calls on the loop thread, never
 * across them. rt is not owned and must stay valid until it is replaced or
 * the close callback of flyq_server_close() ran (fetches answered while the
 * server closes still go through its on_consume hooks). The server also
 * becomes the broker's partitioner (flyq_broker_set_partitioner) from
 * flyq_server_start until flyq_server_close. */
flyq_plugins_t *flyq_server_set_plugins(flyq_server_t *s, flyq_plugins_t *rt);

typedef void (*flyq_server_close_cb)(void *arg);

/* Stops accepting at once; connections stop reading, finish the requests
 * they are running and send their responses, then close; after timeout_ms
 * the rest are closed at once. Call flyq_broker_close() right after it:
 * the broker answers parked fetches and waiting produces as it closes,
 * and the server makes no broker call it has not already started. Once
 * every connection is closed the server is freed and cb (may be NULL)
 * runs from the loop. Requests whose connection closed while the broker
 * still ran them are freed when the broker answers them (at the latest
 * when it closes). A second call does nothing. */
void flyq_server_close(flyq_server_t *s, int64_t timeout_ms,
                       flyq_server_close_cb cb, void *arg);

#endif /* FLYQ_SERVER_H */
