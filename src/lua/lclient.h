/* The C client (include/flyq/client.h) in the flyq.core Lua module. The
 * friendly API on top of it is lua/flyq/client.lua; this is the raw layer:
 *
 *   core.connect(addr [, opts]) -> client | nil, err, code
 *   core.batch_encode(records)  -> bytes (one RecordBatch v2)
 *   core.batch_decode(bytes [, from]) -> records, next_offset | nil, err, code
 *
 * and the methods of a client (see lclient.c). Expected failures return
 * nil, message, code where code is the wire error name when the broker
 * answered with one ("UNKNOWN_TOPIC_OR_PARTITION") and flyq_errname()
 * otherwise ("CLOSED", "TIMEOUT", "ECONNREFUSED"); misuse raises.
 */
#ifndef FLYQ_LUA_LCLIENT_H
#define FLYQ_LUA_LCLIENT_H

#include <lua.h>

#include "flyq/batch.h"

/* Adds the functions above to the module table on top of the stack and
 * creates the client metatable. luaopen_flyq_core calls it. */
void flyq__lua_client_open(lua_State *L);

/* Adds the records of the Lua array at arg ({key=, value=, timestamp=,
 * headers=}; headers an array of {k, v} pairs or a map) to b. Raises on a
 * malformed record; returns 0 or a builder error. */
int flyq__lua_records_build(lua_State *L, int arg, flyq_batch_builder_t *b);

/* Pushes an array of the records (offset >= from) of the batches at
 * buf[0..len), each validated (CRC); *next receives the offset after the
 * last batch (from when there is none). Returns 0 or a negative code (the
 * partial array stays pushed). */
int flyq__lua_records_push(lua_State *L, const uint8_t *buf, size_t len,
                           int64_t from, int64_t *next);

#endif /* FLYQ_LUA_LCLIENT_H */
