/* net_parse.c — see net_parse.h. */
#include "net_parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* Port: 1..65535, digits only. */
int net_parse_port(const char *s, size_t n, int *out)
{
    if (n == 0 || n > 5)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *out = v;
    return 0;
}

static bool is_hostname_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) || ch == '.' ||
           ch == '-' || ch == '_';
}

/* host is [v6] (brackets included, n chars) or a name/IPv4 literal. Writes the
 * host without brackets, lower-cased. */
int net_parse_host(const char *s, size_t n, char *out, size_t outsz)
{
    if (n == 0)
        return -1;
    if (s[0] == '[') {
        if (n < 3 || s[n - 1] != ']' || n - 2 >= outsz || n - 2 >= INET6_ADDRSTRLEN)
            return -1;
        memcpy(out, s + 1, n - 2);
        out[n - 2] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, out, &a6) != 1)
            return -1;
    } else {
        if (n >= outsz)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (!is_hostname_char(s[i]))
                return -1;
        memcpy(out, s, n);
        out[n] = '\0';
    }
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return 0;
}

/* ---- URLs and origins ---- */


int net_parse_url(const char *url, struct url_parts *u)
{
    size_t i = 0;
    if (!((url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' && url[0] <= 'Z')))
        return -1;
    while (url[i] && url[i] != ':') {
        char ch = url[i];
        bool ok = is_hostname_char(ch) || ch == '+';
        if (!ok || ch == '_' || i + 1 >= sizeof u->scheme)
            return -1;
        u->scheme[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
        i++;
    }
    u->scheme[i] = '\0';
    if (strncmp(url + i, "://", 3) != 0)
        return -1;
    const char *a = url + i + 3;
    size_t alen = strcspn(a, "/?#");
    u->rest = a + alen;
    /* The port separator is the last ':' outside brackets. */
    size_t hlen = alen;
    const char *colon = NULL;
    if (a[0] == '[') {
        const char *rb = memchr(a, ']', alen);
        if (!rb)
            return -1;
        hlen = (size_t)(rb - a) + 1;
        if (hlen < alen) {
            if (a[hlen] != ':')
                return -1;
            colon = a + hlen;
        }
    } else {
        colon = memchr(a, ':', alen);
        if (colon)
            hlen = (size_t)(colon - a);
    }
    if (net_parse_host(a, hlen, u->host, sizeof u->host) != 0)
        return -1;
    u->port = 0;
    if (colon && net_parse_port(colon + 1, alen - (size_t)(colon + 1 - a), &u->port) != 0)
        return -1;
    return 0;
}

static int default_port(const char *scheme)
{
    if (!strcmp(scheme, "http") || !strcmp(scheme, "ws"))
        return 80;
    if (!strcmp(scheme, "https") || !strcmp(scheme, "wss"))
        return 443;
    return 0;
}

/* Browsers send Origin lower-cased and without a default port, so the
 * allow-list is kept in exactly that form and can be compared byte for byte. */
int net_url_origin(const char *url, char *out, size_t outsz)
{
    struct url_parts u;
    if (!url || !out || net_parse_url(url, &u) != 0)
        return -1;
    bool v6 = strchr(u.host, ':') != NULL;
    int n;
    if (u.port && u.port != default_port(u.scheme))
        n = snprintf(out, outsz, "%s://%s%s%s:%d", u.scheme, v6 ? "[" : "", u.host,
                     v6 ? "]" : "", u.port);
    else
        n = snprintf(out, outsz, "%s://%s%s%s", u.scheme, v6 ? "[" : "", u.host, v6 ? "]" : "");
    return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* ---- CIDRs ---- */

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address: a
 * dual-stack socket reports IPv4 peers that way. */
static bool unmap_v4(const uint8_t a6[16], uint8_t a4[4])
{
    static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a6, pfx, sizeof pfx) != 0)
        return false;
    memcpy(a4, a6 + 12, 4);
    return true;
}

int net_parse_cidr(const char *s, struct cidr *out)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (!s || strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    memset(out, 0, sizeof *out);
    int bits;
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        bits = 32;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        bits = 128;
    } else {
        return -1;
    }
    out->prefix = bits;
    if (slash) {
        const char *p = slash + 1;
        size_t n = strlen(p);
        if (n == 0 || n > 3)
            return -1;
        int v = 0;
        for (size_t i = 0; i < n; i++) {
            if (!is_digit(p[i]))
                return -1;
            v = v * 10 + (p[i] - '0');
        }
        if (v > bits)
            return -1;
        out->prefix = v;
    }
    uint8_t a4[4];
    if (out->family == AF_INET6 && out->prefix >= 96 && unmap_v4(out->addr, a4)) {
        memset(out->addr, 0, sizeof out->addr);
        memcpy(out->addr, a4, 4);
        out->family = AF_INET;
        out->prefix -= 96;
    }
    /* Keep only the network part so matching is a plain prefix compare. */
    int nbytes = out->family == AF_INET ? 4 : 16;
    for (int i = 0; i < nbytes; i++) {
        int keep = out->prefix - i * 8;
        if (keep <= 0)
            out->addr[i] = 0;
        else if (keep < 8)
            out->addr[i] &= (uint8_t)(0xff << (8 - keep));
    }
    return 0;
}

static bool cidr_contains(const struct cidr *n, int family, const uint8_t *a)
{
    if (n->family != family)
        return false;
    int full = n->prefix / 8, rem = n->prefix % 8;
    if (memcmp(n->addr, a, (size_t)full) != 0)
        return false;
    if (rem == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rem));
    return (a[full] & mask) == n->addr[full];
}

bool net_addr_in(const struct cidr *nets, int n, const char *addr)
{
    if (!addr)
        return false;
    uint8_t a[16] = {0};
    int family;
    if (!strncasecmp(addr, "::ffff:", 7) && inet_pton(AF_INET, addr + 7, a) == 1) {
        family = AF_INET;
    } else if (inet_pton(AF_INET, addr, a) == 1) {
        family = AF_INET;
    } else if (inet_pton(AF_INET6, addr, a) == 1) {
        uint8_t a4[4];
        family = AF_INET6;
        if (unmap_v4(a, a4)) { /* the same address spelled 0:0:0:0:0:ffff:… */
            memset(a, 0, sizeof a);
            memcpy(a, a4, 4);
            family = AF_INET;
        }
    } else {
        return false;
    }
    for (int i = 0; i < n; i++)
        if (cidr_contains(&nets[i], family, a))
            return true;
    return false;
}
