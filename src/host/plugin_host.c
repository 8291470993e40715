/* The host functions of the Lua driver (lua/flyq/runtime.lua): what the
 * driver calls between hooks to get records (as proxies, plugin_record.c),
 * hand back results, run a record protected, and report a failed record,
 * which applies the call's on_error. All of them work on the call attached
 * to the instance by flyq__plugin_run.
 *
 * The fast loop makes no C call for a record whose hook returns it: fill
 * hands a chunk of records the next slots of the ring (their proxies,
 * already in one of the driver's slices), the driver calls the hook on
 * each (the record's slot, j0 + k, is what the watchdog and error
 * messages go by, see plugin.c), and a record that comes back as itself
 * is settled later, in order: settle(j) passes on the kept records before
 * the one in slot j when j's hook returned something else, and finish()
 * the rest once the loop is over. A chunk that starts a slice may go to a
 * chunk runner, which calls the hook on every record of the chunk with no
 * check in between; check() then finds the first record that did not come
 * back as itself, from which on the driver settles as in its loop.
 */
#include <errno.h>
#include <lauxlib.h>
#include <string.h>

#include "host/plugin.h"
#include "host/sandbox.h"

static flyq__call_t *call_of(lua_State *L) {
  flyq__call_t *c = flyq__plugin_of(L)->call;
  if (c == NULL) luaL_error(L, "no call is running");
  return c;
}

/* record(i) -> a proxy of input record i (1-based), for the slow loop
 * (every record settled through emit or fail); starts the record's
 * budget. */
static int host_record(lua_State *L) {
  flyq__plugin_t *p = flyq__plugin_of(L);
  flyq__call_t *c = call_of(L);
  lua_Integer i = luaL_checkinteger(L, 1);
  if (i < 1 || (size_t)i > c->nin) luaL_error(L, "record %d out of range", (int)i);
  c->cur = (size_t)i - 1;
  flyq__call_count(p, c, c->cur + 1);
  p->progress++;
  flyq__plugin_budget(p);
  flyq__record_new(L, p, c->cur);
  return 1;
}

/* How many of the n records left a chunk runner takes, or 0 when they go
 * to the loop. A runner reads no answer before the hook has run on its
 * whole chunk, so it needs a call that fails as a whole at an error
 * (under on_error pass or dead_letter each record's answer must be known
 * before the next call) and a hook that returns its record or nothing
 * (p->chunked), since a table it returned (a new record, a list) could be
 * changed by its later calls before being read, where a record it
 * returned is read that late anyway (kept records are settled later);
 * and the call must not have failed to make a runner (push_runner). It
 * takes a whole slice, or at the end of the call the largest power of two
 * that fits, down to FLYQ__RUN_MIN: a batch of 1000 records runs as 7
 * slices, then chunks of 64, 32 and 8; one of 300 as 2 slices, 32 and 8,
 * and its last 4 records in the loop. */
static size_t run_size(const flyq__plugin_t *p, const flyq__call_t *c,
                       size_t n) {
  unsigned hook = c->consume ? FLYQ__HOOK_ON_CONSUME : FLYQ__HOOK_ON_PRODUCE;
  size_t m = FLYQ__SLICE;
  if (c->no_runner || c->on_error != FLYQ_ON_ERROR_REJECT ||
      !(p->chunked & hook))
    return 0;
  while (m > n) m /= 2;
  return m >= FLYQ__RUN_MIN ? m : 0;
}

/* The index in p->runner_ref of the runner for chunks of m records. */
static int runner_index(size_t m) {
  int i = 0;
  while ((size_t)(FLYQ__SLICE >> i) > m) i++;
  return i;
}

/* make_runner(p, bare, m) -> the chunk runner for m records and a hook
 * called with the record alone (bare) or with ctx too: a function(check,
 * hook, s, j0, ctx) that returns check(j0, hook(s[1], ctx), ...,
 * hook(s[m], ctx)), one result a call, the call for s[k] on line k,
 * registered as a driver that counts by line (flyq__lua_set_calls) and
 * kept in p->runner_ref. Its text is made here, not in Lua: near a
 * plugin's memory cap, Lua's own allocations collect and try again, where
 * a luaL_Buffer's fail at once. Runs protected (push_runner). */
static int make_runner(lua_State *L) {
  static const char head[] = "local check, hook, s, j0, ctx = ... "
                             "return check(j0, ";
  flyq__plugin_t *p = lua_touserdata(L, 1);
  int bare = lua_toboolean(L, 2);
  int m = (int)lua_tointeger(L, 3);
  const char *call = bare ? "(hook(s[%d]))%s" : "(hook(s[%d], ctx))%s";
  char text[sizeof head + FLYQ__SLICE * 32];
  size_t n = sizeof head - 1;
  memcpy(text, head, n);
  for (int k = 1; k <= m; k++)
    n += (size_t)snprintf(text + n, sizeof text - n, call, k,
                          k < m ? ",\n" : ")");
  if (p->answers_ref == LUA_NOREF) { /* check()'s, for every runner */
    lua_createtable(L, FLYQ__SLICE, 0);
    p->answers_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  if (luaL_loadbufferx(L, text, n, "@lua/flyq/runner", "t") != LUA_OK)
    lua_error(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->loop_ref);
  lua_pushvalue(L, -2);
  lua_pushliteral(L, "line");
  lua_rawset(L, -3);
  lua_pop(L, 1);
  lua_pushvalue(L, -1);
  p->runner_ref[runner_index((size_t)m)][bare] =
      luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

/* Pushes the chunk runner for m records (make_runner), made at its first
 * use, or false when a plugin near its memory cap cannot make it or grow
 * its Lua stack for the runner's frame (a chunk's results at once, which
 * the loop does not need): the call's chunks then go through the loop. */
static void push_runner(lua_State *L, flyq__plugin_t *p, flyq__call_t *c,
                        int bare, size_t m) {
  int ref = p->runner_ref[runner_index(m)][bare];
  /* The runner's frame (m results and its locals), run_chunk's below it,
   * the hook's above, and what the hook's calls into C push: a slice's
   * worth of room besides the results, as for the biggest runner. Growing
   * the stack inside the runner would fail the call instead of falling
   * back to the loop. */
  if (!lua_checkstack(L, (int)m + FLYQ__SLICE)) {
    c->no_runner = 1; /* not again in this call */
    lua_pushboolean(L, 0);
  } else if (ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  } else {
    lua_pushcfunction(L, make_runner);
    lua_pushlightuserdata(L, p);
    lua_pushboolean(L, bare);
    lua_pushinteger(L, (lua_Integer)m);
    if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
      c->no_runner = 1;
      lua_pop(L, 1);
      lua_pushboolean(L, 0);
    }
  }
}

/* fill(done, bare) -> s, k1, k2, j0, run: input records done+1 .. (1-based)
 * get the slots j0+k1 .. j0+k2, whose proxies are s[k1..k2] of the slice s
 * (at most a slice; none at the end); run: the chunk runner to call the
 * hook on them (push_runner; bare: the hook is called without ctx), or
 * false when the chunk goes to the loop (run_size). A runner's chunk
 * starts a slice (k1 is 1): the ring moves on to the next one if need be,
 * leaving the slots in between unused, unless that would make the run
 * wrap onto its own slots (flyq__record_align): then the loop takes it. */
static int host_fill(lua_State *L) {
  flyq__plugin_t *p = flyq__plugin_of(L);
  flyq__call_t *c = call_of(L);
  lua_Integer done = luaL_checkinteger(L, 1);
  int bare = lua_toboolean(L, 2);
  size_t left, want, m, first, j0;
  if (done < 0 || (size_t)done > c->nin) luaL_error(L, "fill: bad position");
  left = c->nin - (size_t)done;
  want = run_size(p, c, left);
  if (want > 0 && flyq__record_align(p, left) < 0) want = 0;
  m = flyq__record_slots(L, p, (size_t)done, want > 0 ? want : left, &first);
  j0 = (first - 1) / FLYQ__SLICE * FLYQ__SLICE;
  c->fast = 1;
  c->base = (size_t)done;
  c->chunk_end = (size_t)done + m;
  c->first_slot = first;
  flyq__call_count(p, c, c->chunk_end); /* a restart's are counted */
  p->progress++;
  flyq__record_slice(L, p, j0 / FLYQ__SLICE);
  lua_pushinteger(L, (lua_Integer)(first - j0));
  lua_pushinteger(L, (lua_Integer)(first - j0 + m) - 1);
  lua_pushinteger(L, (lua_Integer)j0);
  if (want > 0 && m == want && first == j0 + 1)
    push_runner(L, p, c, bare, m);
  else
    lua_pushboolean(L, 0);
  return 5;
}

/* check(j0, r1, ..., rn): what a chunk runner's hook calls returned for
 * the slots j0+1 .. j0+n, the chunk fill gave it. Nothing when each came
 * back as itself; else k, rest: rk is the first that did not, and rest
 * holds ri at i for i >= k (the driver settles from there; below k it
 * holds what an earlier chunk left). rest is the one table made with the
 * runners, with room for a slice: check allocates nothing, so that a
 * slice it runs needs no more memory than the loop would. */
static int host_check(lua_State *L) {
  flyq__call_t *c = call_of(L);
  lua_Integer j0 = luaL_checkinteger(L, 1);
  int n = lua_gettop(L) - 1, k = 1;
  if (j0 + 1 != (lua_Integer)c->first_slot ||
      c->base + (size_t)n != c->chunk_end)
    luaL_error(L, "check: not the chunk's results");
  c->ran = c->chunk_end;
  flyq__plugin_of(L)->chunked_calls += (uint64_t)n;
  while (k <= n && (uintptr_t)lua_touserdata(L, k + 1) == (uintptr_t)(j0 + k))
    k++;
  if (k > n) return 0;
  lua_pushinteger(L, k);
  lua_rawgeti(L, LUA_REGISTRYINDEX, flyq__plugin_of(L)->answers_ref);
  for (int i = k; i <= n; i++) {
    lua_pushvalue(L, i + 1);
    lua_rawseti(L, -2, i);
  }
  return 2;
}

/* params(f) -> nparams, isvararg: what function f declares. */
static int host_params(lua_State *L) {
  lua_Debug ar;
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_pushvalue(L, 1);
  lua_getinfo(L, ">u", &ar);
  lua_pushinteger(L, ar.nparams);
  lua_pushboolean(L, ar.isvararg);
  return 2;
}

static void fail_record(lua_State *L, flyq__call_t *c, size_t idx,
                        const char *msg);

/* keep_one(c, idx): pushes input record idx's kept output (protected by
 * settle_resilient's pcall). */
static int keep_one(lua_State *L) {
  flyq__call_t *c = lua_touserdata(L, 1);
  size_t idx = (size_t)lua_tointeger(L, 2);
  flyq__prec_t out;
  flyq__record_keep(L, c, idx, &out);
  if (c->out == NULL || flyq__recs_push(c->out, &out) < 0) {
    c->failed = 1;
    luaL_error(L, "out of memory");
  }
  return 0;
}

/* Passes on kept input record idx under on_error pass or dead_letter: a
 * record that cannot be kept (a bad field its hook assigned) fails alone,
 * and settling goes on. Only records a hook changed pay for the pcall. */
static void settle_resilient(lua_State *L, flyq__call_t *c, size_t idx) {
  char msg[512];
  int r;
  lua_pushcfunction(L, keep_one);
  lua_pushlightuserdata(L, c);
  lua_pushinteger(L, (lua_Integer)idx);
  r = flyq__lua_pcall(L, 2, 0, msg, sizeof msg);
  if (c->failed) luaL_error(L, "out of memory");
  if (r != 0) fail_record(L, c, idx, msg);
}

/* Passes on input records c->next .. end-1, whose hooks returned them. An
 * error here (a bad field a hook assigned) is that record's: while
 * settling, c->cur names it, not the fast loop's counter. Under on_error
 * pass or dead_letter such a record fails alone and nothing is raised. */
static void settle_kept(lua_State *L, flyq__call_t *c, size_t end) {
  flyq__plugin_t *p = flyq__plugin_of(L);
  int resilient = c->on_error != FLYQ_ON_ERROR_REJECT;
  flyq__prec_t out;
  c->settling = 1;
  for (; c->next < end; c->next++) {
    c->cur = c->next;
    if (resilient && !flyq__record_clean(p, c->next)) {
      settle_resilient(L, c, c->next);
      continue;
    }
    flyq__record_keep(L, c, c->next, &out);
    if (c->out == NULL || flyq__recs_push(c->out, &out) < 0) {
      c->failed = 1;
      luaL_error(L, "out of memory");
    }
  }
  c->settling = 0;
}

/* settle(j): the record in slot j of the chunk returned something other
 * than itself, which the driver emits next; the records kept before it go
 * first. */
static int host_settle(lua_State *L) {
  flyq__call_t *c = call_of(L);
  lua_Integer j = luaL_checkinteger(L, 1); /* the slot: j0 + k */
  size_t at = (size_t)j - c->first_slot; /* in the chunk, 0-based */
  if (j < (lua_Integer)c->first_slot || c->base + at >= c->nin ||
      c->base + at < c->next)
    luaL_error(L, "settle: bad record");
  if (c->ran < c->base + at + 1) c->ran = c->base + at + 1;
  settle_kept(L, c, c->base + at);
  c->cur = c->base + at;
  c->next = c->cur + 1;
  c->emitting = c->next;
  c->emit_mark = c->out ? c->out->n : 0;
  return 0;
}

/* finish(): the fast loop is over; the records kept since the last
 * settle are passed on, or, when every record came back untouched, the
 * call's output is its input (c->same). */
static int host_finish(lua_State *L) {
  flyq__call_t *c = call_of(L);
  if (c->next == 0 && !flyq__plugin_of(L)->touched) {
    c->same = 1;
    return 0;
  }
  c->ran = c->nin;
  settle_kept(L, c, c->nin);
  return 0;
}

/* emit(record or table): appends it to the call's output. */
static int host_emit(lua_State *L) {
  flyq__call_t *c = call_of(L);
  flyq__prec_t out;
  flyq__record_take(L, c, &out);
  if (c->out == NULL || flyq__recs_push(c->out, &out) < 0) {
    c->failed = 1;
    luaL_error(L, "out of memory");
  }
  return 0;
}

/* protect(f, ...) -> true | false, message, nomem: calls f(...) with a fresh
 * budget; the budget is fresh again afterwards, so that the driver can go
 * on even when f used it all up. A failure counts as a limit hit for the
 * breaker when f met a memory error at the cap on the way, even if f
 * caught that error and raised another one in its place. */
static int host_protect(lua_State *L) {
  flyq__plugin_t *p = flyq__plugin_of(L);
  uint64_t capped = flyq__lua_cap_errors(L);
  char msg[512];
  int r;
  luaL_checktype(L, 1, LUA_TFUNCTION);
  flyq__plugin_budget(p);
  r = flyq__lua_pcall(L, lua_gettop(L) - 1, 0, msg, sizeof msg);
  flyq__plugin_budget(p);
  if (p->call)
    p->call->limit_hit = r == FLYQ_ERR_LIMIT || r == -ENOMEM ||
                         (r != 0 && flyq__lua_cap_errors(L) != capped);
  if (r == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_pushstring(L, msg);
  lua_pushboolean(L, r == -ENOMEM);
  return 3;
}

static int host_mark(lua_State *L) {
  flyq__call_t *c = call_of(L);
  lua_pushinteger(L, c->out ? (lua_Integer)c->out->n : 0);
  return 1;
}

static int host_truncate(lua_State *L) {
  flyq__call_t *c = call_of(L);
  lua_Integer n = luaL_checkinteger(L, 1);
  if (c->out && n >= 0 && (size_t)n <= c->out->n) c->out->n = (size_t)n;
  return 0;
}

/* Removes the headers named flyq.error from h[0..*n). */
static void drop_error_headers(flyq_record_header_t *h, int32_t *n) {
  int32_t kept = 0;
  for (int32_t i = 0; i < *n; i++)
    if (!(h[i].key_len == 10 && memcmp(h[i].key, "flyq.error", 10) == 0))
      h[kept++] = h[i];
  *n = kept;
}

/* The dead letter of orig record r: itself with the header flyq.error
 * last, the broker's only one (a producer's own flyq.error headers are
 * dropped, so that nobody can forge the error a dead letter carries), for
 * the dead-letter topic's partitioner to place (its partitions are not the
 * request's). */
static int dead_letter(flyq__call_t *c, const flyq__prec_t *r,
                       const char *msg) {
  flyq__prec_t d = *r;
  int32_t n;
  size_t len = strlen(msg);
  flyq_record_header_t *h = flyq__prec_headers(c->arena, r, 1, &n);
  char *text = flyq__arena_alloc(c->arena, len);
  if (h == NULL || text == NULL) return -ENOMEM;
  drop_error_headers(h, &n);
  memcpy(text, msg, len);
  h[n] = (flyq_record_header_t){(const uint8_t *)"flyq.error", 10,
                                (const uint8_t *)text, (int32_t)len};
  d.hdrs = h;
  d.nhdrs = n + 1;
  d.changed = 1;
  d.partition = -1;
  return flyq__recs_push(c->dead, &d);
}

/* Input record idx (0-based) failed with msg in a protected run: counts
 * the error and applies on_error (pass: it goes on unchanged;
 * dead_letter: its original goes to the dead letters, once). */
static void fail_record(lua_State *L, flyq__call_t *c, size_t idx,
                        const char *msg) {
  const flyq__prec_t *r = flyq__call_in(c, idx);
  char line[768];
  int rc = 0;
  flyq__plugin_error(flyq__plugin_of(L), c, idx + 1, msg, line, sizeof line);
  c->flags[r->src] |= FLYQ__REC_FAILED;
  if (c->out && (c->on_error == FLYQ_ON_ERROR_PASS || c->dead == NULL))
    rc = flyq__recs_push(c->out, r);
  else if (c->dead && !(c->flags[r->src] & FLYQ__REC_DEAD))
    rc = dead_letter(c, flyq__call_orig(c, r->src), line);
  if (c->dead) c->flags[r->src] |= FLYQ__REC_DEAD;
  if (rc < 0) {
    c->failed = 1;
    luaL_error(L, "out of memory");
  }
}

/* After input record idx failed: when it failed at a limit and that makes
 * FLYQ__LIMIT_TRIP in this call, fails the records after it (which have
 * not run) without running the hook, and returns 1. Every record is then
 * settled: the fast loop's finish() has nothing left to pass on (a memory
 * error's rerun of a chunk leaves next at the chunk's end). */
static int trip(lua_State *L, flyq__call_t *c, size_t idx) {
  char msg[160];
  if (!c->limit_hit || ++c->limit_fails < FLYQ__LIMIT_TRIP) return 0;
  snprintf(msg, sizeof msg,
           "not run: %s hit a plugin limit %d times in this request",
           c->hook, FLYQ__LIMIT_TRIP);
  for (size_t i = idx + 1; i < c->nin; i++) fail_record(L, c, i, msg);
  c->next = c->nin;
  c->emitting = 0;
  return 1;
}

/* fail(i, message) -> done: record i failed in a protected run
 * (fail_record); done is true when that tripped the limit breaker, and
 * the records after i have failed too. */
static int host_fail(lua_State *L) {
  flyq__call_t *c = call_of(L);
  lua_Integer i = luaL_checkinteger(L, 1);
  if (i < 1 || (size_t)i > c->nin) luaL_error(L, "record %d out of range", (int)i);
  fail_record(L, c, (size_t)i - 1, luaL_checkstring(L, 2));
  lua_pushboolean(L, trip(L, c, (size_t)i - 1));
  return 1;
}

/* recover()'s answer to a failure that names no record (a memory error):
 * the kept records of earlier chunks are passed on; the rest of the chunk
 * runs again record by record: from the record after the last one passed
 * on, or from the last record whose answer was being emitted when it may
 * have been cut short (its emits undone). Their proxies start afresh. */
static int recover_unnamed(lua_State *L, flyq__call_t *c) {
  size_t from = c->next > c->base ? c->next : c->base, end;
  if (c->next < c->base) settle_kept(L, c, c->base); /* earlier chunks */
  if (c->emitting > c->base && c->emitting == c->next) {
    if (c->out) c->out->n = c->emit_mark;
    from = c->emitting - 1;
  }
  flyq__call_uncount(flyq__plugin_of(L), c, from); /* record() counts them */
  end = c->chunk_end > from ? c->chunk_end : from;
  flyq__record_forget(flyq__plugin_of(L), from, end);
  c->next = end;
  c->emitting = 0;
  lua_pushinteger(L, (lua_Integer)from);
  lua_pushinteger(L, (lua_Integer)end);
  return 2;
}

/* recover(message, nomem) -> done | done, upto: the fast loop, run under
 * protect() for on_error pass or dead_letter, failed with message. When
 * the error names its record (the loop's counter), that record fails
 * alone: the records kept before it are passed on, what it emitted is
 * undone, and the loop goes on after it (done: the records handled; all
 * of them when the limit breaker tripped, see trip). A
 * memory error (nomem) names none: records done+1 .. upto are to run
 * again one by one, protected (recover_unnamed). */
static int host_recover(lua_State *L) {
  flyq__plugin_t *p = flyq__plugin_of(L);
  flyq__call_t *c = call_of(L);
  const char *msg = luaL_checkstring(L, 1);
  size_t rec = lua_toboolean(L, 2) ? 0 : flyq__plugin_failed_record(p, c);
  if (c->failed) luaL_error(L, "out of memory");
  if (rec == 0 || rec > c->nin || (rec != c->emitting && rec <= c->next))
    return recover_unnamed(L, c);
  if (c->emitting == rec) { /* it failed in keep(): undo its emits */
    if (c->out) c->out->n = c->emit_mark;
  } else {
    settle_kept(L, c, rec - 1);
  }
  flyq__call_uncount(p, c, rec); /* the rest of the chunk has not run */
  fail_record(L, c, rec - 1, msg);
  if (trip(L, c, rec - 1)) rec = c->nin; /* the rest failed unrun */
  c->next = rec;
  c->emitting = 0;
  lua_pushinteger(L, (lua_Integer)rec);
  return 1;
}

/* set_partition(i, p) */
static int host_set_partition(lua_State *L) {
  flyq__call_t *c = call_of(L);
  lua_Integer i = luaL_checkinteger(L, 1);
  if (c->parts == NULL || i < 1 || (size_t)i > c->nin)
    luaL_error(L, "record %d out of range", (int)i);
  c->parts[i - 1] = (int32_t)luaL_checkinteger(L, 2);
  return 0;
}

void flyq__plugin_host(lua_State *L) {
  flyq__plugin_t *p = flyq__plugin_of(L);
  static const luaL_Reg host[] = {{"record", host_record},
                                  {"fill", host_fill},
                                  {"check", host_check},
                                  {"params", host_params},
                                  {"json", flyq__plugin_json_decode},
                                  {"settle", host_settle},
                                  {"finish", host_finish},
                                  {"emit", host_emit},
                                  {"protect", host_protect},
                                  {"mark", host_mark},
                                  {"truncate", host_truncate},
                                  {"fail", host_fail},
                                  {"recover", host_recover},
                                  {"set_partition", host_set_partition},
                                  {NULL, NULL}};
  flyq__record_open(L);
  luaL_newlib(L, host);
  p->recs_ref = flyq__record_ring(L);
  lua_pushboolean(L, p->exact);
  lua_setfield(L, -2, "exact");
}
