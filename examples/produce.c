/* Produces one record per line of standard input to a FlyQ topic.
 *
 *   examples/produce 127.0.0.1:7500 orders [partition] < lines
 *
 * It uses the client's batching sender: flyq_client_send() adds each line
 * to a batch per partition, full batches are sent pipelined while reading
 * goes on, and flyq_client_send_flush() sends the rest and waits until the
 * broker acknowledged everything. With FLYQ_TOKEN set it first
 * authenticates with that token (mechanism "token", as `flyq --token`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "flyq/client.h"

/* Authenticates with $FLYQ_TOKEN when it is set (mechanism "token"); 0 or
 * the client's error code (flyq_client_errmsg says why). */
static int login(flyq_client_t *c) {
  const char *token = getenv("FLYQ_TOKEN");
  if (token == NULL || token[0] == '\0') return 0;
  return flyq_client_authenticate(c, "token", token, strlen(token), NULL);
}

int main(int argc, char **argv) {
  flyq_client_t *c;
  char *line = NULL;
  size_t cap = 0, count = 0;
  ssize_t n;
  int32_t partition = argc > 3 ? atoi(argv[3]) : 0;
  int64_t t0;
  int r;
  if (argc < 3) {
    fprintf(stderr, "usage: %s HOST:PORT TOPIC [PARTITION] < lines\n",
            argv[0]);
    return 2;
  }
  /* NULL options: defaults (acks=1, 1 MiB batches, 5 requests in flight). */
  if (flyq_client_new(NULL, &c) != 0) return 1;
  if (flyq_client_connect(c, argv[1], 5000) != 0 || login(c) != 0) {
    fprintf(stderr, "produce: %s\n", flyq_client_errmsg(c));
    flyq_client_close(c);
    return 1;
  }
  t0 = flyq_now_ms();
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    if (n > 0 && line[n - 1] == '\n') n--; /* the value is the line */
    r = flyq_client_send(c, argv[2], partition, NULL, 0, line, (int32_t)n,
                         NULL, 0);
    if (r != 0) break;
    count++;
  }
  free(line);
  /* Send the last partial batch and wait for every acknowledgement. */
  r = flyq_client_send_flush(c, -1);
  if (r != 0) fprintf(stderr, "produce: %s\n", flyq_client_errmsg(c));
  else
    fprintf(stderr, "produced %zu records in %lld ms\n", count,
            (long long)(flyq_now_ms() - t0));
  flyq_client_close(c);
  return r == 0 ? 0 : 1;
}
