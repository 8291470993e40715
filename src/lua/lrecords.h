/* Records between Lua tables and RecordBatch v2 bytes, for the flyq.core
 * module (lcore.c, lclient.c). Internal to src/lua. */
#ifndef FLYQ_LUA_LRECORDS_H
#define FLYQ_LUA_LRECORDS_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "flyq/batch.h"

/* 1 and *v set if the value at idx is a number with an exact integer
 * representation (numeric strings are refused), else 0. */
int flyq__lua_tointeger(lua_State *L, int idx, lua_Integer *v);

/* The number of entries of the table at idx. */
size_t flyq__lua_count(lua_State *L, int idx);

/* Adds the records of the Lua array at arg ({key=, value=, timestamp=,
 * headers=}; headers an array of {k, v} pairs or a map) to b. Raises
 * "bad argument #arg (record i: ...)" on a malformed record; returns 0 or a
 * builder error. */
int flyq__lua_records_build(lua_State *L, int arg, flyq_batch_builder_t *b);

/* Pushes an array of the records (offset >= from) of the batches at
 * buf[0..len), each validated (CRC); *next receives the offset after the
 * last batch (from when there is none). Returns 0 or a negative code (the
 * partial array stays pushed). */
int flyq__lua_records_push(lua_State *L, const uint8_t *buf, size_t len,
                           int64_t from, int64_t *next);

#endif /* FLYQ_LUA_LRECORDS_H */
