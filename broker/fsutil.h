/* fsutil.h — the filesystem steps that keep our files private and whole:
 * creating directories 0700 and replacing a file atomically. Keys and the
 * SQLite database both hold secrets, so both go through here. */
#ifndef QRLOGIN_FSUTIL_H
#define QRLOGIN_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* mkdir -p dir: every missing component is created 0700 (chmod'ed after, so
 * a loose umask cannot widen it); existing directories are accepted as they
 * are; a component that exists and is not a directory is an error. 0, or -1
 * with a reason in err. */
int fs_mkdir_p(const char *dir, char *err, size_t errsz);

/* Writes data to dir/name atomically: a 0600 temp file in the same
 * directory, fsync, then rename(), then an fsync of the directory. With
 * keep_existing the temp file is link()ed instead, which leaves an existing
 * dir/name alone (and succeeds): of several processes creating the same file
 * at once, the first one's content is the one everybody reads. 0, or -1 with
 * a reason in err. */
int fs_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                    bool keep_existing, char *err, size_t errsz);

#endif
