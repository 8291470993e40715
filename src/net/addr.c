/* Listening addresses: "host:port" strings from the config (IPv4 literal,
 * IPv6 literal with or without brackets, or a name) into socket addresses,
 * and the loopback test `flyq serve` applies before listening anywhere else.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/common.h"
#include "net/internal.h"

#define HOST_MAX 256

/* Splits s into host (without brackets) and a port 0..65535. */
static int split(const char *s, char *host, size_t hostlen, int *port) {
  const char *colon = strrchr(s, ':');
  if (colon == NULL || colon == s || colon[1] == '\0')
    return FLYQ_ERR_INVALID_ARG;
  const char *h = s;
  size_t len = (size_t)(colon - s);
  if (s[0] == '[') {
    if (colon[-1] != ']' || len < 3) return FLYQ_ERR_INVALID_ARG;
    h++;
    len -= 2;
  }
  if (len >= hostlen) return FLYQ_ERR_INVALID_ARG;
  memcpy(host, h, len);
  host[len] = '\0';
  long p = 0;
  for (const char *d = colon + 1; *d; d++) {
    if (*d < '0' || *d > '9' || d - colon > 5) return FLYQ_ERR_INVALID_ARG;
    p = p * 10 + (*d - '0');
  }
  if (p > 65535) return FLYQ_ERR_INVALID_ARG;
  *port = (int)p;
  return 0;
}

static void set_port(struct sockaddr_storage *out, int port) {
  if (out->ss_family == AF_INET6)
    ((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
}

/* A name: the first address getaddrinfo gives. */
static int resolve(const char *host, struct sockaddr_storage *out) {
  struct addrinfo hints, *res;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0) return rc == EAI_AGAIN ? UV_EAI_AGAIN : UV_EAI_NONAME;
  if (res->ai_addrlen > sizeof *out) {
    freeaddrinfo(res);
    return UV_EAI_FAMILY;
  }
  memcpy(out, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return 0;
}

int flyq_net_parse_addr(const char *s, struct sockaddr_storage *out) {
  char host[HOST_MAX];
  int port;
  if (s == NULL || out == NULL) return FLYQ_ERR_INVALID_ARG;
  int rc = split(s, host, sizeof host, &port);
  if (rc < 0 || host[0] == '\0') return FLYQ_ERR_INVALID_ARG;
  memset(out, 0, sizeof *out);
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0) return 0;
  if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0) return 0;
  if (s[0] == '[') return FLYQ_ERR_INVALID_ARG;
  rc = resolve(host, out);
  if (rc == 0) set_port(out, port);
  return rc;
}

int flyq_net_is_loopback(const struct sockaddr_storage *addr) {
  if (addr->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
    return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  }
  if (addr->ss_family != AF_INET6) return 0;
  const struct in6_addr *a6 = &((const struct sockaddr_in6 *)addr)->sin6_addr;
  if (IN6_IS_ADDR_LOOPBACK(a6)) return 1;
  return IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127;
}
