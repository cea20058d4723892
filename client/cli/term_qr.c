/* term_qr.c — a QR code in a terminal: Unicode half blocks, so one
 * character cell holds two modules (one above the other) and a login URL's
 * code fits 80 columns and half as many rows.
 *
 * A lit cell part is a light module. Drawn with explicit colours (white
 * on black, or black on white with --invert) when the output is a terminal,
 * so the code reads right whatever the terminal's own colours; without a
 * terminal the characters alone carry the picture (light = block). */
#include <stdio.h>
#include <string.h>

#include <qrencode.h>

#include "cli.h"

#define QUIET 4 /* modules of quiet zone, as the standard asks */

static int light(const QRcode *q, int x, int y)
{
    if (x < 0 || y < 0 || x >= q->width || y >= q->width)
        return 1; /* the quiet zone */
    return !(q->data[y * q->width + x] & 1);
}

int term_qr_print(const char *text, int invert, int colour, int max_cols)
{
    static const QRecLevel levels[] = {QR_ECLEVEL_M, QR_ECLEVEL_L};
    QRcode *q = NULL;
    for (size_t i = 0; i < sizeof levels / sizeof levels[0] && !q; i++) {
        q = QRcode_encodeString(text, 0, levels[i], QR_MODE_8, 1);
        if (q && q->width + 2 * QUIET > max_cols) {
            QRcode_free(q);
            q = NULL;
        }
    }
    if (!q)
        return -1;
    /* The block draws the foreground colour: white (light) on black, or,
     * inverted, the block stands for dark modules on a light background. */
    const char *on = invert ? "\033[30;47m" : "\033[37;40m", *off = "\033[0m";
    for (int y = -QUIET; y < q->width + QUIET; y += 2) {
        if (colour)
            fputs(on, stdout);
        for (int x = -QUIET; x < q->width + QUIET; x++) {
            /* The odd last row's lower half lies outside the picture: unlit. */
            int top = light(q, x, y) != invert;
            int bottom = y + 1 < q->width + QUIET && light(q, x, y + 1) != invert;
            fputs(top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ", stdout);
        }
        if (colour)
            fputs(off, stdout);
        fputc('\n', stdout);
    }
    QRcode_free(q);
    return 0;
}
