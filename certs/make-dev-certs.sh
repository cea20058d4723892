#!/bin/sh
# make-dev-certs.sh — a local CA and a server certificate for trying qrlogin over HTTPS
# on a LAN (phones refuse or limit plain http:// pages). Development only.
#
#   certs/make-dev-certs.sh [--force] [--san DNS:name|IP:addr]... [OUTDIR]
#
# OUTDIR (default: certs/dev next to this script) receives
#   ca.pem  ca.key      the local CA (EC P-256); the CA is reused on every run, so a phone
#                       that trusts it keeps trusting the new server certificates
#   ca.crt              the same CA certificate in DER, the form phones import most easily
#   server.pem server.key  the server certificate (EC P-256, signed by the CA) for
#                       localhost, 127.0.0.1, ::1, this host's name and every LAN IPv4
#                       address of `hostname -I`, plus any --san
#
# Idempotent: the server certificate is kept while it is valid for 30 more days, is signed
# by the CA and names the same hosts; otherwise it is reissued (e.g. the LAN address
# changed). --force makes a new CA and a new server certificate (phones must then trust
# the new CA again).
#
# Certificates are valid 825 days, the most iOS accepts for a TLS server certificate; the
# server certificate carries the SAN extension and the serverAuth extended key usage,
# which iOS 13+ and Chrome require.
set -eu

DAYS=825
RENEW_BEFORE=$((30 * 24 * 3600))   # reissue when less than 30 days are left

here=$(cd "$(dirname "$0")" && pwd)
out=
force=0
extra_sans=

usage() {
    sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
        --force) force=1 ;;
        --san)
            [ $# -ge 2 ] || { echo "make-dev-certs.sh: --san needs DNS:name or IP:addr" >&2; exit 2; }
            case "$2" in
                DNS:?*|IP:?*) extra_sans="$extra_sans $2" ;;
                *) echo "make-dev-certs.sh: --san takes DNS:name or IP:addr, not '$2'" >&2; exit 2 ;;
            esac
            shift ;;
        --san=*)
            v=${1#--san=}
            case "$v" in
                DNS:?*|IP:?*) extra_sans="$extra_sans $v" ;;
                *) echo "make-dev-certs.sh: --san takes DNS:name or IP:addr, not '$v'" >&2; exit 2 ;;
            esac ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "make-dev-certs.sh: unknown option '$1' (--force, --san, --help)" >&2; exit 2 ;;
        *)
            [ -z "$out" ] || { echo "make-dev-certs.sh: one output directory only" >&2; exit 2; }
            out=$1 ;;
    esac
    shift
done
out=${out:-$here/dev}

command -v openssl >/dev/null 2>&1 || {
    echo "make-dev-certs.sh: openssl not found (apt-get install -y openssl)" >&2
    exit 1
}

umask 077
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qrlogin-certs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# ---- the names the server certificate is for ----------------------------------------
# hostname -I: every address of every interface, IPv4 and IPv6, loopback excluded.
lan_ips=$(hostname -I 2>/dev/null | tr ' ' '\n' \
    | grep -E '^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$' | grep -v '^127\.' || true)
host=$(hostname 2>/dev/null || true)
sans="DNS:localhost IP:127.0.0.1 IP:::1"
# The host name and its mDNS form, when it is a valid DNS label (phones resolve name.local).
if printf '%s' "$host" | grep -Eq '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$' \
    && [ "$host" != localhost ]; then
    sans="$sans DNS:$host DNS:$host.local"
fi
for ip in $lan_ips; do sans="$sans IP:$ip"; done
sans="$sans$extra_sans"
# One canonical comma-separated list, in order, without duplicates.
san_list=$(printf '%s\n' "$sans" | tr ' ' '\n' | awk 'NF && !seen[$0]++' | paste -sd, -)

# ---- the CA --------------------------------------------------------------------------
if [ "$force" = 1 ]; then
    rm -f "$out/ca.pem" "$out/ca.key" "$out/ca.crt" "$out/server.pem" "$out/server.key" \
        "$out/server.csr" "$out/server.san"
fi
if [ -f "$out/ca.pem" ] && [ ! -f "$out/ca.key" ]; then
    echo "make-dev-certs.sh: $out/ca.pem exists without ca.key; cannot sign (use --force)" >&2
    exit 1
fi
if [ ! -f "$out/ca.pem" ]; then
    cat > "$tmp/ca.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
O = qrlogin development
CN = qrlogin dev CA ${host:-local} $(date -u +%Y-%m-%d)
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/ca.key" 2>/dev/null
    openssl req -x509 -new -config "$tmp/ca.cnf" -key "$tmp/ca.key" -sha256 -days "$DAYS" \
        -set_serial "0x$(openssl rand -hex 16)" -out "$tmp/ca.pem"
    mv "$tmp/ca.key" "$out/ca.key"
    chmod 644 "$tmp/ca.pem"
    mv "$tmp/ca.pem" "$out/ca.pem"
    rm -f "$out/server.pem" "$out/server.key" "$out/server.san"
    echo "made a new CA: $out/ca.pem"
else
    echo "reusing the CA: $out/ca.pem"
    if ! openssl x509 -in "$out/ca.pem" -noout -checkend "$RENEW_BEFORE" >/dev/null 2>&1; then
        echo "make-dev-certs.sh: the CA expires within 30 days; run with --force for a new one" \
            "(phones must then trust it again)" >&2
    fi
fi
# The DER copy, remade every time (same bytes while the CA is the same).
openssl x509 -in "$out/ca.pem" -outform DER -out "$tmp/ca.crt"
chmod 644 "$tmp/ca.crt"
mv "$tmp/ca.crt" "$out/ca.crt"

# ---- the server certificate -------------------------------------------------------------
keep=0
if [ -f "$out/server.pem" ] && [ -f "$out/server.key" ] && [ -f "$out/server.san" ] \
    && [ "$(cat "$out/server.san")" = "$san_list" ] \
    && openssl x509 -in "$out/server.pem" -noout -checkend "$RENEW_BEFORE" >/dev/null 2>&1 \
    && openssl verify -CAfile "$out/ca.pem" "$out/server.pem" >/dev/null 2>&1; then
    keep=1
fi
if [ "$keep" = 1 ]; then
    echo "keeping the server certificate: $out/server.pem"
else
    cat > "$tmp/server.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
O = qrlogin development
CN = ${host:-localhost}
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $san_list
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/server.key" 2>/dev/null
    openssl req -new -config "$tmp/server.cnf" -key "$tmp/server.key" -out "$tmp/server.csr"
    openssl x509 -req -in "$tmp/server.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -sha256 -days "$DAYS" \
        -extfile "$tmp/server.cnf" -extensions v3_server -out "$tmp/server.pem" 2>/dev/null
    openssl verify -CAfile "$out/ca.pem" "$tmp/server.pem" >/dev/null
    chmod 644 "$tmp/server.pem"
    mv "$tmp/server.key" "$out/server.key"
    mv "$tmp/server.pem" "$out/server.pem"
    printf '%s\n' "$san_list" > "$out/server.san"
    echo "issued a server certificate: $out/server.pem"
fi

echo "  for:      $(printf '%s' "$san_list" | sed 's/,/, /g')"
echo "  expires:  $(openssl x509 -in "$out/server.pem" -noout -enddate | cut -d= -f2)"
echo "  CA SHA-256 fingerprint (compare on the phone):"
echo "            $(openssl x509 -in "$out/ca.pem" -noout -fingerprint -sha256 | cut -d= -f2)"
echo "  phones import $out/ca.crt (see certs/README.md); never copy ca.key anywhere"
