/* Raw frame access for hostile-input tests and tools: write arbitrary
 * bytes, read one response frame without interpreting it. Both refuse to
 * run while requests are in flight, so they cannot steal a response.
 */
#include <string.h>

#include "client/client_int.h"

static int raw_begin(flyq_client_t *c) {
  int r = flyq__client_begin(c, 1);
  if (r == 0 && c->rcount > 0)
    r = flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0,
                          "raw frames while %zu requests are in flight",
                          c->rcount);
  return r;
}

static int all_written(flyq_client_t *c, void *arg) {
  (void)arg;
  return c->out_sent == c->out.len;
}

static int frame_ready(flyq_client_t *c, void *arg) {
  (void)arg;
  return c->sync.done;
}

int flyq_client_send_raw(flyq_client_t *c, const void *bytes, size_t len) {
  int r = raw_begin(c);
  if (r < 0) return r;
  flyq_buf_put_raw(&c->out, bytes, len);
  if (c->out.err != 0) {
    r = c->out.err;
    flyq_buf_truncate(&c->out, c->out.len);
    return flyq__client_fail(c, r, 0, "send_raw: %s", flyq_strerror(r));
  }
  r = flyq__pump(c, flyq__mono_ms() + c->opts.request_timeout_ms,
                 all_written, NULL);
  if (r == FLYQ_ERR_TIMEOUT)
    return flyq__client_lose(c, r, 0, "send_raw: write timed out");
  return r;
}

int flyq_client_recv_frame(flyq_client_t *c, int timeout_ms,
                           const uint8_t **payload, size_t *len) {
  int64_t deadline = timeout_ms < 0 ? -1 : flyq__mono_ms() + timeout_ms;
  int r = raw_begin(c);
  if (r < 0) return r;
  memset(&c->sync, 0, sizeof(c->sync));
  c->raw_frames = 1;
  r = flyq__pump(c, deadline, frame_ready, NULL);
  c->raw_frames = 0;
  if (r == FLYQ_ERR_TIMEOUT)
    return flyq__client_fail(c, r, 0, "no frame within %d ms", timeout_ms);
  if (r < 0) return r;
  *payload = c->sync.payload;
  *len = c->sync.len;
  return 0;
}
