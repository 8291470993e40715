/* Lua states with a memory cap, a budget per call and a sandbox
 * environment, and the one pcall wrapper through which Lua errors reach C
 * (see sandbox.h). Each state carries a host_state_t as its allocator's
 * user data; that is where the cap, the budget and the last traceback live.
 *
 * Two budgets. The instruction budget is a count hook: exact, but a count
 * hook makes the Lua VM stop at every instruction, which costs about a
 * quarter of a small plugin's throughput. The CPU-time watchdog has no
 * hook while code runs within its limit: a timer on the thread's CPU clock
 * sends WATCH_SIGNAL every quarter of the limit, the signal handler only
 * sets a count hook of 1 on the watched state (lua_sethook is safe in a
 * signal handler; lua.c stops scripts on SIGINT that way), and that hook,
 * back in normal context, starts a probe: a return hook that waits for a
 * function to return into a driver (flyq__lua_set_calls), which ends
 * the call being timed. The C side's progress counter moving on ends it
 * too. A probe still open after the limit fails the call. So a call costs
 * nothing per record, and a probe costs a hook per return for at most one
 * call. The handler hooks the coroutine being resumed, if any (our
 * coroutine.resume and wrap note it); coroutines made while watched also
 * carry a step hook that looks for the ticks (sandbox_co_create).
 */
#include "host/sandbox.h"

#include <errno.h>
#include <limits.h>
#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flyq/common.h"

#include "host/embedded.h"
#include "util/utf8.h"

#define HOOK_STEP 1000 /* instructions between two budget checks */
/* CPU-time allowance per budgeted instruction. Instructions that call
 * into C (string.rep, gsub) can each take far longer than a VM step, so
 * the budget also carries a limit on the thread's CPU time: 100 ns per
 * instruction allowed, at least 10 ms (1,000,000 instructions -> 100 ms).
 * CPU time, not wall time, so that a loaded machine cannot fail a call. */
#define NS_PER_INSTRUCTION 100
#define MIN_DEADLINE_NS 10000000LL
#define WATCH_SIGNAL (SIGRTMIN + 3)
#define WATCH_TICKS 4               /* ticks per limit */
#define WATCH_MIN_PERIOD_NS 100000  /* 0.1 ms */

typedef struct host_state {
  size_t used;       /* bytes currently allocated by the state */
  size_t max_bytes;  /* the cap */
  int cap_hit;       /* an allocation was refused since the last pcall */
  uint64_t cap_errors; /* refusals Lua did not make good (refuse), ever */
  struct {                /* the last refusal, until Lua asks again */
    void *ptr;
    size_t osize, nsize;
    int pending;
  } refused;
  int over_budget;   /* the instruction budget ran out */
  int counting;      /* an instruction budget is set */
  int timed_out;     /* ... because its deadline passed */
  int64_t budget;    /* instructions allowed, as set */
  int64_t ticks;     /* hook calls left before the budget runs out */
  int64_t allowance_ns; /* CPU time the budget allows */
  int64_t start_ns;     /* thread CPU time at the first hook call, or -1 */
  /* The watchdog (flyq__lua_watch_begin .. end). */
  lua_State *main;      /* the state's main thread */
  int watching;
  volatile sig_atomic_t tick; /* the timer fired since the last look */
  lua_State *volatile running; /* the coroutine being resumed, or NULL */
  int64_t limit_ns;     /* CPU time one call may use */
  flyq__lua_progress_fn progress; /* flyq__lua_set_calls */
  void *progress_arg;
  int driver_ref;
  const char *counter;   /* flyq__lua_set_calls */
  const char *offset;
  int probing;          /* a probe is open (since probe_since) */
  uint64_t probe_token; /* what progress said when it opened */
  int64_t probe_since;
  int64_t error_counter; /* the driver's counter at the last error, or -1 */
  struct host_state *prev_watched;
  pthread_t thread; /* the thread that made the state */
  char traceback[2048];
  char cap_where[LUA_IDSIZE + 24]; /* "file:line" of the last refusal */
} host_state_t;

/* The state this thread watches: the signal handler's only input. */
static __thread host_state_t *volatile watched;
static __thread timer_t watch_timer;
static __thread int watch_timer_made; /* 1 made, -1 cannot be made */
/* The timer runs (at watch_period): set when armed, cleared by the signal
 * handler when it disarms the timer at a tick that finds no watch. Arming
 * costs a system call, so a watch that ends leaves the timer running and
 * the next one, usually the next batch, finds it still armed. */
static __thread volatile sig_atomic_t watch_running;
static __thread int64_t watch_period;
/* The states made on this thread and not closed yet: the last one to close
 * deletes the thread's timer (flyq__lua_close). */
static __thread int states_open;

static host_state_t *state_of(lua_State *L) {
  void *ud;
  lua_getallocf(L, &ud);
  return ud;
}

static int user_frame(lua_State *L, int from, int to, lua_Debug *ar);

/* Notes in hs->cap_where the position of the innermost plugin or config
 * code running (user_frame), for the memory error about to be raised: Lua
 * runs no message handler for those. A refusal with no such code on the
 * stack (the runtime's own work after the plugin's error) keeps the last
 * position noted in this pcall (flyq__lua_pcall clears it). Called from
 * the allocator, so it only reads the call chain (lua_getinfo with "Sl"
 * allocates nothing and raises nothing). Lua 5.4.5 and later turn the chain's stack pointers
 * into offsets while the stack is being reallocated, and the allocator may
 * be that reallocation: there the chain is not read and the error has no
 * position. */
#define WHERE_LEVELS 8
static void note_cap_where(host_state_t *hs) {
#if LUA_VERSION_RELEASE_NUM < 50405
  lua_State *L = hs->running ? hs->running : hs->main;
  lua_Debug ar;
  if (L && user_frame(L, 0, WHERE_LEVELS, &ar))
    snprintf(hs->cap_where, sizeof hs->cap_where, "%s:%d", ar.short_src,
             ar.currentline);
#endif
}

/* A refusal of the cap, counted as a memory error (hs->cap_errors) until
 * Lua makes it good: Lua's own allocations answer a refusal by collecting
 * all garbage (its emergency collection, which only frees) and asking
 * again for the same block, and when that retry succeeds (capped_alloc)
 * the refusal is taken back. A retry refused again is the same error, and
 * refusals with no retry (luaL_Buffer's, behind string.rep, concat,
 * gsub) raise at once. */
static int is_retry(const host_state_t *hs, const void *ptr, size_t osize,
                    size_t nsize) {
  return hs->refused.pending && hs->refused.ptr == ptr &&
         hs->refused.osize == osize && hs->refused.nsize == nsize;
}

static void refuse(host_state_t *hs, void *ptr, size_t osize, size_t nsize) {
  int retry = is_retry(hs, ptr, osize, nsize);
  hs->cap_hit = 1;
  hs->refused.pending = !retry;
  if (retry) return;
  hs->refused.ptr = ptr;
  hs->refused.osize = osize;
  hs->refused.nsize = nsize;
  hs->cap_errors++;
  note_cap_where(hs);
}

/* lua_Alloc that refuses to grow the state past max_bytes. Shrinking and
 * freeing never fail. */
static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  host_state_t *hs = ud;
  void *p;
  int retry;
  if (ptr == NULL) osize = 0; /* osize is then a type tag, not a size */
  if (nsize == 0) {
    free(ptr);
    hs->used -= osize;
    return NULL;
  }
  if (nsize > osize && nsize - osize > hs->max_bytes - hs->used) {
    refuse(hs, ptr, osize, nsize);
    return NULL;
  }
  retry = is_retry(hs, ptr, osize, nsize);
  p = realloc(ptr, nsize);
  if (p != NULL) {
    hs->used = hs->used - osize + nsize;
    if (retry) hs->cap_errors--; /* made good: no error after all */
    hs->refused.pending = 0;
  }
  return p;
}

static int panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "flyq: unprotected Lua error: %s\n", msg ? msg : "?");
  return 0; /* Lua aborts */
}

static int64_t cpu_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* 1 once the code has used more CPU time than its budget allows. The clock
 * is first read at the first hook call, so short calls never pay for it. */
static int out_of_time(host_state_t *hs) {
  int64_t now = cpu_now_ns();
  if (hs->start_ns < 0) hs->start_ns = now;
  return now - hs->start_ns > hs->allowance_ns;
}

static void watch_hook(lua_State *L, lua_Debug *ar);

/* Raises the budget's error, after the position on top of the stack, and
 * sets hook to fire on every instruction of L so that code catching the
 * error cannot keep running; under the watchdog a coroutine's failure
 * makes the main thread fail at its next instruction too, so that
 * coroutine.resume cannot swallow it (coroutine.wrap passes the error on
 * before that). Other threads fail at their next budget check. */
static void fail_budget(lua_State *L, host_state_t *hs, lua_Hook hook) {
  hs->over_budget = 1;
  lua_sethook(L, hook, LUA_MASKCOUNT, 1);
  if (L != hs->main) /* a coroutine: the main thread fails next too, even
                        if code in between catches this error */
    lua_sethook(hs->main, hook, LUA_MASKCOUNT, 1);
  if (hs->timed_out)
    lua_pushfstring(L, "time limit exceeded (%I ms of CPU time per call)",
                    (lua_Integer)((hook == watch_hook ? hs->limit_ns
                                                      : hs->allowance_ns) /
                                  1000000));
  else
    lua_pushfstring(L, "instruction limit exceeded (%I instructions)",
                    (lua_Integer)hs->budget);
  lua_concat(L, 2);
  lua_error(L);
}

/* 1 if ar (with "S") runs one of FlyQ's own embedded modules
 * (lua/flyq/NAME.lua): a limit that strikes there is not their fault. */
static int is_embedded(const lua_Debug *ar) {
  return strncmp(ar->source, "@lua/flyq/", 10) == 0;
}

/* 1 if ar (a frame of L) runs the user's Lua code: a line of a plugin or
 * config file, not a C function and not FlyQ's own modules. Fills ar with
 * "Sl"; allocates nothing. */
static int is_user_code(lua_State *L, lua_Debug *ar) {
  return lua_getinfo(L, "Sl", ar) && ar->currentline > 0 && !is_embedded(ar);
}

/* The innermost frame of L at levels from..to-1 that runs the user's code
 * (is_user_code), into ar; 0 if none. */
static int user_frame(lua_State *L, int from, int to, lua_Debug *ar) {
  for (int level = from; level < to && lua_getstack(L, level, ar); level++)
    if (is_user_code(L, ar)) return 1;
  return 0;
}

/* Pushes "FILE:LINE: " of the innermost frame of L from level on that
 * runs the user's code (a plugin, a config file), or "" when there is
 * none: a limit that strikes in the runtime (storing what a hook returned,
 * checking a config) is named without blaming the runtime's own lines,
 * and one inside a C function (table.sort's comparisons) names the line
 * that called it. */
static void push_where_from(lua_State *L, int level) {
  lua_Debug up;
  if (user_frame(L, level, level + 64, &up))
    lua_pushfstring(L, "%s:%d: ", up.short_src, up.currentline);
  else
    lua_pushliteral(L, "");
}

/* push_where_from for a hook, whose running function ar describes. */
static void push_where(lua_State *L, lua_Debug *ar) {
  if (is_user_code(L, ar))
    lua_pushfstring(L, "%s:%d: ", ar->short_src, ar->currentline);
  else
    push_where_from(L, 1);
}

/* fail_budget at the running line of L (in a hook: ar is the hook's). */
static void raise_budget(lua_State *L, host_state_t *hs, lua_Debug *ar,
                         lua_Hook hook) {
  push_where(L, ar);
  fail_budget(L, hs, hook);
}

/* Count hook: charges HOOK_STEP instructions and checks the deadline; once
 * either is spent, fails on every instruction. */
static void budget_hook(lua_State *L, lua_Debug *ar) {
  host_state_t *hs = state_of(L);
  if (!hs->over_budget) {
    hs->timed_out = out_of_time(hs);
    if (--hs->ticks > 0 && !hs->timed_out) return;
  }
  raise_budget(L, hs, ar, budget_hook);
}

void flyq__lua_set_budget(lua_State *L, int64_t max_instructions) {
  flyq__lua_set_budget_ns(L, max_instructions, 0);
}

void flyq__lua_set_budget_ns(lua_State *L, int64_t max_instructions,
                             int64_t time_ns) {
  host_state_t *hs = state_of(L);
  hs->over_budget = 0;
  hs->timed_out = 0;
  hs->counting = max_instructions > 0;
  if (max_instructions <= 0) {
    lua_sethook(L, NULL, 0, 0);
    return;
  }
  hs->budget = max_instructions;
  hs->ticks = (max_instructions + HOOK_STEP - 1) / HOOK_STEP;
  int64_t allowance = max_instructions > INT64_MAX / NS_PER_INSTRUCTION
                          ? INT64_MAX / 2
                          : max_instructions * NS_PER_INSTRUCTION;
  if (allowance < MIN_DEADLINE_NS) allowance = MIN_DEADLINE_NS;
  hs->allowance_ns = time_ns > 0 ? time_ns : allowance;
  hs->start_ns = -1;
  lua_sethook(L, budget_hook, LUA_MASKCOUNT, HOOK_STEP);
}

/* ---- The CPU-time watchdog ---------------------------------------------- */

/* SIGNAL HANDLER: touches only the watched state's tick and hook, or,
 * with no watch on, disarms the timer (timer_settime is async-signal-safe). */
static void on_watch_signal(int sig) {
  host_state_t *hs = watched;
  int saved = errno;
  (void)sig;
  if (hs == NULL) {
    struct itimerspec off;
    memset(&off, 0, sizeof off);
    if (watch_timer_made > 0) timer_settime(watch_timer, 0, &off, NULL);
    watch_running = 0;
  } else {
    lua_State *T = hs->running ? hs->running : hs->main;
    hs->tick = 1;
    lua_sethook(T, watch_hook,
                LUA_MASKCOUNT | (T == hs->main && hs->probing ? LUA_MASKRET : 0),
                1);
  }
  errno = saved;
}

static uint64_t progress_of(const host_state_t *hs) {
  return hs->progress ? hs->progress(hs->progress_arg) : 0;
}

static int is_driver(lua_State *L, const host_state_t *hs, int level,
                     lua_Debug *ar);

/* 1 if the function at level 1 of L (the caller of the one returning, in
 * a return hook) is a driver. */
static int into_driver(lua_State *L, const host_state_t *hs) {
  lua_Debug caller;
  return hs->driver_ref != LUA_NOREF && lua_checkstack(L, 2) &&
         is_driver(L, hs, 1, &caller);
}

/* A tick: opens a probe, or checks the open one; 1 once the call it times
 * has run for longer than the limit. A probe opens at most a tick after
 * its call started and is checked at ticks, so a call fails after between
 * 1 and 1 + 2 / WATCH_TICKS limits. The probe starts when the tick is
 * seen, not when it fired: what ran in between in one piece of C (a
 * garbage collection over the batch's records, a table growing in the
 * runtime, or a library call such as a sha256 of megabytes) is not the
 * record's to pay for. Library calls that can run long poll instead
 * (flyq__lua_poll), so that they are timed as they go. */
static int watch_tick(host_state_t *hs) {
  uint64_t token = progress_of(hs);
  int64_t now = cpu_now_ns();
  if (!hs->probing || token != hs->probe_token) {
    hs->probing = 1;
    hs->probe_token = token;
    hs->probe_since = now;
    return 0;
  }
  return now - hs->probe_since > hs->limit_ns;
}

/* The main thread's hook between events: a return hook while a probe is
 * open, else none. */
static void main_hook(host_state_t *hs) {
  if (hs->probing)
    lua_sethook(hs->main, watch_hook, LUA_MASKRET, 0);
  else
    lua_sethook(hs->main, NULL, 0, 0);
}

/* The watchdog's hook: a count hook of 1 on the main thread set by the
 * signal handler, a step hook on coroutines, a return hook on the main
 * thread while a probe is open. Once over the limit, fails on every
 * instruction. */
static void watch_hook(lua_State *L, lua_Debug *ar) {
  host_state_t *hs = state_of(L);
  if (!hs->over_budget && ar->event == LUA_HOOKRET) {
    if (progress_of(hs) != hs->probe_token || into_driver(L, hs)) {
      hs->probing = 0; /* the call timed is over */
      main_hook(hs);
    }
    return;
  }
  if (!hs->over_budget) {
    int ticked = hs->tick && hs->watching, expired = 0;
    if (ticked) {
      hs->tick = 0;
      expired = watch_tick(hs);
    }
    if (!expired) { /* the count hook of 1 was for this look */
      if (ticked || L == hs->main) main_hook(hs);
      if (L != hs->main) lua_sethook(L, watch_hook, LUA_MASKCOUNT, HOOK_STEP);
      return;
    }
    hs->timed_out = 1;
  }
  raise_budget(L, hs, ar, watch_hook);
}

void flyq__lua_poll(lua_State *L) {
  host_state_t *hs = state_of(L);
  if (!hs->over_budget) {
    if (hs->watching && hs->tick) {
      hs->tick = 0;
      if (!watch_tick(hs)) return; /* the count hook of 1 set by the
                                      signal tidies up afterwards */
    } else if (hs->watching || !hs->counting || !out_of_time(hs)) {
      return;
    }
    hs->timed_out = 1;
  }
  push_where_from(L, 1); /* the user's code that called the C function */
  fail_budget(L, hs, hs->watching ? watch_hook : budget_hook);
}

static void install_handler(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_watch_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(WATCH_SIGNAL, &sa, NULL);
}

/* Makes this thread's timer on its CPU clock, once; 0 or -1. */
static int watch_timer_make(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  struct sigevent sev;
  if (watch_timer_made) return watch_timer_made > 0 ? 0 : -1;
  pthread_once(&once, install_handler);
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = WATCH_SIGNAL;
  sev._sigev_un._tid = gettid(); /* sigev_notify_thread_id */
  watch_timer_made =
      timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &watch_timer) == 0 ? 1 : -1;
  return watch_timer_made > 0 ? 0 : -1;
}

static void watch_timer_set(int64_t period_ns) {
  struct itimerspec its = {{period_ns / 1000000000, period_ns % 1000000000},
                           {period_ns / 1000000000, period_ns % 1000000000}};
  timer_settime(watch_timer, 0, &its, NULL);
}

int flyq__lua_watch_available(void) { return watch_timer_make() == 0; }

void flyq__lua_set_calls(lua_State *L, flyq__lua_progress_fn progress,
                         void *arg, int driver_ref, const char *counter,
                         const char *offset) {
  host_state_t *hs = state_of(L);
  hs->progress = progress;
  hs->progress_arg = arg;
  hs->driver_ref = driver_ref;
  hs->counter = counter;
  hs->offset = offset;
}

uint64_t flyq__lua_cap_errors(lua_State *L) {
  return state_of(L)->cap_errors;
}

void flyq__lua_cap_message(lua_State *L, char *buf, size_t len) {
  const host_state_t *hs = state_of(L);
  snprintf(buf, len, "%s%smemory limit exceeded (%zu MiB)", hs->cap_where,
           hs->cap_where[0] ? ": " : "", hs->max_bytes >> 20);
}

size_t flyq__lua_max_bytes(lua_State *L) { return state_of(L)->max_bytes; }

int64_t flyq__lua_error_counter(lua_State *L) {
  return state_of(L)->error_counter;
}

void flyq__lua_watch_reset(lua_State *L) {
  host_state_t *hs = state_of(L);
  hs->over_budget = 0;
  hs->timed_out = 0;
  hs->probing = 0;
  hs->running = NULL;
  lua_sethook(L, NULL, 0, 0);
}

int flyq__lua_watch_begin(lua_State *L, int64_t limit_ns) {
  host_state_t *hs = state_of(L);
  int64_t period = limit_ns / WATCH_TICKS;
  if (hs->watching) return 0;
  if (limit_ns <= 0 || watch_timer_make() < 0) return -1;
  if (period < WATCH_MIN_PERIOD_NS) period = WATCH_MIN_PERIOD_NS;
  hs->limit_ns = limit_ns;
  hs->tick = 0;
  hs->watching = 1;
  flyq__lua_watch_reset(L);
  hs->prev_watched = watched;
  watched = hs; /* first: a tick from now on does not disarm the timer */
  atomic_signal_fence(memory_order_seq_cst);
  if (!watch_running || watch_period != period) {
    watch_period = period;
    watch_running = 1;
    watch_timer_set(period);
  }
  return 0;
}

void flyq__lua_watch_end(lua_State *L) {
  host_state_t *hs = state_of(L);
  if (!hs->watching) return;
  watched = hs->prev_watched; /* the handler now leaves hs alone; with no
                                 watch left it disarms the timer */
  atomic_signal_fence(memory_order_seq_cst);
  hs->prev_watched = NULL;
  hs->watching = 0;
  hs->tick = 0;
  lua_sethook(L, NULL, 0, 0); /* a tick may have come after the call */
}

/* coroutine.create for sandboxed code: the new thread gets the watchdog's
 * step hook while a watch is on (a thread inherits its creator's hook,
 * which under the watchdog is none). */
static int sandbox_co_create(lua_State *L) {
  lua_State *co;
  luaL_checktype(L, 1, LUA_TFUNCTION);
  co = lua_newthread(L);
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  if (state_of(L)->watching) lua_sethook(co, watch_hook, LUA_MASKCOUNT, HOOK_STEP);
  return 1;
}

/* NULL if co may be resumed from L, else why not (as Lua's coroutine
 * library says it). */
static const char *not_resumable(lua_State *L, lua_State *co) {
  lua_Debug ar;
  if (co == L) return "cannot resume non-suspended coroutine";
  if (lua_status(co) == LUA_YIELD) return NULL;
  if (lua_status(co) != LUA_OK) return "cannot resume dead coroutine";
  if (lua_getstack(co, 0, &ar)) return "cannot resume non-suspended coroutine";
  if (lua_gettop(co) == 0) return "cannot resume dead coroutine";
  return NULL;
}

/* Moves nargs values from L to co and resumes it, noting it as the
 * running coroutine for the watchdog's signal handler meanwhile. Returns
 * how many results it moved back to L, or -1 with the error (or the
 * refusal) on top of L; *mem says whether that was a memory error. */
static int resume(lua_State *L, lua_State *co, int nargs, int *mem) {
  host_state_t *hs = state_of(L);
  lua_State *prev = hs->running;
  const char *why = not_resumable(L, co);
  int status, nres;
  *mem = 0;
  if (why == NULL && !lua_checkstack(co, nargs))
    why = "too many arguments to resume";
  if (why == NULL) {
    lua_xmove(L, co, nargs);
    hs->running = co;
    atomic_signal_fence(memory_order_seq_cst);
    status = lua_resume(co, L, nargs, &nres);
    hs->running = prev;
    atomic_signal_fence(memory_order_seq_cst);
    if (status != LUA_OK && status != LUA_YIELD) {
      *mem = status == LUA_ERRMEM;
      lua_xmove(co, L, 1);
      return -1;
    }
    if (lua_checkstack(L, nres + 1)) {
      lua_xmove(co, L, nres);
      return nres;
    }
    lua_pop(co, nres);
    why = "too many results to resume";
  }
  lua_pushstring(L, why);
  return -1;
}

/* coroutine.resume for sandboxed code: Lua's, noting the coroutine it
 * runs (see resume). */
static int sandbox_resume(lua_State *L) {
  lua_State *co = lua_tothread(L, 1);
  int mem, n;
  luaL_argexpected(L, co != NULL, 1, "coroutine");
  n = resume(L, co, lua_gettop(L) - 1, &mem);
  lua_pushboolean(L, n >= 0);
  lua_insert(L, n >= 0 ? -(n + 1) : -2);
  return n >= 0 ? n + 1 : 2;
}

/* The function coroutine.wrap returns: resumes its coroutine (upvalue
 * 1) as Lua's wrap does; an error inside goes on, a string one with the
 * caller's position in front. */
static int sandbox_co_resume(lua_State *L) {
  lua_State *co = lua_tothread(L, lua_upvalueindex(1));
  int mem, n = resume(L, co, lua_gettop(L), &mem);
  if (n >= 0) return n;
  if (!mem && lua_type(L, -1) == LUA_TSTRING) {
    luaL_where(L, 1);
    lua_insert(L, -2);
    lua_concat(L, 2);
  }
  return lua_error(L);
}

/* coroutine.wrap for sandboxed code, on top of sandbox_co_create. */
static int sandbox_co_wrap(lua_State *L) {
  sandbox_co_create(L);
  lua_pushcclosure(L, sandbox_co_resume, 1);
  return 1;
}

/* Replaces create, resume and wrap in the coroutine table on top.
 * [co] -> [co] */
static void watched_coroutines(lua_State *L) {
  lua_pushcfunction(L, sandbox_co_create);
  lua_setfield(L, -2, "create");
  lua_pushcfunction(L, sandbox_resume);
  lua_setfield(L, -2, "resume");
  lua_pushcfunction(L, sandbox_co_wrap);
  lua_setfield(L, -2, "wrap");
}

/* The string library without string.dump (reachable from any string
 * through its metatable), and a string metatable that getmetatable cannot
 * return. [string] -> [] */
static void harden_strings(lua_State *L) {
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1); /* [string, "", mt] */
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 3);
}

/* require finds only package.preload: no files, no C modules. */
static void preload_only(lua_State *L) {
  lua_getglobal(L, LUA_LOADLIBNAME);
  lua_getfield(L, -1, "searchers");
  lua_createtable(L, 1, 0);
  lua_rawgeti(L, -2, 1); /* [package, searchers, new, preload searcher] */
  lua_rawseti(L, -2, 1);
  lua_setfield(L, -3, "searchers");
  lua_pushliteral(L, "");
  lua_setfield(L, -3, "path");
  lua_pushliteral(L, "");
  lua_setfield(L, -3, "cpath");
  lua_pop(L, 2);
}

/* The standard libraries of a host state, made safe, and the embedded
 * modules. Runs protected. */
static int open_libs(lua_State *L) {
  static const luaL_Reg libs[] = {
      {LUA_GNAME, luaopen_base},          {LUA_LOADLIBNAME, luaopen_package},
      {LUA_STRLIBNAME, luaopen_string},   {LUA_TABLIBNAME, luaopen_table},
      {LUA_MATHLIBNAME, luaopen_math},    {LUA_UTF8LIBNAME, luaopen_utf8},
      {LUA_COLIBNAME, luaopen_coroutine}, {NULL, NULL}};
  for (const luaL_Reg *lib = libs; lib->name; lib++) {
    luaL_requiref(L, lib->name, lib->func, 1);
    lua_pop(L, 1);
  }
  lua_getglobal(L, LUA_STRLIBNAME);
  flyq__pattern_open(L);
  harden_strings(L);
  flyq__safe_libs(L);
  preload_only(L);
  flyq__lua_preload(L);
  return 0;
}

lua_State *flyq__lua_new(size_t max_bytes) {
  host_state_t *hs = calloc(1, sizeof *hs);
  lua_State *L;
  if (hs == NULL) return NULL;
  hs->max_bytes = max_bytes;
  L = lua_newstate(capped_alloc, hs);
  if (L == NULL) {
    free(hs);
    return NULL;
  }
  hs->main = L;
  hs->thread = pthread_self();
  states_open++;
  hs->driver_ref = LUA_NOREF;
  hs->error_counter = -1;
  lua_atpanic(L, panic);
  lua_pushcfunction(L, open_libs);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    flyq__lua_close(L);
    return NULL;
  }
  return L;
}

/* Deletes this thread's timer once no state made here is left: a thread
 * that ran plugins and is done with them keeps no timer. A tick already
 * pending arrives before timer_delete returns and finds no watch. */
static void watch_timer_drop(void) {
  if (watch_timer_made > 0) timer_delete(watch_timer);
  watch_timer_made = 0;
  watch_running = 0;
}

void flyq__lua_close(lua_State *L) {
  host_state_t *hs;
  if (L == NULL) return;
  hs = state_of(L);
  if (watched == hs) watched = hs->prev_watched; /* closed mid-watch */
  lua_close(L);
  if (pthread_equal(hs->thread, pthread_self()) && --states_open == 0)
    watch_timer_drop();
  free(hs);
}

/* How one frame is called in a traceback, as luaL_traceback says it. */
static void frame_name(const lua_Debug *ar, char *buf, size_t len) {
  if (*ar->namewhat != '\0')
    snprintf(buf, len, "%s '%s'", ar->namewhat, ar->name ? ar->name : "?");
  else if (*ar->what == 'm')
    snprintf(buf, len, "main chunk");
  else if (*ar->what != 'C')
    snprintf(buf, len, "function <%s:%d>", ar->short_src, ar->linedefined);
  else
    snprintf(buf, len, "?");
}

/* Writes the innermost TRACEBACK_LEVELS frames into hs->traceback. Not
 * luaL_traceback: it also finds the outermost frames, walking the whole
 * call stack dozens of times (lua_getstack is linear in the level), which
 * takes a second after a deep recursion, outside any budget. Allocates
 * nothing in the state, which may be at its memory cap. */
#define TRACEBACK_LEVELS 12
static void record_traceback(lua_State *L, host_state_t *hs) {
  size_t n = (size_t)snprintf(hs->traceback, sizeof hs->traceback,
                              "stack traceback:");
  lua_Debug ar;
  char name[160], where[LUA_IDSIZE + 16];
  for (int level = 1; n < sizeof hs->traceback &&
                      lua_getstack(L, level, &ar); level++) {
    if (level > TRACEBACK_LEVELS) {
      snprintf(hs->traceback + n, sizeof hs->traceback - n, "\n\t...");
      return;
    }
    lua_getinfo(L, "Slnt", &ar);
    frame_name(&ar, name, sizeof name);
    if (ar.currentline > 0)
      snprintf(where, sizeof where, "%s:%d:", ar.short_src, ar.currentline);
    else
      snprintf(where, sizeof where, "%s:", ar.short_src);
    n += (size_t)snprintf(hs->traceback + n, sizeof hs->traceback - n,
                          "\n\t%s in %s%s", where, name,
                          ar.istailcall ? "\n\t(...tail calls...)" : "");
  }
}

/* Whether level of L runs a driver (a key of the drivers table): 0 no,
 * 1 yes, 2 a driver that counts by line (its value is "line"). Pushes
 * and pops two values. */
static int is_driver(lua_State *L, const host_state_t *hs, int level,
                     lua_Debug *ar) {
  int kind;
  if (!lua_getstack(L, level, ar)) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, hs->driver_ref);
  lua_getinfo(L, "f", ar);
  kind = lua_rawget(L, -2);
  kind = kind == LUA_TNIL ? 0 : kind == LUA_TSTRING ? 2 : 1;
  lua_pop(L, 2);
  return kind;
}

/* The level of the innermost driver's frame on L's stack, or -1: a look
 * at the innermost levels, then, for a deep stack, at the few outermost
 * ones, where the drivers sit, innermost first (a chunk runner above the
 * fast loop that called it; lua_getstack is linear in the level, so
 * finding the depth costs O(depth log depth): about 10 ms after a Lua
 * stack overflow, only for an error inside a deep recursion). */
#define NEAR_LEVELS 64
#define BOTTOM_LEVELS 8
static int driver_level(lua_State *L, const host_state_t *hs, lua_Debug *ar,
                        int *kind) {
  int lo = NEAR_LEVELS, hi = 2 * NEAR_LEVELS;
  for (int level = 0; level < NEAR_LEVELS; level++)
    if ((*kind = is_driver(L, hs, level, ar)) != 0) return level;
  if (!lua_getstack(L, lo, ar)) return -1;
  while (lua_getstack(L, hi, ar)) {
    lo = hi;
    if (hi > INT_MAX / 2) return -1;
    hi *= 2;
  }
  while (hi - lo > 1) { /* lo exists, hi does not */
    int mid = lo + (hi - lo) / 2;
    if (lua_getstack(L, mid, ar)) lo = mid; else hi = mid;
  }
  for (int level = lo - BOTTOM_LEVELS + 1; level <= lo; level++)
    if (level >= NEAR_LEVELS && (*kind = is_driver(L, hs, level, ar)) != 0)
      return level;
  return -1;
}

/* The counter of the driver's frame (flyq__lua_set_calls): its integer
 * local hs->counter plus its integer local hs->offset, or plus its
 * current line for a driver that counts by line; -1 when it has none. The
 * innermost local of each name counts. */
static int64_t driver_counter(lua_State *L, const host_state_t *hs) {
  lua_Debug ar;
  int kind;
  int64_t base = -1, off = -1;
  const char *name;
  if (hs->driver_ref == LUA_NOREF || hs->counter == NULL ||
      hs->offset == NULL || !lua_checkstack(L, 3) ||
      driver_level(L, hs, &ar, &kind) < 0)
    return -1;
  for (int n = 1; (name = lua_getlocal(L, &ar, n)) != NULL; n++) {
    int64_t v = lua_isinteger(L, -1) ? (int64_t)lua_tointeger(L, -1) : -1;
    lua_pop(L, 1);
    if (strcmp(name, hs->counter) == 0) base = v;
    if (strcmp(name, hs->offset) == 0) off = v;
  }
  if (kind == 2) off = lua_getinfo(L, "l", &ar) ? ar.currentline : -1;
  return base < 0 || off < 0 ? -1 : base + off;
}

/* Message handler: turns the error value into a string and records the
 * traceback. Calls no metamethods of the error value. */
static int message_handler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  host_state_t *hs = state_of(L);
  if (msg == NULL)
    lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  record_traceback(L, hs);
  hs->error_counter = driver_counter(L, hs);
  return 1;
}

/* The code for a failed lua_pcall; writes its message into err and pops
 * it. Allocates nothing in the state, which may be at its memory cap. */
static int pcall_error(lua_State *L, int status, char *err, size_t errlen) {
  host_state_t *hs = state_of(L);
  const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  int code = FLYQ_ERR_PLUGIN;
  if (hs->over_budget) {
    code = FLYQ_ERR_LIMIT;
  } else if (status == LUA_ERRMEM) {
    code = -ENOMEM;
    msg = "out of memory"; /* the system's, unless the cap refused */
  }
  if (errlen > 0 && code == -ENOMEM && hs->cap_hit)
    flyq__lua_cap_message(L, err, errlen);
  else if (errlen > 0)
    flyq__utf8_snprintf(err, errlen, "%s", msg ? msg : "unknown error");
  lua_pop(L, 1);
  return code;
}

int flyq__lua_pcall(lua_State *L, int nargs, int nresults, char *err,
                    size_t errlen) {
  host_state_t *hs = state_of(L);
  int base = lua_gettop(L) - nargs; /* the function's index */
  int status;
  hs->cap_hit = 0;
  hs->cap_where[0] = '\0';
  hs->traceback[0] = '\0';
  hs->error_counter = -1; /* no handler runs for memory errors */
  if (!lua_checkstack(L, 1)) {
    lua_settop(L, base - 1);
    if (errlen > 0) snprintf(err, errlen, "Lua stack overflow");
    return -ENOMEM;
  }
  lua_pushcfunction(L, message_handler);
  lua_insert(L, base); /* [handler, fn, args...] */
  status = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  if (status == LUA_OK) return 0;
  status = pcall_error(L, status, err, errlen);
  /* A call that failed at the cap leaves its garbage behind, and Lua only
   * collects in an emergency for its own allocations: a string buffer
   * (string.rep, table.concat, gsub...) that cannot grow raises at once.
   * Without this, every later call would fail until a collection came. */
  if (hs->cap_hit) lua_gc(L, LUA_GCCOLLECT, 0);
  return status;
}

const char *flyq__lua_traceback(lua_State *L) {
  return state_of(L)->traceback;
}

/* env(NAME[, default]): the environment variable NAME, or default (nil if
 * not given) when it is not set. */
static int sandbox_getenv(lua_State *L) {
  const char *value = getenv(luaL_checkstring(L, 1));
  if (value == NULL) {
    lua_settop(L, 2);
    return 1;
  }
  lua_pushstring(L, value);
  return 1;
}

/* load(chunk[, chunkname[, mode[, env]]]) for sandboxed code: chunk must be
 * a string and is compiled as text whatever mode says; its environment is
 * env if given, else the sandbox (upvalue 1). A chunk name that claims one
 * of FlyQ's own modules ("@lua/flyq/...", is_embedded) is shown as it is
 * but loses the "@": limits are not blamed on FlyQ's code, and this is the
 * plugin's. Returns the function, or nil and the message. */
static int sandbox_load(lua_State *L) {
  size_t len;
  const char *chunk = luaL_checklstring(L, 1, &len);
  const char *name = luaL_optstring(L, 2, "=(load)");
  int env = lua_isnone(L, 4) ? lua_upvalueindex(1) : 4;
  if (strncmp(name, "@lua/flyq/", 10) == 0)
    name = lua_pushfstring(L, "=%s", name + 1);
  if (luaL_loadbufferx(L, chunk, len, name, "t") != LUA_OK) {
    luaL_pushfail(L);
    lua_insert(L, -2); /* [..., nil, message] */
    return 2;
  }
  lua_pushvalue(L, env);
  if (lua_setupvalue(L, -2, 1) == NULL) lua_pop(L, 1);
  return 1;
}

/* Continuation of sandbox_xpcall: [f, handler, true, results...] or, after
 * an error, [f, handler, true, error]. */
static int finish_xpcall(lua_State *L, int status, lua_KContext extra) {
  if (status != LUA_OK && status != LUA_YIELD) {
    lua_pushvalue(L, 2);
    lua_insert(L, -2);
    lua_call(L, 1, 1); /* [f, handler, true, handler(error)] */
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  return lua_gettop(L) - (int)extra;
}

/* xpcall(f, handler, ...) for sandboxed code: calls handler(error) once
 * the stack has unwound, not at the error point as Lua's xpcall does. At
 * the error point of an error raised by the instruction budget's hook,
 * hooks are off, so the handler would run without a budget (an endless
 * loop there would never stop). An error in the handler propagates. */
static int sandbox_xpcall(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2); /* [f, handler, true, f, args...] */
  return finish_xpcall(L, lua_pcallk(L, n - 2, LUA_MULTRET, 0, 2,
                                     finish_xpcall), 2);
}

/* Sets t[name] = copy of the global table name, for each library. [t] */
static void copy_libs(lua_State *L) {
  static const char *const libs[] = {LUA_STRLIBNAME, LUA_TABLIBNAME,
                                     LUA_MATHLIBNAME, LUA_UTF8LIBNAME,
                                     LUA_COLIBNAME, NULL};
  for (const char *const *lib = libs; *lib; lib++) {
    lua_newtable(L);
    lua_getglobal(L, *lib);
    lua_pushnil(L); /* [t, copy, lib, key] */
    while (lua_next(L, -2)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_settable(L, -5);
    }
    lua_pop(L, 1);
    if (strcmp(*lib, LUA_COLIBNAME) == 0) watched_coroutines(L);
    lua_setfield(L, -2, *lib);
  }
}

void flyq__sandbox_env(lua_State *L) {
  static const char *const base[] = {
      "assert", "error",  "ipairs",   "next",     "pairs",  "pcall",
      "print",  "rawequal", "rawget", "rawlen",   "rawset", "select",
      "tonumber", "tostring", "type", "xpcall",   "_VERSION", NULL};
  lua_createtable(L, 0, 32);
  for (const char *const *name = base; *name; name++) {
    lua_getglobal(L, *name);
    lua_setfield(L, -2, *name);
  }
  copy_libs(L);
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, sandbox_load, 1);
  lua_setfield(L, -2, "load");
  lua_pushcfunction(L, sandbox_getenv);
  lua_setfield(L, -2, "env");
  lua_pushcfunction(L, sandbox_xpcall);
  lua_setfield(L, -2, "xpcall");
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "_G"); /* [env] */
}

/* Skips what lua.c's loadfile skips at the start of a file: a UTF-8 byte
 * order mark, and a first line starting with '#' (a "#!" line); its
 * newline stays, so that line numbers do not move. */
static const char *skip_prefix(const char *buf, size_t *len) {
  if (*len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
    buf += 3;
    *len -= 3;
  }
  if (*len > 0 && buf[0] == '#') {
    const char *nl = memchr(buf, '\n', *len);
    size_t skip = nl ? (size_t)(nl - buf) : *len;
    buf += skip;
    *len -= skip;
  }
  return buf;
}

int flyq__sandbox_load(lua_State *L, const char *buf, size_t len,
                       const char *chunkname) {
  int status;
  buf = skip_prefix(buf, &len);
  status = luaL_loadbufferx(L, buf, len, chunkname, "t");
  if (status != LUA_OK) {
    lua_remove(L, -2); /* [message] */
    return status;
  }
  lua_insert(L, -2); /* [fn, env] */
  if (lua_setupvalue(L, -2, 1) == NULL) lua_pop(L, 1);
  return LUA_OK;
}
