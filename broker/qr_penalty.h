/* qr_penalty.h — chooses a QR symbol's mask, quickly.
 *
 * A QR encoder draws the data modules with each of the eight mask patterns
 * and keeps the one whose penalty (ISO/IEC 18004 §7.8.3) is lowest: fewer
 * long runs, blocks and finder look-alikes read more reliably. libqrencode
 * does this by drawing eight full copies and scoring them module by module —
 * ~35 % of the broker's CPU when it issues tickets flat out. Here libqrencode
 * draws the symbol once, with mask 0, and the eight candidates are scored on
 * bitsets (a row or column is one to three 64-bit words): a login URL's
 * symbol takes ~30 µs instead of ~180 µs.
 *
 * The penalty, per row and per column, of a symbol whose outside (the quiet
 * zone) counts as light:
 *   N1  each run of k >= 5 modules of one colour: 3 + (k - 5)
 *   N2  each 2x2 block of one colour (rows only; overlapping blocks count): 3
 *   N3  each dark-light-dark-dark-dark-light-dark (1:1:3:1:1 at one module a
 *       unit) with 4 light modules just before or just after it: 40
 *   N4  10 for every whole 5 % by which the dark share differs from 50 %:
 *       10 * (|20 * dark - 10 * total| / total), integer division
 * Ties go to the lowest mask number. */
#ifndef QRLOGIN_QR_PENALTY_H
#define QRLOGIN_QR_PENALTY_H

#include <qrencode.h>

/* text at ECC level M in 8-bit mode (case kept), the smallest version that
 * holds it, the mask chosen as above. NULL if it does not fit or out of
 * memory. Free with QRcode_free. Safe to call from several threads. */
QRcode *qr_encode_best_mask(const char *text);

/* The penalty of a finished symbol (the same scorer the choice uses). */
int qr_penalty(const QRcode *q);

/* Redraws q (ECC level M) from mask `from` to mask `to`: the data modules and
 * both copies of the format information; function modules stay. */
void qr_remask(QRcode *q, int from, int to);

#endif
