/* flyq-hostile: the hostile clients of spec/functional/hostile_spec.lua
 * (docs/reliability.md, "Hostile clients"). Each mode runs one attack
 * against a broker and prints one JSON object describing what the broker
 * did (frames it sent, when it closed, its RSS); the spec decides whether
 * that is right.
 *
 *   flyq-hostile MODE --addr 127.0.0.1:PORT [--pid BROKER_PID] [options]
 *
 *   idle       --count N [--wave W] [--hold-ms T] [--probe]
 *              N connections opened W at a time (250), each served one
 *              ApiVersions request, held idle for T ms; --probe then opens
 *              one more and reports what it receives until the broker
 *              closes it. They close W at a time, 10 ms apart.
 *   slowloris  --count N [--trickle-ms T] [--timeout-ms T]
 *              partial frames that never complete, some trickled a byte
 *              at a time; reports each connection's frames and close.
 *   bigframe   --count N   frames claiming absurd sizes (2 GiB and more,
 *              negative, too small) followed by junk.
 *   noread     --count C --requests R --topic T [--max-bytes B]
 *              [--hold-ms T]   C connections pipelining R fetches each and
 *              never reading a response.
 *   flood      --count N [--conns K]   N pipelined requests with unknown
 *              API keys or versions over K connections, all answers read.
 *   random     --bytes B [--conns K] [--seed S] [--max-write W]
 *              B bytes of seeded PRNG output in random-sized writes over K
 *              connections, reconnecting whenever the broker closes one.
 *
 * --pid adds the broker's VmRSS (KiB) before, at the peak and after.
 * Exit status: 0 when the attack ran and printed its report, whatever the
 * broker did (idle counts the connections that failed in the report); 1
 * when it could not run (a connection failed, out of memory); 2 for a
 * usage error.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

void hq_json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
    else if (ch < 0x20 || ch >= 0x7f) fprintf(f, "\\u%04x", ch);
    else fputc(ch, f);
  }
  fputc('"', f);
}

/* "frames":N,"kept":[{"corr":..,"code":..,"msg":".."},...] */
void hq_json_frames(FILE *f, const hq_conn_t *c) {
  fprintf(f, "\"frames\":%ld,\"bad_frames\":%ld,\"kept\":[", c->frames,
          c->bad_frames);
  for (long i = 0; i < c->frames && i < HQ_MAX_FRAMES_KEPT; i++) {
    fprintf(f, "%s{\"corr\":%d,\"code\":%d,\"msg\":", i ? "," : "",
            c->kept[i].corr, c->kept[i].code);
    hq_json_string(f, c->kept[i].msg);
    fputc('}', f);
  }
  fputc(']', f);
}

void hq_json_rss(FILE *f, const hq_rss_t *r) {
  fprintf(f, "\"rss_before_kb\":%ld,\"rss_peak_kb\":%ld,\"rss_after_kb\":%ld",
          r->before, r->peak, r->after);
}

static const struct {
  const char *name;
  int (*run)(const hq_opts_t *o);
} modes[] = {{"idle", hq_mode_idle},       {"slowloris", hq_mode_slowloris},
             {"bigframe", hq_mode_bigframe}, {"noread", hq_mode_noread},
             {"flood", hq_mode_flood},     {"random", hq_mode_random}};

static int parse_addr(const char *s, struct sockaddr_in *a) {
  char host[64];
  const char *colon = strrchr(s, ':');
  if (colon == NULL || (size_t)(colon - s) >= sizeof host) return -1;
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = '\0';
  long port = strtol(colon + 1, NULL, 10);
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  return port > 0 && port < 65536 && inet_pton(AF_INET, host, &a->sin_addr) == 1
             ? 0
             : -1;
}

enum { O_ADDR = 0x100, O_PID, O_COUNT, O_CONNS, O_REQUESTS, O_HOLD,
       O_TIMEOUT, O_TRICKLE, O_WAVE, O_MAXB, O_BYTES, O_MAXW, O_SEED,
       O_TOPIC, O_PROBE };

static long *number_field(hq_opts_t *o, int opt) {
  switch (opt) {
  case O_COUNT: return &o->count;
  case O_CONNS: return &o->conns;
  case O_REQUESTS: return &o->requests;
  case O_HOLD: return &o->hold_ms;
  case O_TIMEOUT: return &o->timeout_ms;
  case O_TRICKLE: return &o->trickle_ms;
  case O_WAVE: return &o->wave;
  case O_MAXB: return &o->max_bytes;
  case O_BYTES: return &o->bytes;
  case O_MAXW: return &o->max_write;
  default: return NULL;
  }
}

static int parse_one(hq_opts_t *o, int opt, const char *arg) {
  long *field = number_field(o, opt);
  char *end;
  if (field) {
    *field = strtol(arg, &end, 10);
    return *end == '\0' && *field >= 0 ? 0 : -1;
  }
  switch (opt) {
  case O_ADDR: return parse_addr(arg, &o->addr);
  case O_PID: o->pid = (pid_t)strtol(arg, NULL, 10); return 0;
  case O_SEED: o->seed = strtoull(arg, NULL, 10); return 0;
  case O_TOPIC: o->topic = arg; return 0;
  case O_PROBE: o->probe = 1; return 0;
  default: return -1;
  }
}

static int parse(int argc, char **argv, hq_opts_t *o) {
  static const struct option longopts[] = {
      {"addr", 1, 0, O_ADDR},       {"pid", 1, 0, O_PID},
      {"count", 1, 0, O_COUNT},     {"conns", 1, 0, O_CONNS},
      {"requests", 1, 0, O_REQUESTS}, {"hold-ms", 1, 0, O_HOLD},
      {"timeout-ms", 1, 0, O_TIMEOUT}, {"trickle-ms", 1, 0, O_TRICKLE},
      {"wave", 1, 0, O_WAVE},       {"max-bytes", 1, 0, O_MAXB},
      {"bytes", 1, 0, O_BYTES},     {"max-write", 1, 0, O_MAXW},
      {"seed", 1, 0, O_SEED},       {"topic", 1, 0, O_TOPIC},
      {"probe", 0, 0, O_PROBE},     {0, 0, 0, 0}};
  int opt;
  *o = (hq_opts_t){.count = 100, .conns = 4, .requests = 1000, .wave = 250,
                   .timeout_ms = 10000, .trickle_ms = 100,
                   .max_bytes = 4 << 20, .bytes = 4 << 20,
                   .max_write = 64 << 10, .seed = 1};
  if (argc < 2) return -1;
  o->mode = argv[1];
  while ((opt = getopt_long(argc - 1, argv + 1, "", longopts, NULL)) != -1)
    if (parse_one(o, opt, optarg) < 0) return -1;
  return optind == argc - 1 && o->addr.sin_port != 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  hq_opts_t o;
  if (parse(argc, argv, &o) < 0) {
    fputs("usage: flyq-hostile idle|slowloris|bigframe|noread|flood|random\n"
          "         --addr 127.0.0.1:PORT [--pid PID] [options]\n"
          "(see the comment at the top of spec/tools/hostile.c)\n",
          stderr);
    return 2;
  }
  hq_raise_nofile();
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    if (strcmp(o.mode, modes[i].name) != 0) continue;
    int rc = modes[i].run(&o);
    if (rc < 0) fprintf(stderr, "flyq-hostile %s: %s\n", o.mode, strerror(-rc));
    return rc < 0 ? 1 : 0;
  }
  fprintf(stderr, "flyq-hostile: unknown mode '%s'\n", o.mode);
  return 2;
}
