#!/bin/bash
# qrlogin-healthcheck — the image's HEALTHCHECK: GET /healthz on the broker's own port.
#
# Written in bash (/dev/tcp) so that the slim image needs no curl or wget. It finds the
# port and whether TLS is on from the broker's own command line (/proc/1/cmdline: the broker
# is PID 1 in the container) and the QRLOGIN_* environment, the same places the broker
# reads. Plain HTTP: healthy on "HTTP/1.x 200". With TLS on the broker itself bash cannot
# speak HTTPS, so a completed TCP connect is the test (a reverse proxy in front usually
# terminates TLS instead; then this is the full check).
set -u

listen=${QRLOGIN_LISTEN:-0.0.0.0:8080}
tls=${QRLOGIN_TLS_CERT:-}
if [ -r /proc/1/cmdline ]; then
    mapfile -d '' argv < /proc/1/cmdline
    for ((i = 0; i < ${#argv[@]}; i++)); do
        case ${argv[i]} in
            --listen=*) listen=${argv[i]#--listen=} ;;
            --listen) listen=${argv[i + 1]:-$listen} ;;
            --tls-cert=*) tls=${argv[i]#--tls-cert=} ;;
            --tls-cert) tls=${argv[i + 1]:-} ;;
        esac
    done
fi

port=${listen##*:}
host=${listen%:*}
host=${host#[}
host=${host%]}
case $host in
    ''|0.0.0.0|'*') host=127.0.0.1 ;;
    ::) host=::1 ;;
esac

{ exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || { echo "no answer on $host:$port"; exit 1; }
if [ -n "$tls" ]; then
    exec 3>&-
    exit 0
fi
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 4 status <&3 || { echo "no HTTP answer on $host:$port"; exit 1; }
status=${status%$'\r'}
case $status in
    'HTTP/1.'?' 200 '*|'HTTP/1.'?' 200') exit 0 ;;
esac
echo "unhealthy: $status"
exit 1
