/* lws_alloc.c — see lws_alloc.h. */
#include "lws_alloc.h"

#include <libwebsockets.h>
#include <string.h>

#include "slab.h"

/* lws 4.1's names for them (lib/core-net/adopt.c, lib/roles/ws/, the libuv
 * event library). A name lws renames just goes to malloc again. */
static const char *const per_connection[] = {"new server wsi", "ws struct", "rx_ubuf", "uvh"};

static int lives_with_connection(const char *reason)
{
    if (!reason)
        return 0;
    for (size_t i = 0; i < sizeof per_connection / sizeof *per_connection; i++)
        if (!strcmp(reason, per_connection[i]))
            return 1;
    return 0;
}

void *lws_alloc_realloc(void *p, size_t size, const char *reason)
{
    if (size == 0) { /* lws_free */
        slab_free(p);
        return NULL;
    }
    if (!p && lives_with_connection(reason))
        return slab_malloc(size);
    return slab_realloc(p, size);
}

void lws_alloc_install(void) { lws_set_allocator(lws_alloc_realloc); }
