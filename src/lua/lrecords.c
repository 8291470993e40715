/* Records between Lua tables and RecordBatch v2 bytes, shared by the store
 * binding (lcore.c) and the client binding (lclient.c) of flyq.core. A
 * record is {key=, value=, timestamp=, headers=}: key and value are strings
 * or nil (null), headers an array of {key, value} pairs or a map. */
#include "lua/lrecords.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>

#include "flyq/client.h"
#include "flyq/common.h"

/* Sets *v and returns 1 if the value at idx is a number with an exact
 * integer representation (strings are not converted). */
int flyq__lua_tointeger(lua_State *L, int idx, lua_Integer *v) {
  int isnum = 0;
  if (lua_type(L, idx) != LUA_TNUMBER) return 0;
  *v = lua_tointegerx(L, idx, &isnum);
  return isnum;
}

/* Counts the entries of the table at idx. */
size_t flyq__lua_count(lua_State *L, int idx) {
  size_t n = 0;
  lua_pushnil(L);                 /* [.., nil] */
  while (lua_next(L, idx) != 0) { /* [.., key, value] */
    n++;
    lua_pop(L, 1); /* [.., key] */
  }
  return n;
}

/* ---- Records from Lua ---- */

/* Raises "bad argument #arg (record i: msg)". */
static int lrec_error(lua_State *L, int arg, lua_Integer i, const char *msg) {
  return luaL_argerror(L, arg, lua_pushfstring(L, "record %I: %s", i, msg));
}

/* Reads the string or nil at idx for record i: returns its bytes, or NULL
 * with *len = -1 for nil. The string must stay referenced (on the stack or
 * in a table read raw) while the pointer is used. */
static const char *lrec_bytes(lua_State *L, int idx, int arg, lua_Integer i,
                              const char *what, int32_t *len) {
  size_t n;
  if (lua_isnil(L, idx)) {
    *len = -1;
    return NULL;
  }
  if (lua_type(L, idx) != LUA_TSTRING)
    lrec_error(L, arg, i,
               lua_pushfstring(L, "%s must be a string or nil", what));
  const char *s = lua_tolstring(L, idx, &n);
  if (n > INT32_MAX)
    lrec_error(L, arg, i, lua_pushfstring(L, "%s too long", what));
  *len = (int32_t)n;
  return s;
}

/* Raises unless every field of record i (the table at idx) is known. */
static void lrec_check_fields(lua_State *L, int idx, int arg, lua_Integer i) {
  static const char *const known[] = {"key", "value", "timestamp", "headers",
                                      NULL};
  lua_pushnil(L);                 /* [.., nil] */
  while (lua_next(L, idx) != 0) { /* [.., field, value] */
    if (lua_type(L, -2) != LUA_TSTRING)
      lrec_error(L, arg, i, "field names are strings");
    const char *field = lua_tostring(L, -2);
    int ok = 0;
    for (int k = 0; known[k] != NULL; k++) ok |= strcmp(field, known[k]) == 0;
    if (!ok)
      lrec_error(L, arg, i, lua_pushfstring(L, "unknown field '%s'", field));
    lua_pop(L, 1); /* [.., field] */
  }
}

/* Fills h from the array of {key, value} pairs at idx (n entries). */
static void lrec_header_pairs(lua_State *L, int idx, lua_Integer n,
                              flyq_record_header_t *h, int arg, lua_Integer i) {
  for (lua_Integer j = 0; j < n; j++) {
    if (lua_rawgeti(L, idx, j + 1) != LUA_TTABLE) /* [.., pair] */
      lrec_error(L, arg, i, "headers must be {key, value} pairs");
    lua_rawgeti(L, -1, 1); /* [.., pair, key] */
    lua_rawgeti(L, -2, 2); /* [.., pair, key, value] */
    if (lua_isnil(L, -2)) lrec_error(L, arg, i, "header key must be a string");
    h[j].key =
        (const uint8_t *)lrec_bytes(L, -2, arg, i, "header key", &h[j].key_len);
    h[j].value = (const uint8_t *)lrec_bytes(L, -1, arg, i, "header value",
                                             &h[j].value_len);
    lua_pop(L, 3); /* [..] */
  }
}

/* Fills h from the map name -> value at idx. */
static void lrec_header_map(lua_State *L, int idx, flyq_record_header_t *h,
                            int arg, lua_Integer i) {
  size_t j = 0;
  lua_pushnil(L);                 /* [.., nil] */
  while (lua_next(L, idx) != 0) { /* [.., name, value] */
    if (lua_type(L, -2) != LUA_TSTRING)
      lrec_error(L, arg, i, "header names must be strings");
    h[j].key =
        (const uint8_t *)lrec_bytes(L, -2, arg, i, "header key", &h[j].key_len);
    h[j].value = (const uint8_t *)lrec_bytes(L, -1, arg, i, "header value",
                                             &h[j].value_len);
    j++;
    lua_pop(L, 1); /* [.., name] */
  }
}

/* Converts the headers field at idx (nil, an array of {key, value} pairs or
 * a map name -> value) into an array pushed as a userdata; *out points to
 * it. Returns the header count. */
static int32_t lrec_headers(lua_State *L, int idx, flyq_record_header_t **out,
                            int arg, lua_Integer i) {
  *out = NULL;
  if (lua_isnil(L, idx)) return 0;
  if (!lua_istable(L, idx)) lrec_error(L, arg, i, "headers must be a table");
  size_t total = flyq__lua_count(L, idx);
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  if (n > 0 && (size_t)n != total)
    lrec_error(L, arg, i,
               "headers must be an array of pairs or a map, not both");
  if (total > (size_t)INT32_MAX / sizeof **out)
    lrec_error(L, arg, i, "too many headers");
  *out = lua_newuserdatauv(L, total * sizeof **out, 0); /* [.., hdrs] */
  if (n > 0)
    lrec_header_pairs(L, idx, n, *out, arg, i);
  else
    lrec_header_map(L, idx, *out, arg, i);
  return (int32_t)total;
}

/* Adds record i, the table at the top of the stack, to b and pops it.
 * Raises on a malformed record; returns 0 or a builder error. */
static int lrec_add(lua_State *L, flyq_batch_builder_t *b, int arg,
                    lua_Integer i, int64_t now) {
  int r = lua_gettop(L); /* [.., rec] */
  int32_t klen, vlen;
  lua_Integer ts = now;
  flyq_record_header_t *hdrs;
  if (!lua_istable(L, r)) lrec_error(L, arg, i, "not a table");
  lrec_check_fields(L, r, arg, i);
  lua_getfield(L, r, "key");       /* [.., rec, key] */
  lua_getfield(L, r, "value");     /* [.., rec, key, value] */
  lua_getfield(L, r, "timestamp"); /* [.., rec, key, value, ts] */
  lua_getfield(L, r, "headers");   /* [.., rec, key, value, ts, hs] */
  const char *key = lrec_bytes(L, r + 1, arg, i, "key", &klen);
  const char *value = lrec_bytes(L, r + 2, arg, i, "value", &vlen);
  if (!lua_isnil(L, r + 3) && !flyq__lua_tointeger(L, r + 3, &ts))
    lrec_error(L, arg, i, "timestamp must be an integer");
  int32_t nh = lrec_headers(L, r + 4, &hdrs, arg, i); /* [.., hs, hdrs?] */
  int err = flyq_batch_builder_add(b, ts, key, klen, value, vlen, hdrs, nh);
  lua_settop(L, r - 1); /* [..] */
  return err;
}

/* Builds one batch from the array of records at arg into b. Returns 0 or a
 * builder error; raises on malformed records. */
int flyq__lua_records_build(lua_State *L, int arg, flyq_batch_builder_t *b) {
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_Integer n = (lua_Integer)lua_rawlen(L, arg);
  luaL_argcheck(L, n > 0, arg, "expected a non-empty array of records");
  int64_t now = flyq_now_ms();
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, arg, i);                /* [.., rec] */
    int err = lrec_add(L, b, arg, i, now); /* [..] */
    if (err < 0) return err;
  }
  return 0;
}

/* ---- Records to Lua ---- */

static void lpush_bytes(lua_State *L, const uint8_t *p, int32_t len) {
  if (len < 0) lua_pushnil(L);
  else lua_pushlstring(L, (const char *)p, (size_t)len);
}

/* Pushes the headers of rec as an array of {key, value} pairs. */
static int lpush_headers(lua_State *L, const flyq_record_t *rec) {
  const uint8_t *p = NULL;
  flyq_record_header_t h;
  int r, n = 0;
  lua_createtable(L, rec->header_count, 0); /* [.., hs] */
  while ((r = flyq_record_next_header(rec, &p, &h)) == 1) {
    lua_createtable(L, 2, 0);             /* [.., hs, pair] */
    lpush_bytes(L, h.key, h.key_len);     /* [.., hs, pair, k] */
    lua_rawseti(L, -2, 1);                /* [.., hs, pair] */
    lpush_bytes(L, h.value, h.value_len); /* [.., hs, pair, v] */
    lua_rawseti(L, -2, 2);                /* [.., hs, pair] */
    lua_rawseti(L, -2, ++n);              /* [.., hs] */
  }
  return r;
}

/* Pushes {offset=, timestamp=, key=, value=, headers=}. */
static int lpush_record(lua_State *L, const flyq_record_t *rec) {
  lua_createtable(L, 0, 5); /* [.., rec] */
  lua_pushinteger(L, rec->offset);
  lua_setfield(L, -2, "offset");
  lua_pushinteger(L, rec->timestamp);
  lua_setfield(L, -2, "timestamp");
  lpush_bytes(L, rec->key, rec->key_len);
  lua_setfield(L, -2, "key");
  lpush_bytes(L, rec->value, rec->value_len);
  lua_setfield(L, -2, "value");
  int r = lpush_headers(L, rec);  /* [.., rec, hs] */
  lua_setfield(L, -2, "headers"); /* [.., rec] */
  return r;
}

int flyq__lua_records_push(lua_State *L, const uint8_t *buf, size_t len,
                           int64_t from, int64_t *next) {
  flyq_fetch_iter_t it;
  flyq_record_t rec;
  lua_Integer n = 0;
  int r;
  lua_newtable(L); /* [.., list] */
  flyq_fetch_iter_init(&it, buf, len, from);
  while ((r = flyq_fetch_iter_next(&it, &rec)) == 1) {
    r = lpush_record(L, &rec); /* [.., list, rec] */
    if (r < 0) break;
    lua_rawseti(L, -2, ++n); /* [.., list] */
  }
  *next = it.next_offset;
  return r;
}
