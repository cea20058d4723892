/* test_qr_penalty.c — the fast mask choice against plain references:
 *  - a symbol re-masked by qr_remask equals libqrencode's own drawing with
 *    that mask, module for module (mask patterns, format bits and places);
 *  - the bitset scorer equals a module-by-module scorer of the same rules;
 *  - qr_encode_best_mask keeps the lowest-scoring mask (lowest on ties).
 * That its symbols decode is test_qr's round trip through zbar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <qrencode.h>

#include "qr_penalty.h"

#ifdef QRLOGIN_HAVE_QRCODE_ENCODEMASK
extern QRcode *QRcode_encodeMask(QRinput *input, int mask);

/* ---- the reference scorer: plain loops over a module matrix ---- */

static int dark_at(const QRcode *q, int i, int j) /* outside the symbol: light */
{
    if (i < 0 || j < 0 || i >= q->width || j >= q->width)
        return 0;
    return q->data[i * q->width + j] & 1;
}

/* the module at step k of line l, rows (vertical = 0) or columns */
static int line_at(const QRcode *q, int vertical, int l, int k)
{
    return vertical ? dark_at(q, k, l) : dark_at(q, l, k);
}

static int ref_penalty(const QRcode *q)
{
    static const int finder[7] = {1, 0, 1, 1, 1, 0, 1};
    int w = q->width, p = 0, dark = 0;
    for (int v = 0; v < 2; v++)
        for (int l = 0; l < w; l++) {
            for (int k = 0; k < w;) { /* N1 */
                int run = 1;
                while (k + run < w && line_at(q, v, l, k + run) == line_at(q, v, l, k))
                    run++;
                if (run >= 5)
                    p += 3 + (run - 5);
                k += run;
            }
            for (int k = 0; k + 7 <= w; k++) { /* N3 */
                int match = 1, before = 1, after = 1;
                for (int t = 0; t < 7; t++)
                    match &= line_at(q, v, l, k + t) == finder[t];
                for (int t = 1; t <= 4; t++) {
                    before &= !line_at(q, v, l, k - t);
                    after &= !line_at(q, v, l, k + 6 + t);
                }
                if (match && (before || after))
                    p += 40;
            }
        }
    for (int i = 0; i < w; i++)
        for (int j = 0; j < w; j++) {
            dark += dark_at(q, i, j);
            if (i + 1 < w && j + 1 < w) { /* N2 */
                int c = dark_at(q, i, j);
                if (dark_at(q, i, j + 1) == c && dark_at(q, i + 1, j) == c &&
                    dark_at(q, i + 1, j + 1) == c)
                    p += 3;
            }
        }
    int total = w * w; /* N4 */
    return p + 10 * (abs(20 * dark - 10 * total) / total);
}

/* ---- inputs ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static unsigned next_byte(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (unsigned)(rng >> 24) & 0xFF;
}

/* length n: printable ASCII, and bytes >= 0x80 in every third text */
static void make_text(char *out, int n, int variant)
{
    for (int i = 0; i < n; i++) {
        unsigned c = next_byte();
        out[i] = (char)(variant % 3 == 2 ? 0x80 + c % 0x80 : 0x20 + c % 0x5F);
    }
    out[n] = '\0';
}

static QRcode *libqrencode_with_mask(const char *text, int mask)
{
    QRinput *in = QRinput_new2(0, QR_ECLEVEL_M);
    assert_non_null(in);
    assert_int_equal(QRinput_append(in, QR_MODE_8, (int)strlen(text), (const unsigned char *)text),
                     0);
    QRcode *q = QRcode_encodeMask(in, mask);
    QRinput_free(in);
    assert_non_null(q);
    return q;
}

static int same_modules(const QRcode *a, const QRcode *b)
{
    if (a->width != b->width)
        return 0;
    for (int i = 0; i < a->width * a->width; i++)
        if ((a->data[i] & 1) != (b->data[i] & 1))
            return 0;
    return 1;
}

/* Lengths that give versions 1 to 40 at ECC level M: lines of one, two and
 * three 64-bit words (up to version 9, 25 and 40). */
static const int lengths[] = {1, 5, 13, 14, 20, 26, 42, 62, 63, 84, 106, 122, 152, 180,
                              213, 251, 287, 331, 362, 412, 450, 504, 560, 624, 900, 1300,
                              1800, 2331};
#define NLEN (int)(sizeof lengths / sizeof *lengths)

static void remask_matches_libqrencode(void **state)
{
    (void)state;
    char text[2400];
    for (int t = 0; t < NLEN * 2; t++) {
        make_text(text, lengths[t % NLEN], t);
        QRcode *base = libqrencode_with_mask(text, 0);
        for (int m = 0; m < 8; m++) {
            QRcode *want = libqrencode_with_mask(text, m);
            QRcode *got = libqrencode_with_mask(text, 0);
            qr_remask(got, 0, m);
            if (!same_modules(got, want))
                fail_msg("text %d (%zu bytes, version %d): mask %d differs from libqrencode's", t,
                         strlen(text), want->version, m);
            /* and back again, from a mask other than 0 */
            qr_remask(got, m, 0);
            assert_true(same_modules(got, base));
            QRcode_free(want);
            QRcode_free(got);
        }
        QRcode_free(base);
    }
}

static void penalty_matches_reference(void **state)
{
    (void)state;
    char text[2400];
    for (int t = 0; t < NLEN * 2; t++) {
        make_text(text, lengths[t % NLEN], t);
        for (int m = 0; m < 8; m++) {
            QRcode *q = libqrencode_with_mask(text, m);
            int want = ref_penalty(q), got = qr_penalty(q);
            if (got != want)
                fail_msg("text %d, mask %d: penalty %d, reference %d", t, m, got, want);
            QRcode_free(q);
        }
    }
}

static void best_mask_is_the_lowest_score(void **state)
{
    (void)state;
    char text[2400];
    int chosen[8] = {0};
    /* the lengths above, then many small symbols, where equal scores (and
     * so the tie rule) turn up */
    for (int t = 0; t < NLEN * 3 + 2000; t++) {
        make_text(text, t < NLEN * 3 ? lengths[t % NLEN] : 1 + t % 40, t);
        QRcode *best = qr_encode_best_mask(text);
        assert_non_null(best);
        int which = -1, low = -1, low_mask = -1;
        for (int m = 0; m < 8; m++) {
            QRcode *q = libqrencode_with_mask(text, m);
            int s = ref_penalty(q);
            if (low_mask < 0 || s < low)
                low = s, low_mask = m;
            if (which < 0 && same_modules(q, best))
                which = m;
            QRcode_free(q);
        }
        if (which != low_mask)
            fail_msg("text %d: chose mask %d, the lowest score is mask %d's (%d)", t, which,
                     low_mask, low);
        chosen[which]++;
        QRcode_free(best);
    }
    /* the choice really varies with the data (not one fixed mask) */
    int used = 0;
    for (int m = 0; m < 8; m++)
        used += chosen[m] > 0;
    assert_true(used >= 3);
}
#endif

static void empty_or_too_long_is_null(void **state)
{
    (void)state;
    assert_null(qr_encode_best_mask(NULL));
    assert_null(qr_encode_best_mask(""));
    size_t n = 3000; /* version 40 at ECC level M holds 2331 bytes */
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'a', n);
    big[n] = '\0';
    assert_null(qr_encode_best_mask(big));
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#ifdef QRLOGIN_HAVE_QRCODE_ENCODEMASK
        cmocka_unit_test(remask_matches_libqrencode),
        cmocka_unit_test(penalty_matches_reference),
        cmocka_unit_test(best_mask_is_the_lowest_score),
#endif
        cmocka_unit_test(empty_or_too_long_is_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
