/* Prints the values of a FlyQ topic partition, one per line.
 *
 *   examples/consume 127.0.0.1:7500 orders [partition] [-f]
 *
 * It starts at the earliest offset and stops once it has caught up with
 * the high watermark, or with -f keeps waiting for new records (long
 * polling: each fetch waits up to max_wait_ms for data on the broker).
 * With FLYQ_TOKEN set it first authenticates with that token (mechanism
 * "token", as `flyq --token`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/client.h"

/* Authenticates with $FLYQ_TOKEN when it is set (mechanism "token"); 0 or
 * the client's error code (flyq_client_errmsg says why). */
static int login(flyq_client_t *c) {
  const char *token = getenv("FLYQ_TOKEN");
  if (token == NULL || token[0] == '\0') return 0;
  return flyq_client_authenticate(c, "token", token, strlen(token), NULL);
}

/* Called once per record; rec points into the client's buffer. */
static int print_record(flyq_client_t *c, const flyq_record_t *rec,
                        void *arg) {
  (void)c;
  (void)arg;
  if (rec->value_len > 0) fwrite(rec->value, 1, (size_t)rec->value_len, stdout);
  putchar('\n');
  return 0; /* go on; return > 0 to stop */
}

int main(int argc, char **argv) {
  flyq_client_t *c;
  flyq_consume_options_t opts;
  int follow = argc > 3 && strcmp(argv[argc - 1], "-f") == 0;
  int32_t partition = argc > 3 + follow ? atoi(argv[3]) : 0;
  int64_t next = 0;
  int r;
  if (argc < 3) {
    fprintf(stderr, "usage: %s HOST:PORT TOPIC [PARTITION] [-f]\n", argv[0]);
    return 2;
  }
  if (flyq_client_new(NULL, &c) != 0) return 1;
  if (flyq_client_connect(c, argv[1], 5000) != 0 || login(c) != 0) {
    fprintf(stderr, "consume: %s\n", flyq_client_errmsg(c));
    flyq_client_close(c);
    return 1;
  }
  flyq_consume_options_init(&opts);
  opts.stop_at_end = !follow;
  r = flyq_client_consume(c, argv[2], partition, FLYQ_OFFSET_EARLIEST, &opts,
                          print_record, NULL, &next);
  if (r != 0) fprintf(stderr, "consume: %s\n", flyq_client_errmsg(c));
  else fprintf(stderr, "next offset %lld\n", (long long)next);
  flyq_client_close(c);
  return r == 0 ? 0 : 1;
}
