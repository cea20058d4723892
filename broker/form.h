/* form.h — application/x-www-form-urlencoded: reading one field of a body
 * or query string, and percent-encoding a value into a URL. */
#ifndef QRLOGIN_FORM_H
#define QRLOGIN_FORM_H

#include <stddef.h>

/* Finds `name` in an application/x-www-form-urlencoded body and decodes its
 * value into out. Returns the length, -1 if absent, -2 if malformed, too long
 * or given twice (ambiguous input is refused, not guessed at: RFC 6749 §3.1
 * says a parameter must not appear more than once). */
int form_value(const char *body, size_t len, const char *name, char *out, size_t outsz);

/* Percent-encodes s (everything but RFC 3986 unreserved characters) and
 * appends it to out at *pos. Returns 0, or -1 if it does not fit (out is
 * then terminated at the old *pos). */
int form_append_encoded(char *out, size_t outsz, size_t *pos, const char *s);

/* Decodes the percent-encoding of s in place ('+' is a space); -1 if
 * malformed or it would decode a NUL. */
int form_decode_inplace(char *s);

#endif
