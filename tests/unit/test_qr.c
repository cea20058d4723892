/* test_qr.c — qr_svg() output is rasterized back from its own path data and
 * decoded with zbar: the round trip must give the exact input text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <qrencode.h>
#include <zbar.h>

#include "qr.h"
#include "qr_penalty.h"

#define SCALE 4 /* pixels per module */

/* Module grid (quiet zone included) recovered from the SVG. */
struct grid {
    int w;
    unsigned char *dark; /* w*w, 1 = dark */
};

static int read_int(const char **p)
{
    char *end;
    long v = strtol(*p, &end, 10);
    assert_true(end != *p);
    assert_true(v >= 0 && v < 1000);
    *p = end;
    return (int)v;
}

static void expect(const char **p, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*p, lit, n) != 0)
        fail_msg("expected '%s' at '%.20s'", lit, *p);
    *p += n;
}

/* Parses exactly the path grammar qr.c emits: per row "M{x} {y}.5h{r}" for
 * the first run, then "m{gap} 0h{r}" for each next one (lines one module
 * thick). Anything else fails the test, so the SVG format is pinned down too. */
static void svg_to_grid(const char *svg, struct grid *g)
{
    const char *p = strstr(svg, "viewBox='0 0 ");
    int w2;
    assert_non_null(p);
    p += strlen("viewBox='0 0 ");
    g->w = read_int(&p);
    expect(&p, " ");
    w2 = read_int(&p);
    assert_int_equal(g->w, w2);
    g->dark = calloc((size_t)g->w * (size_t)g->w, 1);
    assert_non_null(g->dark);

    p = strstr(svg, " d='");
    assert_non_null(p);
    p += 4;
    int x = 0, y = -1;
    while (*p != '\'') {
        int r;
        if (*p == 'M') { /* the first run of a row, absolute */
            int y2;
            expect(&p, "M");
            x = read_int(&p);
            expect(&p, " ");
            y2 = read_int(&p);
            assert_true(y2 > y); /* rows top to bottom, each started once */
            y = y2;
            expect(&p, ".5h");
        } else { /* the next run of the row: the gap from the previous one */
            int gap;
            assert_true(y >= 0);
            expect(&p, "m");
            gap = read_int(&p);
            assert_true(gap >= 1); /* runs are maximal: a gap is never empty */
            x += gap;
            expect(&p, " 0h");
        }
        r = read_int(&p);
        assert_true(r >= 1);
        assert_true(x + r <= g->w && y < g->w);
        for (int k = 0; k < r; k++) {
            assert_int_equal(g->dark[y * g->w + x + k], 0); /* runs never overlap */
            g->dark[y * g->w + x + k] = 1;
        }
        x += r;
    }
    assert_string_equal(p, "'/></svg>\n");
}

/* Decodes the grid with zbar and returns the (malloc'd) text of the single
 * QR symbol found. */
static char *zbar_decode(const struct grid *g)
{
    int px = g->w * SCALE;
    unsigned char *img = malloc((size_t)px * (size_t)px);
    zbar_image_scanner_t *sc;
    zbar_image_t *zi;
    const zbar_symbol_t *sym;
    char *out;
    int n;

    assert_non_null(img);
    for (int y = 0; y < px; y++)
        for (int x = 0; x < px; x++)
            img[y * px + x] = g->dark[(y / SCALE) * g->w + x / SCALE] ? 0 : 255;

    sc = zbar_image_scanner_create();
    assert_non_null(sc);
    zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
    zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
    zi = zbar_image_create();
    assert_non_null(zi);
    zbar_image_set_format(zi, zbar_fourcc('Y', '8', '0', '0'));
    zbar_image_set_size(zi, (unsigned)px, (unsigned)px);
    zbar_image_set_data(zi, img, (unsigned long)px * (unsigned long)px, NULL);
    n = zbar_scan_image(sc, zi);
    assert_int_equal(n, 1);
    sym = zbar_image_first_symbol(zi);
    assert_non_null(sym);
    assert_int_equal(zbar_symbol_get_type(sym), ZBAR_QRCODE);
    out = strndup(zbar_symbol_get_data(sym), zbar_symbol_get_data_length(sym));
    assert_non_null(out);
    zbar_image_destroy(zi);
    zbar_image_scanner_destroy(sc);
    free(img);
    return out;
}

/* Full round trip plus a module-exact comparison with the symbol the encoder
 * drew (its mask choice is test_qr_penalty's business). */
static void round_trip(const char *text)
{
    size_t len = 0;
    char *svg = qr_svg(text, &len);
    struct grid g;
    QRcode *q;
    char *decoded;

    assert_non_null(svg);
    assert_int_equal(len, strlen(svg));
    assert_true(strncmp(svg, "<svg xmlns='http://www.w3.org/2000/svg' ", 40) == 0);
    assert_non_null(strstr(svg, "shape-rendering='crispEdges'"));
    assert_non_null(strstr(svg, "role='img'"));
    assert_non_null(strstr(svg, "aria-label='QR code'"));
    assert_non_null(strstr(svg, "fill='#fff'"));

    svg_to_grid(svg, &g);

    q = qr_encode_best_mask(text);
    assert_non_null(q);
    assert_int_equal(g.w, q->width + 8);
    for (int y = 0; y < g.w; y++) {
        for (int x = 0; x < g.w; x++) {
            int in = x >= 4 && y >= 4 && x < q->width + 4 && y < q->width + 4;
            int want = in ? q->data[(y - 4) * q->width + (x - 4)] & 1 : 0;
            if (g.dark[y * g.w + x] != want)
                fail_msg("module (%d,%d) is %d, want %d", x, y, g.dark[y * g.w + x], want);
        }
    }
    QRcode_free(q);

    decoded = zbar_decode(&g);
    assert_string_equal(decoded, text);
    free(decoded);
    free(g.dark);
    free(svg);
}

static void login_url_round_trips(void **state)
{
    (void)state;
    round_trip("http://192.168.1.5:8080/m/#t=AbC-_dEf0123456789xyzQ");
}

static void case_is_preserved(void **state)
{
    (void)state;
    /* casesensitive=0 would upper-case this and the decode would differ */
    round_trip("otpauth://totp/Ex:alice@example.com?secret=JBSWY3DPehpk3pxp&issuer=Ex");
    round_trip("aBcDeFgHiJkLmNoPqRsTuVwXyZ");
}

static void longer_url_round_trips(void **state)
{
    char url[300];
    (void)state;
    /* a larger symbol version exercises alignment patterns and version info */
    snprintf(url, sizeof(url), "https://login.example.org:8443/m/#t=%s",
             "Zq9-_x7YbW3vK0pLmN2oR4sT6uV8wXyA1cE5gI7kM9qS0uW2yA4cE6gI8kM0oQ2sU4wY6a"
             "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMnOpQrStUvWxYz");
    round_trip(url);
}

static void too_long_is_null(void **state)
{
    size_t n = 8000, len = 123;
    char *big = malloc(n + 1);
    (void)state;
    assert_non_null(big);
    memset(big, 'a', n);
    big[n] = '\0';
    assert_null(qr_svg(big, &len));
    assert_int_equal(len, 0);
    free(big);
}

static void empty_or_null_is_null(void **state)
{
    size_t len = 5;
    (void)state;
    assert_null(qr_svg("", &len));
    assert_int_equal(len, 0);
    assert_null(qr_svg(NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(login_url_round_trips),
        cmocka_unit_test(case_is_preserved),
        cmocka_unit_test(longer_url_round_trips),
        cmocka_unit_test(too_long_is_null),
        cmocka_unit_test(empty_or_null_is_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
