/* qr_penalty.c — see qr_penalty.h.
 *
 * Bit b of a line (a row or a column) is the module at position b - PAD;
 * PAD bits of light on each side stand for the quiet zone, so the N3 test for
 * "4 light modules before or after" needs no special case at the edges, and
 * shifts bring in zeros (light) from beyond the symbol. */
#include "qr_penalty.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NW 3                  /* 192 bits: the widest symbol (177) + 2 * PAD */
#define PAD 4
#define WMAX 177
#define MASKS 8
#define PERIOD 12             /* every mask pattern repeats every 12 rows/columns */
#define FORMAT_BITS 15

/* libqrencode's module flags (qrencode.h, above struct QRcode) */
#define QRF_DARK 0x01
#define QRF_FORMAT 0x04
#define QRF_FUNCTION 0x80     /* not a data or ECC module */

#ifdef QRLOGIN_HAVE_QRCODE_ENCODEMASK
/* Exported by libqrencode (since 3.x; its own tests use it) but not declared
 * in qrencode.h: the public API cannot fix the mask. CMake checks that it
 * links, and without it qr_encode_best_mask falls back to libqrencode's own
 * choice (slower, same kind of result). */
extern QRcode *QRcode_encodeMask(QRinput *input, int mask);
#endif

typedef struct {
    uint64_t w[NW];
} bits;

/* ---- bit lines ----------------------------------------------------------
 * The scoring operations take nw, the words a line of this symbol needs (1
 * up to version 9, 3 at most), and are always inlined, so each of score()'s
 * instantiations below works on exactly that many words; words past nw hold
 * whatever and are never read. */

#define LINE_OP static inline __attribute__((always_inline))

LINE_OP bits b_and(int nw, bits a, bits b)
{
    for (int k = 0; k < nw; k++)
        a.w[k] &= b.w[k];
    return a;
}
LINE_OP bits b_or(int nw, bits a, bits b)
{
    for (int k = 0; k < nw; k++)
        a.w[k] |= b.w[k];
    return a;
}
LINE_OP bits b_xor(int nw, bits a, bits b)
{
    for (int k = 0; k < nw; k++)
        a.w[k] ^= b.w[k];
    return a;
}
LINE_OP bits b_not(int nw, bits a)
{
    for (int k = 0; k < nw; k++)
        a.w[k] = ~a.w[k];
    return a;
}
/* bit b of the result is bit b + n of a (0 < n < 64) */
LINE_OP bits b_shr(int nw, bits a, int n)
{
    bits r = a;
    for (int k = 0; k < nw; k++)
        r.w[k] = (a.w[k] >> n) | (k + 1 < nw ? a.w[k + 1] << (64 - n) : 0);
    return r;
}
/* bit b of the result is bit b - n of a (0 < n < 64) */
LINE_OP bits b_shl(int nw, bits a, int n)
{
    bits r = a;
    for (int k = 0; k < nw; k++)
        r.w[k] = (a.w[k] << n) | (k > 0 ? a.w[k - 1] >> (64 - n) : 0);
    return r;
}
/* Debian builds for the x86-64 baseline, which has no POPCNT instruction:
 * __builtin_popcountll would be a call into libgcc per word. */
static inline int popcount64(uint64_t x)
{
    x -= (x >> 1) & 0x5555555555555555ull;
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (int)((x * 0x0101010101010101ull) >> 56);
}

LINE_OP int b_count(int nw, bits a)
{
    int n = 0;
    for (int k = 0; k < nw; k++)
        n += popcount64(a.w[k]);
    return n;
}
static inline void b_set(bits *a, int b) { a->w[b >> 6] |= 1ull << (b & 63); }
static inline bool b_get(const bits *a, int b) { return a->w[b >> 6] >> (b & 63) & 1; }

/* bits from..to inclusive */
static bits b_range(int from, int to)
{
    bits r = {{0}};
    for (int b = from; b <= to; b++)
        b_set(&r, b);
    return r;
}

/* ---- masks and format information ---------------------------------------- */

/* ISO/IEC 18004 Table 10: the module at row i, column j is inverted where
 * the mask's condition holds. */
static bool mask_inverts(int mask, int i, int j)
{
    switch (mask) {
    case 0: return (i + j) % 2 == 0;
    case 1: return i % 2 == 0;
    case 2: return j % 3 == 0;
    case 3: return (i + j) % 3 == 0;
    case 4: return (i / 2 + j / 3) % 2 == 0;
    case 5: return (i * j) % 2 + (i * j) % 3 == 0;
    case 6: return ((i * j) % 2 + (i * j) % 3) % 2 == 0;
    default: return ((i + j) % 2 + (i * j) % 3) % 2 == 0;
    }
}

static bits pat_row[MASKS][PERIOD]; /* [mask][row % 12]: columns it inverts */
static bits pat_col[MASKS][PERIOD]; /* [mask][column % 12]: rows it inverts */
static uint16_t format_m[MASKS];    /* the 15 format bits, ECC level M */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* BCH(15,5) with generator 0x537, then the XOR that keeps it from being all
 * zero (§7.9.1). ECC level M's two bits are 00, so the data is the mask. */
static uint16_t format_word(int mask)
{
    unsigned data = (unsigned)mask, rem = data << 10;
    for (int i = 14; i >= 10; i--)
        if (rem & (1u << i))
            rem ^= 0x537u << (i - 10);
    return (uint16_t)(((data << 10) | rem) ^ 0x5412u);
}

static void tables_init(void)
{
    for (int m = 0; m < MASKS; m++) {
        format_m[m] = format_word(m);
        for (int r = 0; r < PERIOD; r++)
            for (int x = 0; x + PAD < NW * 64; x++) {
                if (mask_inverts(m, r, x))
                    b_set(&pat_row[m][r], x + PAD);
                if (mask_inverts(m, x, r))
                    b_set(&pat_col[m][r], x + PAD);
            }
    }
}

/* Where bit b (0 = least significant) of the format word goes, in both
 * copies (§7.9.1, Figure 25): around the top-left finder, and split between
 * the bottom-left and top-right ones. */
static void format_places(int w, int b, int rc[2][2])
{
    if (b <= 5)
        rc[0][0] = b, rc[0][1] = 8;
    else if (b == 6)
        rc[0][0] = 7, rc[0][1] = 8;
    else if (b == 7)
        rc[0][0] = 8, rc[0][1] = 8;
    else if (b == 8)
        rc[0][0] = 8, rc[0][1] = 7;
    else
        rc[0][0] = 8, rc[0][1] = 14 - b;
    if (b <= 7)
        rc[1][0] = 8, rc[1][1] = w - 1 - b;
    else
        rc[1][0] = w - 15 + b, rc[1][1] = 8;
}

/* ---- the symbol as bit planes -------------------------------------------- */

struct planes {
    int w;
    bits row_fixed[WMAX], col_fixed[WMAX]; /* unmasked; format modules light */
    bits row_data[WMAX], col_data[WMAX];   /* which modules a mask touches */
};

/* q carries mask `from`; what does not depend on the mask is kept. */
static void planes_of(const QRcode *q, int from, struct planes *p)
{
    int w = q->width;
    memset(p, 0, sizeof *p);
    p->w = w;
    for (int i = 0; i < w; i++)
        for (int j = 0; j < w; j++) {
            unsigned char d = q->data[(size_t)i * (size_t)w + (size_t)j];
            bool dark;
            if (!(d & QRF_FUNCTION)) {
                b_set(&p->row_data[i], j + PAD);
                b_set(&p->col_data[j], i + PAD);
                dark = (d & QRF_DARK) ^ b_get(&pat_row[from][i % PERIOD], j + PAD);
            } else {
                dark = !(d & QRF_FORMAT) && (d & QRF_DARK);
            }
            if (dark) {
                b_set(&p->row_fixed[i], j + PAD);
                b_set(&p->col_fixed[j], i + PAD);
            }
        }
}

static void draw(const struct planes *p, int mask, bits *rows, bits *cols)
{
    int w = p->w;
    for (int i = 0; i < w; i++) {
        rows[i] = b_xor(NW, p->row_fixed[i], b_and(NW, p->row_data[i], pat_row[mask][i % PERIOD]));
        cols[i] = b_xor(NW, p->col_fixed[i], b_and(NW, p->col_data[i], pat_col[mask][i % PERIOD]));
    }
    for (int b = 0; b < FORMAT_BITS; b++) {
        if (!(format_m[mask] >> b & 1))
            continue;
        int rc[2][2];
        format_places(w, b, rc);
        for (int c = 0; c < 2; c++) {
            b_set(&rows[rc[c][0]], rc[c][1] + PAD);
            b_set(&cols[rc[c][1]], rc[c][0] + PAD);
        }
    }
}

/* ---- the penalty ---------------------------------------------------------- */

/* N1 and N3 of one line; five_ok marks where a 5-module window fits. */
LINE_OP int line_runs_and_finders(int nw, bits a, bits five_ok)
{
    /* N1: bit b set where modules b..b+4 share a colour. A run of k >= 5
     * holds k - 4 such windows, and 3 + (k - 5) = (k - 4) + 2 per run. */
    bits same = b_not(nw, b_xor(nw, a, b_shr(nw, a, 1)));
    bits five = b_and(nw, b_and(nw, same, b_shr(nw, same, 1)),
                      b_and(nw, b_shr(nw, same, 2), b_shr(nw, same, 3)));
    five = b_and(nw, five, five_ok);
    int p = b_count(nw, five) + 2 * b_count(nw, b_and(nw, five, b_not(nw, b_shl(nw, five, 1))));

    /* N3: 1011101 starting at b, with 0000 at b-4..b-1 or at b+7..b+10 */
    bits pat = b_and(nw, b_and(nw, a, b_not(nw, b_shr(nw, a, 1))),
                     b_and(nw, b_shr(nw, a, 2), b_shr(nw, a, 3)));
    pat = b_and(nw, pat, b_and(nw, b_and(nw, b_shr(nw, a, 4), b_not(nw, b_shr(nw, a, 5))),
                               b_shr(nw, a, 6)));
    bits light4 = b_not(nw, b_or(nw, b_or(nw, a, b_shr(nw, a, 1)),
                                 b_or(nw, b_shr(nw, a, 2), b_shr(nw, a, 3))));
    p += 40 * b_count(nw, b_and(nw, pat, b_or(nw, b_shl(nw, light4, 4), b_shr(nw, light4, 7))));
    return p;
}

LINE_OP int score_words(int nw, int w, const bits *rows, const bits *cols)
{
    bits five_ok = b_range(PAD, PAD + w - 5), two_ok = b_range(PAD, PAD + w - 2);
    int p = 0, dark = 0, total = w * w;
    for (int i = 0; i < w; i++) {
        p += line_runs_and_finders(nw, rows[i], five_ok) +
             line_runs_and_finders(nw, cols[i], five_ok);
        dark += b_count(nw, rows[i]);
        if (i + 1 < w) { /* N2: b, b+1 equal in this row, and equal to the next row's */
            bits vert = b_not(nw, b_xor(nw, rows[i], rows[i + 1]));
            bits horiz = b_not(nw, b_xor(nw, rows[i], b_shr(nw, rows[i], 1)));
            p += 3 * b_count(nw, b_and(nw, b_and(nw, vert, b_shr(nw, vert, 1)),
                                       b_and(nw, horiz, two_ok)));
        }
    }
    return p + 10 * (abs(20 * dark - 10 * total) / total);
}

static int score(int w, const bits *rows, const bits *cols)
{
    if (w + 2 * PAD <= 64)
        return score_words(1, w, rows, cols);
    if (w + 2 * PAD <= 128)
        return score_words(2, w, rows, cols);
    return score_words(3, w, rows, cols);
}

/* ---- the API ------------------------------------------------------------- */

/* Writes the drawn mask back: data and format modules only. */
static void write_back(QRcode *q, const bits *rows)
{
    int w = q->width;
    for (int i = 0; i < w; i++)
        for (int j = 0; j < w; j++) {
            unsigned char *d = &q->data[(size_t)i * (size_t)w + (size_t)j];
            if (!(*d & QRF_FUNCTION) || (*d & QRF_FORMAT))
                *d = (unsigned char)((*d & ~QRF_DARK) | b_get(&rows[i], j + PAD));
        }
}

int qr_penalty(const QRcode *q)
{
    static const bits none;
    bits rows[WMAX], cols[WMAX];
    int w = q->width;
    if (w < 5 || w > WMAX)
        return -1;
    for (int i = 0; i < w; i++)
        rows[i] = cols[i] = none;
    for (int i = 0; i < w; i++)
        for (int j = 0; j < w; j++)
            if (q->data[(size_t)i * (size_t)w + (size_t)j] & QRF_DARK) {
                b_set(&rows[i], j + PAD);
                b_set(&cols[j], i + PAD);
            }
    return score(w, rows, cols);
}

void qr_remask(QRcode *q, int from, int to)
{
    bits rows[WMAX], cols[WMAX];
    struct planes *p;
    if (q->width < 21 || q->width > WMAX || from < 0 || from >= MASKS || to < 0 || to >= MASKS ||
        !(p = malloc(sizeof *p)))
        return;
    pthread_once(&tables_once, tables_init);
    planes_of(q, from, p);
    draw(p, to, rows, cols);
    write_back(q, rows);
    free(p);
}

QRcode *qr_encode_best_mask(const char *text)
{
    if (!text || !*text)
        return NULL;
#ifdef QRLOGIN_HAVE_QRCODE_ENCODEMASK
    QRinput *in = QRinput_new2(0, QR_ECLEVEL_M);
    if (!in)
        return NULL;
    QRcode *q = NULL;
    if (!QRinput_append(in, QR_MODE_8, (int)strlen(text), (const unsigned char *)text))
        q = QRcode_encodeMask(in, 0);
    QRinput_free(in);
    if (!q)
        return NULL;
    pthread_once(&tables_once, tables_init);
    struct planes *p = malloc(sizeof *p); /* ~17 KB, kept off the worker's stack */
    if (!p) {
        QRcode_free(q);
        return NULL;
    }
    bits rows[WMAX], cols[WMAX];
    int best = 0, best_score = 0;
    planes_of(q, 0, p);
    for (int m = 0; m < MASKS; m++) {
        draw(p, m, rows, cols);
        int s = score(p->w, rows, cols);
        if (m == 0 || s < best_score)
            best = m, best_score = s;
    }
    draw(p, best, rows, cols);
    write_back(q, rows);
    free(p);
    return q;
#else
    return QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
#endif
}
