#!/bin/sh
# run-tls.sh — the broker over HTTPS and WSS, for a phone on the same network.
#
#   certs/run-tls.sh [extra qrlogin-broker serve options]
#
# Makes (or reuses) the local CA and the server certificate in certs/dev with
# make-dev-certs.sh, then runs the broker on 0.0.0.0:$PORT (default 8443) with the QR
# pointing at https://<first LAN IPv4>:$PORT and the demo user demo / demo.
# Environment: BROKER (default build/qrlogin-broker), PORT (8443), PUBLIC_HOST (the LAN
# address to put in the QR, default: the first IPv4 address of `hostname -I`).
# Phones must trust certs/dev/ca.crt once: see certs/README.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
cd "$top"   # the same ./data as `make run`
BROKER=${BROKER:-$top/build/qrlogin-broker}
PORT=${PORT:-8443}

[ -x "$BROKER" ] || { echo "run-tls.sh: $BROKER not built (make build)" >&2; exit 1; }
"$here/make-dev-certs.sh" "$here/dev"

ip=${PUBLIC_HOST:-$(hostname -I 2>/dev/null | tr ' ' '\n' \
    | grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' | grep -v '^127\.' | head -n 1 || true)}
ip=${ip:-127.0.0.1}
if ! openssl x509 -in "$here/dev/server.pem" -noout -checkip "$ip" >/dev/null 2>&1 \
    && ! openssl x509 -in "$here/dev/server.pem" -noout -checkhost "$ip" >/dev/null 2>&1; then
    echo "run-tls.sh: the certificate does not name $ip;" \
        "run certs/make-dev-certs.sh --san IP:$ip (or DNS:$ip)" >&2
    exit 1
fi

echo
echo "  PC login page:  https://$ip:$PORT/"
echo "  phone page:     https://$ip:$PORT/m/   (user demo, password demo)"
echo "  phones must trust $here/dev/ca.crt once (certs/README.md)"
echo
exec "$BROKER" serve --listen "0.0.0.0:$PORT" --public-url "https://$ip:$PORT" \
    --tls-cert "$here/dev/server.pem" --tls-key "$here/dev/server.key" --demo "$@"
