/* The auth chain (flyq_plugins_authenticate, flyq_plugins_authorize): the
 * plugins of the config's `auth`, asked in order. Both fail closed: a hook
 * that errors (or runs out of budget or memory) denies.
 */
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/common.h"
#include "host/runtime.h"

typedef struct auth_request {
  const char *mechanism;
  const uint8_t *credentials;
  size_t len;
  const flyq_plugins_conn_t *conn;
  const uint8_t *password; /* "plain": the password inside credentials */
  size_t password_len;
} auth_request_t;

#define SCRUB_TAIL_MIN 4  /* shortest cut copy recognised at a text's end */

/* Replaces in text (a buffer of size bytes) every copy of secret[0..n)
 * by "***", and a text that ends with at least SCRUB_TAIL_MIN bytes of its
 * beginning (a copy cut by a buffer's size) too; a secret of 1 or 2 bytes,
 * too short to hide, found anywhere replaces the whole text ("***", or ""
 * when that does not fit). Writes nothing past size. */
static void scrub_one(char *text, size_t size, const uint8_t *secret,
                      size_t n) {
  char *from = text, *p;
  size_t len;
  if (n == 0 || size == 0) return;
  while ((p = memmem(from, strlen(from), secret, n)) != NULL) {
    if (n < 3) {
      snprintf(text, size, "%s", size >= 4 ? "***" : "");
      return;
    }
    memmove(p + 3, p + n, strlen(p + n) + 1);
    memcpy(p, "***", 3);
    from = p + 3;
  }
  len = strlen(text);
  for (size_t k = n - 1 < len ? n - 1 : len; k >= SCRUB_TAIL_MIN; k--)
    if (memcmp(text + len - k, secret, k) == 0) {
      strcpy(text + len - k, "***");
      return;
    }
}

/* flyq__call_t.scrub for authenticate: hides the credentials and, for
 * "plain", the password alone, wherever a plugin's text quotes them. */
static void scrub_credentials(char *text, size_t size, const void *arg) {
  const auth_request_t *req = arg;
  scrub_one(text, size, req->credentials, req->len);
  scrub_one(text, size, req->password, req->password_len);
}

/* The password of RFC 4616 credentials ([authzid] NUL user NUL pass). */
static void find_password(auth_request_t *req) {
  const uint8_t *a, *b;
  if (req->mechanism == NULL || strcmp(req->mechanism, "plain") != 0) return;
  a = memchr(req->credentials, '\0', req->len);
  b = a ? memchr(a + 1, '\0', req->len - (size_t)(a + 1 - req->credentials))
        : NULL;
  if (b == NULL) return;
  req->password = b + 1;
  req->password_len = req->len - (size_t)(b + 1 - req->credentials);
}

typedef struct authz_request {
  const char *principal;
  const char *action;
  const char *resource;
} authz_request_t;

static void push_opt(lua_State *L, const char *s) {
  if (s)
    lua_pushstring(L, s);
  else
    lua_pushnil(L);
}

/* authenticate(inst, mechanism, data, remote, local) */
static int push_auth(lua_State *L, void *arg) {
  const auth_request_t *req = arg;
  lua_pushstring(L, req->mechanism ? req->mechanism : "");
  lua_pushlstring(L, (const char *)req->credentials, req->len);
  push_opt(L, req->conn ? req->conn->remote : NULL);
  push_opt(L, req->conn ? req->conn->local : NULL);
  return 4;
}

/* authorize(inst, principal, action, resource) */
static int push_authz(lua_State *L, void *arg) {
  const authz_request_t *req = arg;
  push_opt(L, req->principal);
  push_opt(L, req->action);
  push_opt(L, req->resource);
  return 3;
}

/* Calls hook (authenticate or authorize) of p once, counted in its calls,
 * with scrub (may be NULL) applied to an error message (flyq__call_t);
 * flyq__plugin_run's contract (an error is counted and logged). */
static int run_auth(flyq__plugin_t *p, const char *hook,
                    flyq__push_args_fn push, void *req, int nresults,
                    void (*scrub)(char *text, size_t size,
                                  const void *arg)) {
  flyq__call_t call = {.hook = hook, .scrub = scrub, .scrub_arg = req};
  char err[512];
  p->calls++;
  return flyq__plugin_run(p, &call, hook, push, req, nresults, err, sizeof err);
}

/* Asks one authenticate hook. Returns 1 (accepted: *principal set), 0
 * (passed: reason updated) or a negative code (failed). */
static int ask_authenticate(flyq__plugin_t *p, auth_request_t *req,
                            char **principal, char *reason, size_t reasonlen) {
  int rc = run_auth(p, "authenticate", push_auth, req, 2, scrub_credentials);
  if (rc < 0) {
    snprintf(reason, reasonlen, "authentication failed (plugin %s failed)",
             p->name);
    return rc;
  }
  if (lua_type(p->L, -2) == LUA_TSTRING) {
    rc = (*principal = strdup(lua_tostring(p->L, -2))) ? 1 : -ENOMEM;
  } else if (lua_type(p->L, -1) == LUA_TSTRING) {
    snprintf(reason, reasonlen, "%s", lua_tostring(p->L, -1));
    scrub_credentials(reason, reasonlen, req);
  }
  lua_pop(p->L, 2);
  return rc;
}

int flyq_plugins_authenticate(flyq_plugins_t *rt, const char *mechanism,
                              const uint8_t *credentials, size_t len,
                              const flyq_plugins_conn_t *conn,
                              char **principal, char *reason,
                              size_t reasonlen) {
  char ignored[1];
  auth_request_t req = {mechanism, credentials ? credentials : (const uint8_t *)"",
                        credentials ? len : 0, conn, NULL, 0};
  int asked = 0;
  if (reason == NULL || reasonlen == 0) reason = ignored, reasonlen = sizeof ignored;
  snprintf(reason, reasonlen, "no authentication plugin accepted the credentials");
  *principal = NULL;
  find_password(&req);
  for (size_t i = 0; i < rt->nauth; i++) {
    int rc;
    if (!(rt->auth[i]->hooks & FLYQ__HOOK_AUTHENTICATE)) continue;
    asked = 1;
    rc = ask_authenticate(rt->auth[i], &req, principal, reason, reasonlen);
    if (rc == 1) return 0;
    if (rc == -ENOMEM) return rc;
    if (rc < 0) return FLYQ_ERR_AUTH;
  }
  if (!asked) {
    snprintf(reason, reasonlen, "no authenticate hook is configured");
    return FLYQ_ERR_UNSUPPORTED;
  }
  return FLYQ_ERR_AUTH;
}

/* Asks one authorize hook: 1 allow, 0 deny, -1 abstain. A failure denies. */
static int ask_authorize(flyq__plugin_t *p, authz_request_t *req) {
  int answer;
  if (run_auth(p, "authorize", push_authz, req, 1, NULL) < 0) return 0;
  answer = lua_isnil(p->L, -1) ? -1 : lua_toboolean(p->L, -1);
  lua_pop(p->L, 1);
  return answer;
}

int flyq_plugins_authorize(flyq_plugins_t *rt, const char *principal,
                           const char *action, const char *resource) {
  authz_request_t req = {principal, action, resource};
  int asked = 0;
  for (size_t i = 0; i < rt->nauth; i++) {
    int answer;
    if (!(rt->auth[i]->hooks & FLYQ__HOOK_AUTHORIZE)) continue;
    asked = 1;
    answer = ask_authorize(rt->auth[i], &req);
    if (answer >= 0) return answer ? 0 : FLYQ_ERR_DENIED;
  }
  return asked ? FLYQ_ERR_DENIED : 0;
}
