#!/bin/sh
# install_check.sh BUILD_DIR SOURCE_DIR — `cmake --install` puts libqrlogin where
# pkg-config finds it: the example of docs/client.md (client/examples/login.c)
# builds against the installed header and links both the shared and the static
# library; the shared one exports the qrl_* API and nothing else. The example,
# given an address where nothing listens, says so and exits 1.
set -eu
build=$1
src=$2
prefix=$(mktemp -d "${TMPDIR:-/tmp}/qrlogin-install-XXXXXX")
trap 'rm -rf "$prefix"' EXIT

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name qrlogin.pc)")/..
export PKG_CONFIG_PATH="$libdir/pkgconfig"
test -f "$prefix/include/qrlogin.h"

cc -Wall -Wextra -Werror -o "$prefix/login" "$src/client/examples/login.c" \
    $(pkg-config --cflags --libs qrlogin)
cc -Wall -Wextra -Werror -o "$prefix/login-static" "$src/client/examples/login.c" \
    $(pkg-config --cflags qrlogin) "$libdir/libqrlogin.a" $(pkg-config --static --libs-only-l qrlogin | sed 's/-lqrlogin//')

bad=$(nm -D --defined-only "$libdir/libqrlogin.so" | awk '{print $3}' | grep -v '^qrl_' || true)
if [ -n "$bad" ]; then
    echo "libqrlogin.so exports more than its API: $bad"
    exit 1
fi

for exe in login login-static; do
    set +e
    out=$(LD_LIBRARY_PATH="$libdir" "$prefix/$exe" ws://127.0.0.1:1/ws 2>&1)
    status=$?
    set -e
    if [ "$status" != 1 ] || ! echo "$out" | grep -q '^qrlogin: '; then
        echo "$exe: exit $status, output: $out"
        exit 1
    fi
done
echo "install_check: OK"
