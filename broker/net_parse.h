/* net_parse.h — the network names an operator writes on the command line and
 * a client sends us: host:port, URLs (for the public URL, origins and
 * redirect URIs) and CIDR ranges (trusted proxies). Strict: anything that is
 * not exactly one of these is refused, never guessed at. */
#ifndef QRLOGIN_NET_PARSE_H
#define QRLOGIN_NET_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Port: 1..65535, n digits and nothing else. 0 or -1. */
int net_parse_port(const char *s, size_t n, int *out);

/* host is "[v6]" (brackets included, n chars) or a name or IPv4 literal of
 * [A-Za-z0-9._-]. Writes the host without brackets, lower-cased. 0 or -1. */
int net_parse_host(const char *s, size_t n, char *out, size_t outsz);

struct url_parts {
    char scheme[16];  /* lower-cased */
    char host[256];   /* lower-cased, no brackets */
    int port;         /* 0: none given */
    const char *rest; /* path, query, fragment: everything after the authority */
};

/* "scheme://host[:port][rest]"; u->rest points into url. 0 or -1. */
int net_parse_url(const char *url, struct url_parts *u);

/* The origin of a URL, "scheme://host[:port]", lower-cased and without a
 * default port — the form browsers send in Origin, so that an allow-list of
 * these can be compared byte for byte. 0 or -1. */
int net_url_origin(const char *url, char *out, size_t outsz);

struct cidr {
    int family;         /* AF_INET or AF_INET6 */
    uint8_t addr[16];   /* the network part only */
    int prefix;
};

/* "a.b.c.d[/n]" or "v6[/n]"; an IPv4-mapped IPv6 range becomes the IPv4 one.
 * 0 or -1. */
int net_parse_cidr(const char *s, struct cidr *out);

/* Whether addr (text, IPv4 or IPv6, IPv4-mapped included) lies in one of the
 * n ranges. */
bool net_addr_in(const struct cidr *nets, int n, const char *addr);

#endif
