/* Internals of `flyq bench` shared by bench.c (command line, planning,
 * report) and bench_run.c (the connection threads): what a run is asked
 * to do and what each connection measured.
 */
#ifndef FLYQ_CLI_BENCH_H
#define FLYQ_CLI_BENCH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"

#define FLYQ_BENCH_FETCH_BYTES (4 * 1024 * 1024) /* consume: per fetch */
/* Produce requests in flight per connection: the default (the Java
 * producer's max.in.flight.requests.per.connection) and the largest
 * --inflight. */
#define FLYQ_BENCH_INFLIGHT 5
#define FLYQ_BENCH_INFLIGHT_MAX 1024

typedef struct flyq__bench_range {
  int32_t partition;
  int64_t from, to; /* offsets [from, to) */
} flyq__bench_range_t;

typedef struct flyq__bench flyq__bench_t;

/* One connection's thread: its share of the work and what it measured. */
typedef struct flyq__bench_worker {
  flyq__bench_t *b;
  pthread_t thread;
  flyq__cli_t cli;
  int32_t partition;           /* produce */
  int64_t count;               /* produce: messages to send */
  double rate;                 /* produce: msgs/s, 0 = unpaced */
  flyq__bench_range_t *ranges; /* consume: what to read, in order */
  size_t nranges;
  int64_t msgs, bytes, errors;
  int64_t *lat_ns; /* one per request or fetch */
  size_t nlat, lat_cap;
  char err[512]; /* the first error */
} flyq__bench_worker_t;

/* One `flyq bench` run: the flags, the workers, the timing. */
struct flyq__bench {
  flyq__cli_t cli;
  int consume;
  const char *topic;
  int64_t count, size, batch, rate, inflight;
  int acks, json;
  int64_t connections;
  flyq__bench_worker_t *workers;
  pthread_barrier_t ready; /* every worker connected (or failed) */
  pthread_barrier_t go;    /* start_ns is set: the workers' common start */
  int64_t start_ns, end_ns;
};

/* Starts one thread per connection (each connects with its own client),
 * waits until every one is connected, then times them until the last one
 * finishes (b->start_ns, b->end_ns). A connection that fails counts as an
 * error of its worker. Returns 0 or 1 (no thread could be started). */
int flyq__bench_run(flyq__bench_t *b);

#endif /* FLYQ_CLI_BENCH_H */
