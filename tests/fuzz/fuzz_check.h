/* fuzz_check.h — the fuzz targets' assertion: a property that must hold for
 * every input; abort() so libFuzzer records the input as a crash. */
#ifndef QRLOGIN_FUZZ_CHECK_H
#define QRLOGIN_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                               \
        }                                                                          \
    } while (0)

#endif
