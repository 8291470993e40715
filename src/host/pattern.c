/* Lua 5.4's string.find, match, gmatch and gsub for host states, with a
 * matcher that can be stopped. The stock matcher is one C call that runs
 * until it is done: a pattern that backtracks (("a-"):rep(20) .. "b" on 40
 * characters) runs for minutes, and no Lua hook fires meanwhile. This one
 * is a backtracking matcher with the same language and results, written
 * for FlyQ, that every POLL_STEPS steps asks the sandbox whether the call
 * is over its budget (flyq__lua_poll, which raises "time limit exceeded"
 * like the budget's hook). spec/c/test-host-pattern.c compares it with the
 * stock functions on thousands of patterns.
 */
#include <ctype.h>
#include <lauxlib.h>
#include <string.h>

#include "host/sandbox.h"

#define MAXCAPTURES 32   /* LUA_MAXCAPTURES */
#define MAXDEPTH 200     /* nested match calls, as MAXCCALLS in lstrlib */
#define POLL_STEPS 4096  /* match steps between two budget checks */
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)
#define ESC '%'
#define SPECIALS "^$*+?.([%-"

#define uchar(c) ((unsigned char)(c))

typedef struct matcher {
  const char *src_init, *src_end, *p_end;
  lua_State *L;
  int depth;           /* match calls left before "pattern too complex" */
  int level;           /* captures open or closed */
  unsigned steps;
  struct {
    const char *init;
    ptrdiff_t len;     /* or CAP_UNFINISHED, CAP_POSITION */
  } capture[MAXCAPTURES];
} matcher_t;

static const char *match(matcher_t *m, const char *s, const char *p);

/* ---- Single characters and classes ------------------------------------- */

static int class_has(int c, int cl) {
  int res;
  switch (tolower(cl)) {
  case 'a': res = isalpha(c); break;
  case 'c': res = iscntrl(c); break;
  case 'd': res = isdigit(c); break;
  case 'g': res = isgraph(c); break;
  case 'l': res = islower(c); break;
  case 'p': res = ispunct(c); break;
  case 's': res = isspace(c); break;
  case 'u': res = isupper(c); break;
  case 'w': res = isalnum(c); break;
  case 'x': res = isxdigit(c); break;
  case 'z': res = c == 0; break; /* deprecated in Lua, still there */
  default: return cl == c;
  }
  if (isupper(cl)) res = !res;
  return res != 0;
}

/* c in the set [p .. ec] (p at '[', ec at its ']'). */
static int set_has(int c, const char *p, const char *ec) {
  int yes = 1;
  if (*(p + 1) == '^') {
    yes = 0;
    p++;
  }
  while (++p < ec) {
    if (*p == ESC) {
      p++;
      if (class_has(c, uchar(*p))) return yes;
    } else if (*(p + 1) == '-' && p + 2 < ec) {
      p += 2;
      if (uchar(*(p - 2)) <= c && c <= uchar(*p)) return yes;
    } else if (uchar(*p) == c) {
      return yes;
    }
  }
  return !yes;
}

/* The end of the single-character class at p. */
static const char *class_end(matcher_t *m, const char *p) {
  char c = *p++;
  if (c == ESC) {
    if (p == m->p_end) luaL_error(m->L, "malformed pattern (ends with '%%')");
    return p + 1;
  }
  if (c == '[') {
    if (*p == '^') p++;
    do {
      if (p == m->p_end) luaL_error(m->L, "malformed pattern (missing ']')");
      if (*(p++) == ESC && p < m->p_end) p++;
    } while (*p != ']');
    return p + 1;
  }
  return p;
}

/* 1 if the character at s matches the class p..ep. */
static int single(matcher_t *m, const char *s, const char *p, const char *ep) {
  int c;
  if (s >= m->src_end) return 0;
  c = uchar(*s);
  switch (*p) {
  case '.': return 1;
  case ESC: return class_has(c, uchar(*(p + 1)));
  case '[': return set_has(c, p, ep - 1);
  default: return uchar(*p) == c;
  }
}

/* ---- Items ------------------------------------------------------------ */

static const char *balance(matcher_t *m, const char *s, const char *p) {
  int open = 1;
  if (p >= m->p_end - 1)
    luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
  if (s >= m->src_end || *s != *p) return NULL;
  while (++s < m->src_end) {
    if (*s == *(p + 1)) {
      if (--open == 0) return s + 1;
    } else if (*s == *p) {
      open++;
    }
  }
  return NULL;
}

/* p..ep repeated as often as possible, then fewer, as the rest allows. */
static const char *greedy(matcher_t *m, const char *s, const char *p,
                          const char *ep) {
  ptrdiff_t i = 0;
  while (single(m, s + i, p, ep)) i++;
  for (; i >= 0; i--) {
    const char *r = match(m, s + i, ep + 1);
    if (r) return r;
  }
  return NULL;
}

/* p..ep repeated as rarely as the rest allows. */
static const char *lazy(matcher_t *m, const char *s, const char *p,
                        const char *ep) {
  for (;;) {
    const char *r = match(m, s, ep + 1);
    if (r) return r;
    if (!single(m, s, p, ep)) return NULL;
    s++;
  }
}

static const char *open_capture(matcher_t *m, const char *s, const char *p,
                                ptrdiff_t what) {
  const char *r;
  if (m->level >= MAXCAPTURES) luaL_error(m->L, "too many captures");
  m->capture[m->level].init = s;
  m->capture[m->level].len = what;
  m->level++;
  if ((r = match(m, s, p)) == NULL) m->level--;
  return r;
}

static const char *close_capture(matcher_t *m, const char *s, const char *p) {
  int l = m->level - 1;
  const char *r;
  while (l >= 0 && m->capture[l].len != CAP_UNFINISHED) l--;
  if (l < 0) luaL_error(m->L, "invalid pattern capture");
  m->capture[l].len = s - m->capture[l].init;
  if ((r = match(m, s, p)) == NULL) m->capture[l].len = CAP_UNFINISHED;
  return r;
}

static int capture_index(matcher_t *m, int c) {
  int l = c - '1';
  if (l < 0 || l >= m->level || m->capture[l].len == CAP_UNFINISHED)
    return luaL_error(m->L, "invalid capture index %%%d", l + 1);
  return l;
}

static const char *backref(matcher_t *m, const char *s, int c) {
  int l = capture_index(m, c);
  size_t len = (size_t)m->capture[l].len;
  if ((size_t)(m->src_end - s) >= len &&
      memcmp(m->capture[l].init, s, len) == 0)
    return s + len;
  return NULL;
}

/* %f[set]: the transition from a character not in set to one in it. */
static const char *frontier(matcher_t *m, const char *s, const char **p) {
  const char *ep;
  int prev, cur;
  *p += 2;
  if (**p != '[') luaL_error(m->L, "missing '[' after '%%f' in pattern");
  ep = class_end(m, *p);
  prev = s == m->src_init ? 0 : uchar(*(s - 1));
  cur = s < m->src_end ? uchar(*s) : 0;
  if (!set_has(prev, *p, ep - 1) && set_has(cur, *p, ep - 1)) {
    *p = ep;
    return s;
  }
  return NULL;
}

/* A single-character class at p with its quantifier, if any; the end of
 * the match, or NULL. Sets *next (and returns s) when matching goes on
 * with the pattern at *next without a new match call, as Lua's own
 * matcher does, so that literal text costs no depth. */
static const char *item(matcher_t *m, const char *s, const char *p,
                        const char **next) {
  const char *ep = class_end(m, p), *r;
  *next = NULL;
  if (!single(m, s, p, ep)) {
    if (*ep == '*' || *ep == '?' || *ep == '-') *next = ep + 1;
    return *next ? s : NULL;
  }
  switch (*ep) {
  case '?':
    if ((r = match(m, s + 1, ep + 1)) != NULL) return r;
    *next = ep + 1;
    return s;
  case '+': return greedy(m, s + 1, p, ep);
  case '*': return greedy(m, s, p, ep);
  case '-': return lazy(m, s, p, ep);
  default:
    *next = ep;
    return s + 1;
  }
}

/* One step of matching; every POLL_STEPS steps the budget is checked (and
 * may raise). */
static void step(matcher_t *m) {
  if (++m->steps % POLL_STEPS == 0) flyq__lua_poll(m->L);
}

/* The end of the match of p at s, or NULL. Every call and every pattern
 * item it goes through is a step (a long literal is many items in one
 * call). */
static const char *match(matcher_t *m, const char *s, const char *p) {
  const char *r = s, *next;
  if (m->depth-- == 0) luaL_error(m->L, "pattern too complex");
  step(m);
  while (r != NULL && p != m->p_end) {
    step(m);
    if (*p == '(') {
      r = *(p + 1) == ')' ? open_capture(m, r, p + 2, CAP_POSITION)
                          : open_capture(m, r, p + 1, CAP_UNFINISHED);
      break;
    } else if (*p == ')') {
      r = close_capture(m, r, p + 1);
      break;
    } else if (*p == '$' && p + 1 == m->p_end) {
      r = r == m->src_end ? r : NULL;
      break;
    } else if (*p == ESC && *(p + 1) == 'b') {
      if ((r = balance(m, r, p + 2)) != NULL) p += 4;
    } else if (*p == ESC && *(p + 1) == 'f') {
      r = frontier(m, r, &p);
    } else if (*p == ESC && isdigit(uchar(*(p + 1)))) {
      if ((r = backref(m, r, uchar(*(p + 1)))) != NULL) p += 2;
    } else {
      r = item(m, r, p, &next);
      if (next == NULL) break;
      p = next;
    }
  }
  m->depth++;
  return r;
}

/* ---- Captures ----------------------------------------------------------- */

/* Pushes capture i (the whole match s..e when the pattern has none). */
static void push_capture(matcher_t *m, int i, const char *s, const char *e) {
  if (i >= m->level) {
    if (i != 0) luaL_error(m->L, "invalid capture index %%%d", i + 1);
    lua_pushlstring(m->L, s, (size_t)(e - s));
    return;
  }
  if (m->capture[i].len == CAP_UNFINISHED)
    luaL_error(m->L, "unfinished capture");
  if (m->capture[i].len == CAP_POSITION)
    lua_pushinteger(m->L, (m->capture[i].init - m->src_init) + 1);
  else
    lua_pushlstring(m->L, m->capture[i].init, (size_t)m->capture[i].len);
}

/* Pushes every capture (s NULL: none for a pattern without captures). */
static int push_captures(matcher_t *m, const char *s, const char *e) {
  int n = m->level == 0 && s ? 1 : m->level;
  luaL_checkstack(m->L, n, "too many captures");
  for (int i = 0; i < n; i++) push_capture(m, i, s, e);
  return n;
}

static void prepare(matcher_t *m, lua_State *L, const char *s, size_t ls,
                    const char *p, size_t lp) {
  m->L = L;
  m->src_init = s;
  m->src_end = s + ls;
  m->p_end = p + lp;
  m->steps = 0;
}

static void restart(matcher_t *m) {
  m->level = 0;
  m->depth = MAXDEPTH;
}

/* ---- The functions -------------------------------------------------------- */

/* string.find's and string.match's start: 1-based, negative from the end. */
static size_t start_at(lua_Integer pos, size_t len) {
  if (pos > 0) return (size_t)pos;
  if (pos == 0) return 1;
  if (pos < -(lua_Integer)len) return 1;
  return len + (size_t)pos + 1;
}

static int no_specials(const char *p, size_t lp) {
  size_t upto = 0;
  do {
    if (strpbrk(p + upto, SPECIALS)) return 0;
    upto += strlen(p + upto) + 1; /* past an embedded zero */
  } while (upto <= lp);
  return 1;
}

/* glibc's memmem is linear in ls + lp (the two-way algorithm): a plain
 * search cannot run long enough to need the budget, where a naive one
 * takes ls * lp steps (2e6 * 1e5 on a 2 MB subject). */
static const char *find_plain(const char *s, size_t ls, const char *p,
                              size_t lp) {
  if (lp == 0) return s;
  return memmem(s, ls, p, lp);
}

static int find_or_match(lua_State *L, int find) {
  size_t ls, lp;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  size_t init = start_at(luaL_optinteger(L, 3, 1), ls) - 1;
  if (init > ls) {
    luaL_pushfail(L);
    return 1;
  }
  if (find && (lua_toboolean(L, 4) || no_specials(p, lp))) {
    const char *at = find_plain(s + init, ls - init, p, lp);
    if (at) {
      lua_pushinteger(L, (at - s) + 1);
      lua_pushinteger(L, (at - s) + (lua_Integer)lp);
      return 2;
    }
  } else {
    matcher_t m;
    const char *s1 = s + init, *e;
    int anchor = *p == '^';
    if (anchor) p++, lp--;
    prepare(&m, L, s, ls, p, lp);
    do {
      restart(&m);
      if ((e = match(&m, s1, p)) != NULL) {
        if (!find) return push_captures(&m, s1, e);
        lua_pushinteger(L, (s1 - s) + 1);
        lua_pushinteger(L, e - s);
        return push_captures(&m, NULL, NULL) + 2;
      }
    } while (s1++ < m.src_end && !anchor);
  }
  luaL_pushfail(L);
  return 1;
}

static int pattern_find(lua_State *L) { return find_or_match(L, 1); }
static int pattern_match(lua_State *L) { return find_or_match(L, 0); }

/* gmatch's state, a userdata kept by the iterator with the subject and
 * the pattern (upvalues 2 and 3), which it points into. */
typedef struct gmatch {
  const char *src, *p, *last;
  matcher_t m;
} gmatch_t;

static int gmatch_next(lua_State *L) {
  gmatch_t *g = lua_touserdata(L, lua_upvalueindex(1));
  g->m.L = L;
  for (const char *s = g->src; s <= g->m.src_end; s++) {
    const char *e;
    restart(&g->m);
    if ((e = match(&g->m, s, g->p)) != NULL && e != g->last) {
      g->src = g->last = e;
      return push_captures(&g->m, s, e);
    }
  }
  return 0;
}

static int pattern_gmatch(lua_State *L) {
  size_t ls, lp;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  size_t init = start_at(luaL_optinteger(L, 3, 1), ls) - 1;
  gmatch_t *g;
  lua_settop(L, 2);
  g = lua_newuserdatauv(L, sizeof *g, 0);
  if (init > ls) init = ls + 1; /* no match */
  prepare(&g->m, L, s, ls, p, lp);
  g->src = s + init;
  g->p = p;
  g->last = NULL;
  lua_insert(L, 1); /* [g, s, p] */
  lua_pushcclosure(L, gmatch_next, 3);
  return 1;
}

/* Appends repl (a string, at 3) with %0-%9 and %% filled in. */
static void add_string(matcher_t *m, luaL_Buffer *b, const char *s,
                       const char *e) {
  size_t l;
  const char *r = lua_tolstring(m->L, 3, &l), *esc;
  while ((esc = memchr(r, ESC, l)) != NULL) {
    luaL_addlstring(b, r, (size_t)(esc - r));
    esc++;
    if (*esc == ESC) {
      luaL_addchar(b, ESC);
    } else if (*esc == '0') {
      luaL_addlstring(b, s, (size_t)(e - s));
    } else if (isdigit(uchar(*esc))) {
      push_capture(m, *esc - '1', s, e);
      luaL_tolstring(m->L, -1, NULL); /* a position becomes text */
      lua_remove(m->L, -2);
      luaL_addvalue(b);
    } else {
      luaL_error(m->L, "invalid use of '%c' in replacement string", ESC);
    }
    l -= (size_t)(esc + 1 - r);
    r = esc + 1;
  }
  luaL_addlstring(b, r, l);
}

/* Appends the replacement of the match s..e (repl of type tr at 3);
 * returns 1 if it differs from the match. */
static int add_replacement(matcher_t *m, luaL_Buffer *b, const char *s,
                           const char *e, int tr) {
  lua_State *L = m->L;
  if (tr == LUA_TFUNCTION) {
    int n;
    lua_pushvalue(L, 3);
    n = push_captures(m, s, e);
    lua_call(L, n, 1);
  } else if (tr == LUA_TTABLE) {
    push_capture(m, 0, s, e);
    lua_gettable(L, 3);
  } else {
    add_string(m, b, s, e);
    return 1;
  }
  if (!lua_toboolean(L, -1)) { /* nil or false: keep the match */
    lua_pop(L, 1);
    luaL_addlstring(b, s, (size_t)(e - s));
    return 0;
  }
  if (!lua_isstring(L, -1))
    return luaL_error(L, "invalid replacement value (a %s)",
                      luaL_typename(L, -1));
  luaL_addvalue(b);
  return 1;
}

static int pattern_gsub(lua_State *L) {
  size_t ls, lp;
  const char *src = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  const char *last = NULL;
  int tr = lua_type(L, 3), anchor = *p == '^', changed = 0;
  lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1), n = 0;
  matcher_t m;
  luaL_Buffer b;
  luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING ||
                          tr == LUA_TFUNCTION || tr == LUA_TTABLE,
                   3, "string/function/table");
  luaL_buffinit(L, &b);
  if (anchor) p++, lp--;
  prepare(&m, L, src, ls, p, lp);
  while (n < max) {
    const char *e;
    restart(&m);
    if ((e = match(&m, src, p)) != NULL && e != last) {
      n++;
      changed = add_replacement(&m, &b, src, e, tr) | changed;
      src = last = e;
    } else if (src < m.src_end) {
      luaL_addchar(&b, *src++);
    } else {
      break;
    }
    if (anchor) break;
  }
  if (!changed) {
    lua_pushvalue(L, 1);
  } else {
    luaL_addlstring(&b, src, (size_t)(m.src_end - src));
    luaL_pushresult(&b);
  }
  lua_pushinteger(L, n);
  return 2;
}

void flyq__pattern_open(lua_State *L) {
  static const luaL_Reg fns[] = {{"find", pattern_find},
                                 {"match", pattern_match},
                                 {"gmatch", pattern_gmatch},
                                 {"gsub", pattern_gsub},
                                 {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
