#!/bin/bash
# full-flow.sh BROKER — runs the real qrlogin-broker under valgrind memcheck, drives a full
# flow against it with full-flow.mjs (node + ws), stops it with SIGTERM and fails unless
# valgrind's exit status is 0: no definite or indirect leak, no invalid access or use of
# uninitialised memory (--error-exitcode=99), and the broker itself exited 0.
#
# Environment: VALGRIND, NODE (default: from PATH); KEEP=1 keeps the work directory
# (valgrind.log, broker.log, flow.log) for a look afterwards.
set -u
BROKER=${1:?usage: full-flow.sh path/to/qrlogin-broker}
VALGRIND=${VALGRIND:-valgrind}
NODE=${NODE:-node}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/qrlogin-valgrind-XXXXXX")
vg_pid=
node_pid=

cleanup() {
    [ -n "$vg_pid" ] && kill -KILL "$vg_pid" 2>/dev/null
    [ -n "$node_pid" ] && kill -KILL "$node_pid" 2>/dev/null
    if [ "${KEEP:-0}" = 1 ]; then
        echo "full-flow: logs kept in $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

show_logs() {
    echo "----- flow.log -----"; cat "$work/flow.log" 2>/dev/null
    echo "----- broker.log (last 60 lines) -----"; tail -n 60 "$work/broker.log" 2>/dev/null
    echo "----- valgrind.log -----"; cat "$work/valgrind.log" 2>/dev/null
}

# A free port below the kernel's ephemeral range (32768 and up by default), where client
# sockets of other programs (and their TIME_WAIT leftovers) do not land.
free_port() {
    "$NODE" -e '
const net = require("net");
(function tryOne(left) {
  const port = 20000 + Math.floor(Math.random() * 12000);
  const s = net.createServer();
  s.once("error", () => { if (left > 0) tryOne(left - 1); else process.exit(1); });
  s.listen({ port, host: "127.0.0.1", exclusive: true }, () => { s.close(() => console.log(port)); });
})(50);'
}

# Start the broker under valgrind; a free port can be taken by someone else before the
# broker binds it, so a "could not listen" start is retried on another port.
# The flow replays a refresh inside its grace and leaves sockets idle until the shutdown;
# under valgrind on a busy machine either may take long, so the grace and the idle timeout
# are far longer than the flow (nothing in it waits for them to end).
for attempt in 1 2 3 4 5; do
    port=$(free_port)
    url="http://127.0.0.1:$port"
    "$VALGRIND" --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-fds=no \
        --num-callers=30 --log-file="$work/valgrind.log" \
        "$BROKER" serve --listen "127.0.0.1:$port" --public-url "$url" --data-dir "$work/data" \
        --ticket-ttl 2 --max-rotations 1 --refresh-interval 0 --refresh-grace 600 \
        --idle-timeout 3600 --pbkdf2-iterations 1000 \
        --demo --heartbeat 5 --threads 2 --log-level info \
        >"$work/broker.log" 2>&1 &
    vg_pid=$!
    # Up to 60 s for the broker to listen (startup is slow under valgrind).
    for _ in $(seq 1 300); do
        grep -q 'listening on' "$work/broker.log" && break
        kill -0 "$vg_pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$vg_pid" 2>/dev/null; then
        break
    fi
    wait "$vg_pid"
    vg_pid=
    if grep -q 'could not listen' "$work/broker.log"; then
        echo "full-flow: port $port was taken, retrying on another one"
        continue
    fi
    echo "full-flow: the broker exited during startup"
    show_logs
    exit 1
done
if [ -z "$vg_pid" ]; then
    echo "full-flow: no free port after 5 attempts"
    exit 1
fi

"$NODE" "$here/full-flow.mjs" "$url" >"$work/flow.log" 2>&1 &
node_pid=$!

# The flow prints FLOW-OK when it is done and waits, sockets open, for the shutdown.
while kill -0 "$node_pid" 2>/dev/null && ! grep -q '^FLOW-OK' "$work/flow.log"; do
    if ! kill -0 "$vg_pid" 2>/dev/null; then
        break # the broker died under the flow
    fi
    sleep 0.2
done
flow_ok=0
grep -q '^FLOW-OK' "$work/flow.log" && flow_ok=1

kill -TERM "$vg_pid" 2>/dev/null
# Exit (with the leak check) takes a while under valgrind; give it 180 s.
for _ in $(seq 1 900); do
    kill -0 "$vg_pid" 2>/dev/null || break
    sleep 0.2
done
if kill -0 "$vg_pid" 2>/dev/null; then
    echo "full-flow: the broker did not exit within 180 s of SIGTERM"
    kill -KILL "$vg_pid"
fi
wait "$vg_pid"
vg_status=$?
vg_pid=
wait "$node_pid"
node_status=$?
node_pid=

echo "full-flow: valgrind exit status $vg_status, flow exit status $node_status"
grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable' \
    "$work/valgrind.log" | sed 's/^==[0-9]*== */valgrind: /'
if [ "$flow_ok" != 1 ] || [ "$node_status" != 0 ] || [ "$vg_status" != 0 ]; then
    [ "$vg_status" = 99 ] && echo "full-flow: valgrind found errors (see valgrind.log below)"
    show_logs
    exit 1
fi
echo "full-flow: OK"
exit 0
