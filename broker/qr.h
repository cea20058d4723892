/* qr.h — a QR code (libqrencode, ECC level M, 8-bit mode, case preserved; the
 * mask chosen by qr_penalty.c) rendered as a small, crisp SVG: 4-module quiet
 * zone, one <path> of horizontal runs, shape-rendering="crispEdges", viewBox
 * in modules so it scales to any size without blur. */
#ifndef QRLOGIN_QR_H
#define QRLOGIN_QR_H

#include <stddef.h>

/* Returns a malloc'd NUL-terminated SVG document and its length in *len, or
 * NULL if text cannot be encoded (too long, out of memory). */
char *qr_svg(const char *text, size_t *len);

#endif
