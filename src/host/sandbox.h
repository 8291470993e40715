/* Lua states for code the broker does not fully trust: the config file now,
 * plugins later. A state made here has a memory cap (its allocator refuses to
 * grow past it), an optional budget per call (an instruction count or a
 * CPU-time watchdog), only the
 * harmless standard libraries, and FlyQ's own Lua modules (lua/flyq/<name>.lua,
 * compiled into the binary) in package.preload. Code that must not reach the
 * host runs in a sandbox environment table (flyq__sandbox_env) instead of the
 * state's globals. Lua errors come back into C through flyq__lua_pcall only.
 */
#ifndef FLYQ_HOST_SANDBOX_H
#define FLYQ_HOST_SANDBOX_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

/* A fresh state whose allocations are capped at max_bytes in total, with the
 * base, package, string (without string.dump), table, math, utf8 and
 * coroutine libraries, and every embedded flyq.* module in package.preload
 * (require finds nothing else: no files, no C modules). Returns NULL when
 * out of memory. Close it with flyq__lua_close. */
lua_State *flyq__lua_new(size_t max_bytes);

/* Closes L and frees its allocator bookkeeping. L may be NULL. */
void flyq__lua_close(lua_State *L);

/* How many memory errors L's cap has caused since it was made: refusals
 * that Lua's emergency collection could not make good, whether the error
 * was then caught (pcall) or not. Refusals the collection made good do not
 * count: a state using over half its cap meets those in normal work. */
uint64_t flyq__lua_cap_errors(lua_State *L);

/* Writes the message of L's last memory error at the cap into buf:
 * "FILE:LINE: memory limit exceeded (N MiB)", the position that of the
 * plugin or config code whose allocation was refused (none when no such
 * code was running). flyq__lua_pcall reports memory errors with it. */
void flyq__lua_cap_message(lua_State *L, char *buf, size_t len);

/* L's memory cap in bytes. */
size_t flyq__lua_max_bytes(lua_State *L);

/* Allows the code run from now on about max_instructions Lua VM
 * instructions in total (counted in steps of 1000; coroutines created
 * afterwards share the count). When they are used up, the running code fails
 * with "FILE:LINE: instruction limit exceeded (N instructions)" and keeps
 * failing until the budget is set again, even if it catches the error.
 * The budget also limits the thread's CPU time (100 ns per instruction, at
 * least 10 ms), for instructions that spend long in C (string.rep, gsub):
 * the error then says "time limit exceeded".
 * max_instructions <= 0 removes the limit. */
void flyq__lua_set_budget(lua_State *L, int64_t max_instructions);

/* flyq__lua_set_budget with a CPU-time limit of time_ns instead of the
 * one derived from the count (time_ns <= 0: derived). */
void flyq__lua_set_budget_ns(lua_State *L, int64_t max_instructions,
                             int64_t time_ns);

/* A counter the C side moves on whenever the code under watch starts a
 * new call. Runs in a hook: it must not raise. */
typedef uint64_t (*flyq__lua_progress_fn)(void *arg);

/* Tells L's watchdog where one timed call ends and the next begins: when
 * progress (may be NULL) moves on, or when a function returns into a
 * driver, a Lua function that calls them: a key of the table driver_ref
 * (a registry ref; LUA_NOREF: none). Without either, a whole watch is one
 * call. counter and offset (may be NULL: no counter) name integer locals
 * of the drivers whose sum flyq__lua_error_counter reads at an error; a
 * driver whose value in the table is the string "line" has its current
 * line for offset. */
void flyq__lua_set_calls(lua_State *L, flyq__lua_progress_fn progress,
                         void *arg, int driver_ref, const char *counter,
                         const char *offset);

/* The innermost driver's counter (flyq__lua_set_calls) at the last error
 * caught by flyq__lua_pcall (found on the stack before it unwound), or
 * -1. */
int64_t flyq__lua_error_counter(lua_State *L);

/* 1 if this thread can run the watchdog (it needs a timer on its CPU
 * clock), else 0. */
int flyq__lua_watch_available(void);

/* Starts the CPU-time watchdog on L for the code run until
 * flyq__lua_watch_end, instead of an instruction budget (no count hook:
 * the code runs at full speed): a call (flyq__lua_set_calls) that runs
 * for more than limit_ns of this thread's CPU time fails with
 * "FILE:LINE: time limit exceeded (N ms of CPU time per call)" after
 * between 1 and 1.5 times the limit, and the state keeps failing, even if
 * the code catches the error, until flyq__lua_watch_reset or the end of
 * the watch. Coroutines made during the watch are watched too (at some
 * cost to their speed). Uses signal SIGRTMIN+3 on this thread while on,
 * and once more after the last watch ended (which disarms the timer: a
 * system call saved for every watch that follows another soon).
 * Returns 0, or -1 when the watchdog is not available (nothing changed). */
int flyq__lua_watch_begin(lua_State *L, int64_t limit_ns);

/* A fresh limit for the next call of a watch (after a caught failure). */
void flyq__lua_watch_reset(lua_State *L);

/* Ends the watch on L (nothing if none is on). */
void flyq__lua_watch_end(lua_State *L);

/* For C functions that may run long (the pattern matcher, pattern.c):
 * raises the budget's error ("time limit exceeded", at the calling Lua
 * line) if the running call is over its time, as the budget's hook would
 * between two instructions. Cheap when not (it looks at the clock only
 * after a watchdog tick, or, under an instruction budget, reads the
 * thread's CPU clock). */
void flyq__lua_poll(lua_State *L);

/* Replaces find, match, gmatch and gsub in the string library table on
 * top with pattern.c's, whose matcher polls the budget. [-0, +0, m] */
void flyq__pattern_open(lua_State *L);

/* Replaces the global string.rep and table.move with versions that cannot
 * run unbounded in one C call (safe_lib.c). [-0, +0, m] */
void flyq__safe_libs(lua_State *L);

/* Calls the function below nargs arguments like lua_pcall, with a message
 * handler that records a traceback (see flyq__lua_traceback). On error the
 * error value is popped, and err (errlen > 0) receives its text, which starts
 * with "FILE:LINE: " wherever Lua knows the position. Returns 0,
 * FLYQ_ERR_LIMIT (the instruction budget ran out), -ENOMEM (the memory cap
 * was reached: "memory limit exceeded (N MiB)", or the system is out of
 * memory: "out of memory"; no position either way) or FLYQ_ERR_PLUGIN (any
 * other error, e.g. one raised by error()). */
int flyq__lua_pcall(lua_State *L, int nargs, int nresults, char *err,
                    size_t errlen);

/* The traceback of the last error caught by flyq__lua_pcall ("" if none, or
 * for memory errors). Valid until the next call on L. */
const char *flyq__lua_traceback(lua_State *L);

/* Pushes a new environment table for sandboxed code: the safe base
 * functions (assert, error, ipairs, next, pairs, pcall, print, rawequal,
 * rawget, rawlen, rawset, select, tonumber, tostring, type, an xpcall
 * that calls its handler after unwinding, and a load that only accepts
 * text chunks), copies of the string, table, math,
 * utf8 and coroutine tables, and env(NAME[, default]), which returns the
 * environment variable NAME or default. There is no io, os, require,
 * dofile, loadfile, debug, package, collectgarbage, getmetatable or
 * setmetatable. [-0, +1, m] */
void flyq__sandbox_env(lua_State *L);

/* Compiles the text chunk buf[0..len) named chunkname (e.g. "@flyq.lua")
 * and makes the table on top of the stack its environment. Pops the table
 * and pushes the function, or on a syntax error the message ("FILE:LINE:
 * reason"). Returns LUA_OK or the luaL_loadbufferx status. Binary chunks
 * are refused. [-1, +1, m] */
int flyq__sandbox_load(lua_State *L, const char *buf, size_t len,
                       const char *chunkname);

#endif /* FLYQ_HOST_SANDBOX_H */
