/* What a hook's bytecode proves about its results (see plugin.h,
 * flyq__hook_returns_arg): the driver's chunk runners may call a hook on
 * up to a slice of records before reading what it returned only when the
 * answer cannot be a table that a later call changes in the meantime.
 *
 * The proof reads the function's Lua 5.4 bytecode (lua_dump, stripped):
 * the header, then the function's own code, instruction by instruction.
 * Lua 5.4 encodes an instruction in 32 bits: the opcode in bits 0-6, A in
 * 7-14, k in 15, B in 16-23, C in 24-31. Register 0 is the first
 * parameter. The function returns its first argument or nothing when
 *   - it is not vararg and has at least one parameter;
 *   - no instruction writes register 0 (an instruction writes registers
 *     from its A up, or none), and it makes no closure (a closure could
 *     assign the parameter as an upvalue);
 *   - every return returns nothing, nil or first register 0, and none is
 *     a tail call or returns "all values up to the top". A return of nil
 *     is a return of one register that the instruction before it set to
 *     nil, and that no jump reaches (so that it can have come only from
 *     there): what `return nil` compiles to.
 * Anything it does not recognise (another bytecode format, a C function,
 * a function too long to read) proves nothing: the driver then reads
 * each answer as the hook returns it. The opcode numbers are Lua 5.4's
 * (lopcodes.h); a reference function checks them once per process.
 */
#include <lauxlib.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "host/plugin.h"

#define DUMP_MAX (64 * 1024) /* bytes of dump read; a longer hook: no */

/* Lua 5.4 opcodes that matter here. */
enum {
  OP_LOADKX = 4, OP_LFALSESKIP = 6, OP_LOADNIL = 8, OP_SETUPVAL = 10,
  OP_SETTABUP = 15, OP_SETTABLE = 16, OP_SETI = 17, OP_SETFIELD = 18,
  OP_MMBIN = 46, OP_MMBINI = 47, OP_MMBINK = 48, OP_CLOSE = 54, OP_TBC = 55,
  OP_JMP = 56, OP_EQ = 57, OP_GEI = 65, OP_TEST = 66, OP_TESTSET = 67,
  OP_TAILCALL = 69, OP_RETURN = 70, OP_RETURN0 = 71, OP_RETURN1 = 72,
  OP_FORLOOP = 73, OP_FORPREP = 74, OP_TFORPREP = 75, OP_TFORLOOP = 77,
  OP_SETLIST = 78, OP_CLOSURE = 79, OP_VARARG = 80, OP_VARARGPREP = 81,
  OP_EXTRAARG = 82, NUM_OPCODES = 83
};
#define OFFSET_SJ ((1 << 24) - 1) /* the bias of a JMP's 25-bit offset */

#define OP(i) ((i) & 0x7f)
#define ARG_A(i) (((i) >> 7) & 0xff)
#define ARG_B(i) (((i) >> 16) & 0xff)
#define ARG_BX(i) ((long)((i) >> 15))
#define ARG_SJ(i) ((long)((i) >> 7) - OFFSET_SJ)

typedef struct dump {
  unsigned char buf[DUMP_MAX];
  unsigned char target[DUMP_MAX / 4]; /* per instruction: a jump reaches it */
  size_t len;
  int full;
} dump_t;

static int write_dump(lua_State *L, const void *p, size_t sz, void *ud) {
  dump_t *d = ud;
  (void)L;
  if (sz > DUMP_MAX - d->len) {
    d->full = 1;
    return 1; /* stops lua_dump */
  }
  memcpy(d->buf + d->len, p, sz);
  d->len += sz;
  return 0;
}

/* A size of the dump format (7 bits a byte, most significant first, the
 * last byte marked by 0x80); -1 past the end. */
static long read_size(const dump_t *d, size_t *at) {
  unsigned long x = 0;
  while (*at < d->len) {
    unsigned char b = d->buf[(*at)++];
    if (x > (1UL << 24)) return -1;
    x = (x << 7) | (b & 0x7f);
    if (b & 0x80) return (long)x;
  }
  return -1;
}

/* Where the function's code begins (its instruction count read into *n),
 * after the header and the function's own fields; 0 if the dump is not
 * Lua 5.4's or the function is vararg or takes no parameter. */
static size_t code_at(const dump_t *d, long *n) {
  static const char head[] = "\x1bLua\x54\x00\x19\x93\r\n\x1a\n\x04";
  size_t at = sizeof head - 1;
  if (d->len < at || memcmp(d->buf, head, at) != 0) return 0;
  at += 2 + 8 + 8 + 1; /* integer and number sizes and checks, upvalues */
  if (read_size(d, &at) != 0) return 0; /* source: stripped */
  if (read_size(d, &at) < 0 || read_size(d, &at) < 0) return 0; /* lines */
  if (at + 3 > d->len) return 0;
  if (d->buf[at] < 1 || d->buf[at + 1] != 0) return 0; /* params, vararg */
  at += 3;
  *n = read_size(d, &at);
  if (*n <= 0 || (size_t)*n > (d->len - at) / 4) return 0;
  return at;
}

/* 1 if opcode op leaves every register as it is. */
static int writes_none(unsigned op) {
  switch (op) {
  case OP_SETUPVAL: case OP_SETTABUP: case OP_SETTABLE: case OP_SETI:
  case OP_SETFIELD: case OP_MMBIN: case OP_MMBINI: case OP_MMBINK:
  case OP_CLOSE: case OP_TBC: case OP_JMP: case OP_TEST:
  case OP_RETURN: case OP_RETURN0: case OP_RETURN1: case OP_SETLIST:
  case OP_EXTRAARG:
    return 1;
  default:
    return op >= OP_EQ && op <= OP_GEI; /* comparisons: a jump at most */
  }
}

/* Instruction k of the code at `at`. */
static uint32_t code(const dump_t *d, size_t at, long k) {
  uint32_t i;
  memcpy(&i, d->buf + at + 4 * (size_t)k, 4); /* in the machine's order */
  return i;
}

/* Marks in d->target the instruction jump j of instruction k goes to. */
static void mark(dump_t *d, long n, long k, long j) {
  long to = k + 1 + j;
  if (to >= 0 && to < n) d->target[to] = 1;
}

/* Marks every instruction of the n at `at` that a jump, a loop or a
 * conditional skip may go to (lvm.c: each of these ops moves pc). */
static void mark_targets(dump_t *d, size_t at, long n) {
  memset(d->target, 0, (size_t)n);
  for (long k = 0; k < n; k++) {
    uint32_t i = code(d, at, k);
    unsigned op = OP(i);
    if (op == OP_JMP) mark(d, n, k, ARG_SJ(i));
    else if (op == OP_FORPREP) mark(d, n, k, ARG_BX(i) + 1);
    else if (op == OP_TFORPREP) mark(d, n, k, ARG_BX(i));
    else if (op == OP_FORLOOP || op == OP_TFORLOOP) mark(d, n, k, -ARG_BX(i));
    else if ((op >= OP_EQ && op <= OP_TESTSET) || op == OP_LFALSESKIP ||
             op == OP_LOADKX)
      mark(d, n, k, 1); /* skips the next instruction */
  }
}

/* 1 if instruction k keeps register 0 and, if it returns, returns it or
 * nothing or nil (see the head of this file). */
static int keeps_arg(const dump_t *d, size_t at, long k) {
  uint32_t i = code(d, at, k), prev = k > 0 ? code(d, at, k - 1) : 0;
  unsigned op = OP(i), a = ARG_A(i), b = ARG_B(i);
  if (op >= NUM_OPCODES || op == OP_TAILCALL || op == OP_CLOSURE ||
      op == OP_VARARG || op == OP_VARARGPREP)
    return 0;
  if (op == OP_RETURN && b == 2) op = OP_RETURN1; /* one value */
  if (op == OP_RETURN) return b == 1 || (b > 2 && a == 0);
  if (op == OP_RETURN1)
    return a == 0 || (k > 0 && !d->target[k] && OP(prev) == OP_LOADNIL &&
                      ARG_A(prev) == a && ARG_B(prev) == 0);
  return writes_none(op) || a != 0;
}

/* The proof on the function at the top of L. */
static int returns_arg(lua_State *L, dump_t *d) {
  long n;
  size_t at;
  d->len = 0;
  d->full = 0;
  if (lua_dump(L, write_dump, d, 1) != 0 || d->full) return 0;
  if ((at = code_at(d, &n)) == 0) return 0;
  mark_targets(d, at, n);
  for (long k = 0; k < n; k++)
    if (!keeps_arg(d, at, k)) return 0;
  return 1;
}

/* The reference: a function whose bytecode holds the opcodes the proof
 * tells apart by number (jumps, loops, returns), and its code as Lua 5.4
 * compiles it. */
static const char reference[] =
    "return function(r) for i = 1, 2 do end for k in next, r do end\n"
    "  if r then return nil end return r end, function(r) return {} end";
static const unsigned char reference_ops[] = {
    1 /* LOADI */, 1, 1, OP_FORPREP, OP_FORLOOP, 11 /* GETTABUP */,
    0 /* MOVE */, OP_LOADNIL, OP_TFORPREP, 76 /* TFORCALL */, OP_TFORLOOP,
    OP_CLOSE, OP_TEST, OP_JMP, OP_LOADNIL, OP_RETURN, OP_RETURN, OP_RETURN};

/* 1 if the linked Lua compiles and dumps as the proof reads it: the
 * reference's code is as expected and proved, and a function that returns
 * a table is refused. Runs in a state of its own (L). */
static int format_known(lua_State *L, dump_t *d) {
  size_t n_ops = sizeof reference_ops, at;
  long n;
  int ok;
  if (luaL_loadstring(L, reference) != LUA_OK ||
      lua_pcall(L, 0, 2, 0) != LUA_OK)
    return 0;
  ok = !returns_arg(L, d);
  lua_pop(L, 1);
  ok = ok && returns_arg(L, d) && (at = code_at(d, &n)) != 0 &&
       (size_t)n == n_ops;
  for (size_t k = 0; ok && k < n_ops; k++)
    ok = OP(code(d, at, (long)k)) == reference_ops[k];
  return ok;
}

/* The format is the Lua library's, the same for every state: checked once
 * per process, in a state of its own (not in a plugin's, nor at every
 * hook's load). */
static pthread_once_t format_once = PTHREAD_ONCE_INIT;
static int format_ok;

static void check_format(void) {
  lua_State *L = luaL_newstate();
  dump_t *d = malloc(sizeof *d);
  format_ok = L != NULL && d != NULL && format_known(L, d);
  free(d);
  if (L) lua_close(L);
}

int flyq__hook_returns_arg(lua_State *L, int idx) {
  dump_t *d;
  int ok;
#if LUA_VERSION_NUM != 504
  return 0;
#endif
  pthread_once(&format_once, check_format);
  idx = lua_absindex(L, idx);
  if (!format_ok || lua_type(L, idx) != LUA_TFUNCTION ||
      lua_iscfunction(L, idx) || (d = malloc(sizeof *d)) == NULL)
    return 0;
  lua_pushvalue(L, idx);
  ok = returns_arg(L, d);
  lua_pop(L, 1);
  free(d);
  return ok;
}
