/* The Lua modules compiled into the binary (lua/flyq/<name>.lua, listed in
 * cmake/embed.cmake, which generates the table below at build time) and
 * their registration in package.preload.
 */
#ifndef FLYQ_HOST_EMBEDDED_H
#define FLYQ_HOST_EMBEDDED_H

#include <lua.h>
#include <stddef.h>

typedef struct flyq__lua_module {
  const char *name;        /* for require: "flyq.config" */
  const char *chunkname;   /* for messages: "@lua/flyq/config.lua" */
  const unsigned char *src;
  size_t len;
} flyq__lua_module_t;

/* Every embedded module; the last entry has name NULL. */
extern const flyq__lua_module_t flyq__lua_modules[];

/* Sets package.preload[name] to a loader for each embedded module. The
 * package library must be open. [-0, +0, m] */
void flyq__lua_preload(lua_State *L);

#endif /* FLYQ_HOST_EMBEDDED_H */
