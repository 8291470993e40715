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

/* Adds the functions above to the module table on top of the stack and
 * creates the client metatable. luaopen_flyq_core calls it. */
void flyq__lua_client_open(lua_State *L);

#endif /* FLYQ_LUA_LCLIENT_H */
