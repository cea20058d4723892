#!/usr/bin/env bash
# bench/run.sh — the project's benchmark: builds what is missing, starts a
# throw-away broker on a free loopback port, runs the standard scenarios with
# qrlogin-bench and qrlogin-sign-rate, profiles the broker briefly with perf,
# and writes docs/benchmarks.md from what it measured.
#
#   bench/run.sh                     # about 7 minutes on 2 cores
#   BENCH_IDLE=20000 bench/run.sh    # more waiting sockets (mind ulimit -n)
#
# Knobs (environment): BENCH_IDLE (10000), BENCH_DURATION (measured seconds per
# load scenario, 15), BENCH_RATE (flows/s beside the idle sockets, 200),
# BENCH_READ_MS (20: how long the phone waits between ticket.info and its
# confirm in the flows beside waiting sockets — a person reads the PC's
# details first, and the broker signs the login meanwhile; 0 confirms at once),
# BENCH_NICE (-5: the broker outranks unrelated work on a shared box, and the
# bench runs 5 above it, so that on two cores the load generator yields to the
# system it measures as it would on machines of its own; 0 to disable), BENCH_PROFILE (1: perf record -g the broker), BENCH_EVENT_LOOP
# (libuv: --event-loop of the broker and of the bench, named so that a missing
# plugin stops the run instead of measuring poll() unnoticed), BENCH_PROCS (2:
# bench processes sharing each flat-out workload, see bench/procs.h), BENCH_OUT
# (the markdown file). Everything runs on 127.0.0.x and stops by itself; the EXIT
# trap kills whatever is still running.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IDLE=${BENCH_IDLE:-10000}
DUR=${BENCH_DURATION:-15}
RATE=${BENCH_RATE:-200}
READ_MS=${BENCH_READ_MS:-20}
NICE=${BENCH_NICE:--5}
PROFILE=${BENCH_PROFILE:-1}
EVENT_LOOP=${BENCH_EVENT_LOOP:-libuv}
PROCS=${BENCH_PROCS:-2}
OUT=${BENCH_OUT:-$ROOT/docs/benchmarks.md}
HOLD=15        # seconds of idle-CPU measurement
WARMUP=2

WORK=$(mktemp -d /tmp/qrlogin-bench.XXXXXX)
BROKER_PID=
HOLDER_PID=
PORT=

cleanup() {
    for p in $HOLDER_PID $BROKER_PID; do
        kill "$p" 2>/dev/null || true
    done
    for p in $HOLDER_PID $BROKER_PID; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*" >&2; }

# A negative nice needs privilege; without it, run at normal priority.
RUN=()  # the broker
LOAD=() # the bench processes
if [ "$NICE" != 0 ] && nice -n "$NICE" true 2>/dev/null; then
    RUN=(nice -n "$NICE")
    LOAD=(nice -n "$((NICE + 5))")
else
    NICE=0
fi

# ---- build what is missing ----
say "build"
cd "$ROOT"
[ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
cmake --build build -j"$(nproc)" >&2
BROKER=$ROOT/build/qrlogin-broker
if [ -x build/bench/qrlogin-bench ]; then
    BENCH=$ROOT/build/bench/qrlogin-bench
    SIGN=$ROOT/build/bench/qrlogin-sign-rate
else # the top-level CMakeLists.txt does not add bench/ (yet): build it alone
    [ -f build/bench-standalone/CMakeCache.txt ] ||
        cmake -S bench -B build/bench-standalone -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
    cmake --build build/bench-standalone -j"$(nproc)" >&2
    BENCH=$ROOT/build/bench-standalone/qrlogin-bench
    SIGN=$ROOT/build/bench-standalone/qrlogin-sign-rate
fi

# ---- broker lifecycle ----
free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 10000))
        if [ -z "$(ss -Htln "sport = :$p")" ]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

BROKER_COMMON=(--pbkdf2-iterations 1000 --demo --max-conns-per-ip 1000000
    --msg-rate 100000 --msg-burst 100000 --refresh-interval 0 --ticket-ttl 600
    --log-level warn --event-loop "$EVENT_LOOP")

# start_broker NAME [extra broker options]: fresh data dir, free port, waits
# for /healthz (at most 10 s).
start_broker() {
    local name=$1
    shift
    PORT=$(free_port)
    mkdir -p "$WORK/$name"
    BROKER_ARGS=(serve --listen "127.0.0.1:$PORT" --public-url "http://127.0.0.1:$PORT"
        --data-dir "$WORK/$name" "${BROKER_COMMON[@]}" "$@")
    "${RUN[@]}" "$BROKER" "${BROKER_ARGS[@]}" 2>"$WORK/$name.log" &
    BROKER_PID=$!
    echo "qrlogin-broker ${BROKER_ARGS[*]}" | sed "s|$WORK|\$TMP|g" >>"$WORK/commands.txt"
    for _ in $(seq 1 100); do
        if curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "run.sh: the broker did not come up; its log:" >&2
    cat "$WORK/$name.log" >&2
    exit 1
}

stop_broker() {
    [ -n "$BROKER_PID" ] || return 0
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$BROKER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=
}

# bench NAME [options]: one qrlogin-bench run against the current broker,
# JSON to $WORK/NAME.json, progress lines to the terminal.
bench() {
    local name=$1
    shift
    local args=(--url "ws://127.0.0.1:$PORT/ws" --broker-pid "$BROKER_PID" --json
        --event-loop "$EVENT_LOOP" "$@")
    echo "qrlogin-bench ${args[*]}" | sed "s|$WORK|\$TMP|g; s|--broker-pid [0-9]*|--broker-pid \$PID|; s|127.0.0.1:[0-9]*|127.0.0.1:\$PORT|" >>"$WORK/commands.txt"
    # A failed run still leaves its partial JSON; the report says what is missing.
    timeout 300 "${LOAD[@]}" "$BENCH" "${args[@]}" >"$WORK/$name.json" ||
        echo "run.sh: qrlogin-bench $name did not finish cleanly" >&2
}

# profile NAME SECONDS: perf record -g of the broker while something runs.
profile_start() {
    PERF_PID=
    [ "$PROFILE" = 1 ] && command -v perf >/dev/null || return 0
    # dwarf: the confirm path's profile needs whole stacks, and the broker,
    # lws and libuv are built without frame pointers
    local how=(-g)
    [ "${3:-}" = dwarf ] && how=(-F 4000 --call-graph dwarf,16384)
    perf record -q "${how[@]}" -p "$BROKER_PID" -o "$WORK/$1.perf" -- sleep "$2" >/dev/null 2>&1 &
    PERF_PID=$!
    echo "perf record ${how[*]} -p \$PID -- sleep $2   # during the next command" >>"$WORK/commands.txt"
}
profile_finish() {
    [ -n "${PERF_PID:-}" ] || return 0
    wait "$PERF_PID" 2>/dev/null || true
    perf report -i "$WORK/$1.perf" --stdio --no-children -g none --sort dso,symbol \
        --percent-limit 0.8 2>/dev/null | grep -E '^ *[0-9.]+%' | sed 's/^ *//; s/ *- *- *$//' |
        head -30 >"$WORK/$1.top" || true
    [ -s "$WORK/$1.top" ] || echo "(perf recorded no samples)" >"$WORK/$1.top"
}
# profile_confirm NAME: the samples of NAME's record taken on the confirm path
# — under the phone's confirm (confirm_here, confirm_user_cb when the user
# record arrives, login_presign_login) or under the `login` it ends in
# (confirm_issued, after the session's write) — see bench/confirm-profile.awk.
profile_confirm() {
    [ -f "$WORK/$1.perf" ] || return 0
    perf script -i "$WORK/$1.perf" -F ip,sym,dso 2>/dev/null |
        awk -v re='confirm_here|confirm_user_cb|login_presign_login|confirm_issued' \
            -f "$ROOT/bench/confirm-profile.awk" >"$WORK/$1.confirm.top" || true
    echo "perf script -F ip,sym,dso | awk -f bench/confirm-profile.awk   # the confirm path" >>"$WORK/commands.txt"
}

# ---- the machine ----
say "machine"
{
    echo "nproc=$(nproc)"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel=$(uname -r)"
    echo "lws=$(dpkg-query -W -f='${Version}' libwebsockets17 2>/dev/null || echo '?')"
    echo "mbedtls=$(dpkg-query -W -f='${Version}' libmbedcrypto7 2>/dev/null || dpkg-query -W -f='${Version}' libmbedtls-dev 2>/dev/null || echo '?')"
    echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "nice=$NICE"
    echo "event_loop=$EVENT_LOOP"
    echo "procs=$PROCS"
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "ulimit_n=$(ulimit -Hn)"
} >"$WORK/machine.txt"
cat "$WORK/machine.txt" >&2
: >"$WORK/commands.txt"

# ---- 1. what the signing pool can sign ----
say "ES256 signing capacity (mbedTLS, no broker)"
echo "qrlogin-sign-rate --seconds 3 --json" >>"$WORK/commands.txt"
"${RUN[@]}" "$SIGN" --seconds 3 --json >"$WORK/sign.json"
cat "$WORK/sign.json" >&2

# ---- 2. idle sockets (memory, idle CPU), then flows beside them ----
# The idle sockets live in their own bench process: a load generator holding
# 10k sockets pays a poll() over all of them per wake-up, and that must not
# end up in the latency it reports.
say "$IDLE idle PC sockets, then $RATE flows/s beside them (ES256)"
start_broker es256
LINGER=$((WARMUP + DUR + 20 + (PROFILE == 1 ? 12 : 0)))
bench idle --idle "$IDLE" --hold "$HOLD" --ready-file "$WORK/ready" --linger "$LINGER" &
HOLDER_PID=$!
for _ in $(seq 1 1800); do # at most 180 s to open them
    [ -f "$WORK/ready" ] && break
    kill -0 "$HOLDER_PID" 2>/dev/null || break
    sleep 0.1
done
[ -f "$WORK/ready" ] || { echo "run.sh: idle sockets never became ready" >&2; exit 1; }
bench flows_idle --flows "$RATE" --duration "$DUR" --warmup "$WARMUP" --read-ms "$READ_MS"
profile_start idle 8 dwarf
bench flows_idle_prof --flows "$RATE" --duration 7 --warmup 1 --read-ms "$READ_MS"
profile_finish idle
profile_confirm idle
wait "$HOLDER_PID" || true
HOLDER_PID=
stop_broker

# ---- 2b. confirm → login beside N waiting sockets, ES256 and HS256 side by
# side; memory per waiting socket at each N ----
# beside NAME N [broker options]: a fresh broker, N idle PC sockets in their
# own bench process, then $RATE flows/s beside them.
beside() {
    local name=$1 count=$2
    shift 2
    start_broker "$name" "$@"
    rm -f "$WORK/ready"
    bench "idle_$name" --idle "$count" --hold 3 --ready-file "$WORK/ready" \
        --linger "$((WARMUP + DUR + 8))" &
    HOLDER_PID=$!
    for _ in $(seq 1 1800); do
        [ -f "$WORK/ready" ] && break
        kill -0 "$HOLDER_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -f "$WORK/ready" ] || { echo "run.sh: $count idle sockets never became ready" >&2; exit 1; }
    bench "flows_$name" --flows "$RATE" --duration "$DUR" --warmup "$WARMUP" --read-ms "$READ_MS"
    wait "$HOLDER_PID" || true
    HOLDER_PID=
    stop_broker
}
say "$RATE flows/s beside 2,000 waiting sockets, ES256 then HS256; beside $IDLE, HS256"
beside w2k_es256 2000
beside w2k_hs256 2000 --access-alg HS256
beside w10k_hs256 "$IDLE" --access-alg HS256
say "the same at 2,000 with the phone confirming at once (the pair may still be signing)"
READ_MS_SET=$READ_MS
READ_MS=0
beside w2k_es256_read0 2000
READ_MS=$READ_MS_SET
say "memory per waiting socket at 1,000"
start_broker mem1k
bench idle_mem1k --idle 1000 --hold 3
stop_broker

# ---- 3. flat out, ES256; refresh rotations ----
start_broker es256_flat
say "login flows flat out, ES256"
bench flows_es256 --flows 0 --duration "$DUR" --warmup "$WARMUP" --inflight 32 --procs "$PROCS"
say "refresh rotations flat out, ES256 access tokens"
bench refresh_es256 --refresh 0 --duration 10 --warmup "$WARMUP" --sessions 32 --procs "$PROCS"
stop_broker

# ---- 4. flat out, HS256 ----
say "login flows flat out, HS256"
start_broker hs256 --access-alg HS256
bench flows_hs256 --flows 0 --duration "$DUR" --warmup "$WARMUP" --inflight 32 --procs "$PROCS"
profile_start hs256 8
bench flows_hs256_prof --flows 0 --duration 7 --warmup 1 --inflight 32 --procs "$PROCS"
profile_finish hs256
stop_broker

# ---- 5. the report ----
say "writing $OUT"
node "$ROOT/bench/write-report.mjs" "$WORK" "$OUT"
echo "wrote $OUT" >&2
