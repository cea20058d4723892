/* qr.c — text → QR code → SVG (see qr.h; docs/architecture.md, L5).
 *
 * The SVG is one <path> in module units: each horizontal run of dark modules
 * is a line one module thick (a stroke of width 1 along the middle of its
 * row), the first of a row placed absolutely, the next ones by the gap from
 * the end of the previous one. That halves the SVG against drawing each run
 * as a filled rectangle (2.0 KB instead of 4.1 KB for a login URL), which
 * every PC downloads per code; it scales without blur, and
 * shape-rendering="crispEdges" keeps anti-aliasing seams out of adjacent
 * rows, which phone cameras would otherwise have to cope with. */
#include "qr.h"
#include "qr_penalty.h"

#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QR_QUIET 4 /* modules of white border the QR spec requires */

/* Longest text of one run, "M{x} {y}.5h{r}" (the first of a row) or
 * "m{gap} 0h{r}": each number is at most 3 digits (a version-40 symbol is 177
 * modules wide, plus the quiet zone). */
#define QR_RUN_MAX (1 + 3 + 1 + 3 + 3 + 3)

/* Single-quoted attributes: the SVG travels inside a JSON string, where every
 * double quote would cost an escape. */
static const char svg_head_fmt[] =
    "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 %d %d' "
    "shape-rendering='crispEdges' role='img' aria-label='QR code'>"
    "<rect width='%d' height='%d' fill='#fff'/><path fill='none' stroke='#000' d='";
static const char svg_tail[] = "'/></svg>\n";

/* Writes a non-negative number below 1000 (QR_RUN_MAX bounds the caller). */
static size_t put_num(char *out, int v)
{
    size_t n = 0;
    if (v >= 100)
        out[n++] = (char)('0' + v / 100);
    if (v >= 10)
        out[n++] = (char)('0' + v / 10 % 10);
    out[n++] = (char)('0' + v % 10);
    return n;
}

static int dark(const QRcode *q, int x, int y)
{
    return q->data[(size_t)y * (size_t)q->width + (size_t)x] & 1;
}

/* Length of the dark run starting at (x, y), 0 if that module is light. */
static int run_at(const QRcode *q, int x, int y)
{
    int r = 0;
    while (x + r < q->width && dark(q, x + r, y))
        r++;
    return r;
}

static size_t count_runs(const QRcode *q)
{
    size_t n = 0;
    for (int y = 0; y < q->width; y++) {
        for (int x = 0; x < q->width;) {
            int r = run_at(q, x, y);
            n += r > 0;
            x += r > 0 ? r : 1;
        }
    }
    return n;
}

/* Appends the path data; returns the bytes written or 0 if cap was short
 * (cannot happen with the up-front sizing, but it is checked anyway). This
 * runs for every ticket and rotation, so no printf per run. */
static size_t write_runs(const QRcode *q, char *out, size_t cap)
{
    size_t o = 0;
    for (int y = 0; y < q->width; y++) {
        int end = -1; /* where the row's previous run ended; -1: none yet */
        for (int x = 0; x < q->width;) {
            int r = run_at(q, x, y);
            if (r == 0) {
                x++;
                continue;
            }
            if (cap - o < QR_RUN_MAX)
                return 0;
            if (end < 0) {
                out[o++] = 'M';
                o += put_num(out + o, x + QR_QUIET);
                out[o++] = ' ';
                o += put_num(out + o, y + QR_QUIET);
                memcpy(out + o, ".5h", 3);
                o += 3;
            } else {
                out[o++] = 'm';
                o += put_num(out + o, x - end);
                memcpy(out + o, " 0h", 3);
                o += 3;
            }
            o += put_num(out + o, r);
            x += r;
            end = x;
        }
    }
    return o;
}

static char *render(const QRcode *q, size_t *len)
{
    int w = q->width + 2 * QR_QUIET;
    int hl = snprintf(NULL, 0, svg_head_fmt, w, w, w, w);
    size_t runs = count_runs(q);
    size_t cap, o, pl;
    char *buf;

    if (hl < 0 || w > 999 || runs > (size_t)q->width * (size_t)q->width)
        return NULL;
    cap = (size_t)hl + runs * QR_RUN_MAX + sizeof(svg_tail);
    buf = malloc(cap);
    if (!buf)
        return NULL;
    o = (size_t)snprintf(buf, cap, svg_head_fmt, w, w, w, w);
    pl = write_runs(q, buf + o, cap - o);
    if (pl == 0 && runs > 0) {
        free(buf);
        return NULL;
    }
    o += pl;
    memcpy(buf + o, svg_tail, sizeof(svg_tail)); /* includes the NUL */
    o += sizeof(svg_tail) - 1;
    if (len)
        *len = o;
    return buf;
}

char *qr_svg(const char *text, size_t *len)
{
    QRcode *q;
    char *svg;

    if (len)
        *len = 0;
    if (!text || !*text)
        return NULL;
    q = qr_encode_best_mask(text);
    if (!q)
        return NULL;
    svg = render(q, len);
    QRcode_free(q);
    return svg;
}
