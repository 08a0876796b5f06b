#!/usr/bin/env bash
# Hand-run end-to-end benchmark: paystead on a fresh SQLite and a fresh PostgreSQL
# database (manual and automatic capture), then pgbench TPC-B on the same PostgreSQL
# as a yardstick for what the database alone can do on this machine.
# Bounded (every step has a time limit) and self-cleaning (trap). See bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${BENCH_DURATION:-20}
WARMUP=${BENCH_WARMUP:-3}
CONCURRENCY=${BENCH_CONCURRENCY:-64}
WORKERS=${BENCH_WORKERS:-1}
PROCESSES=${BENCH_PROCESSES:-1}
PORT=${BENCH_PORT:-8765}
DATABASES=${BENCH_DATABASES:-sqlite postgresql}
RUN_PGBENCH=${BENCH_PGBENCH:-1}
RESULTS_DIR=${BENCH_RESULTS_DIR:-}
STARTUP_TIMEOUT=${BENCH_STARTUP_TIMEOUT:-60}
PAYSTEAD=${PAYSTEAD_BIN:-$ROOT/.venv/bin/paystead}
PYTHON=$ROOT/.venv/bin/python
PG=(-h 127.0.0.1 -p 5432 -U postgres)
PG_DB=paystead_bench_$$
PGBENCH_DB=paystead_pgbench_$$
URL=http://127.0.0.1:$PORT

TMP=$(mktemp -d /tmp/paystead-bench.XXXXXX)
server_pid=
child_pid=
pg_db_created=0
pgbench_db_created=0

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command in the background with a time limit and wait for it, so that the
# traps below can still fire (and kill it) while it runs.
run_bounded() {
    local limit=$1 rc=0
    shift
    timeout "$limit" "$@" &
    child_pid=$!
    wait "$child_pid" || rc=$?
    child_pid=
    return "$rc"
}

# setsid made the server's pid its session id; zombies (not yet reaped) don't count.
# shellcheck disable=SC2009 # pgrep cannot skip zombies portably
server_alive() { ps -o stat= -s "$server_pid" 2>/dev/null | grep -qv '^Z'; }

stop_server() {
    [[ -n $server_pid ]] || return 0
    # The server was started with setsid: its pid is also its process group's id, and
    # that group holds any --workers children too.
    kill -TERM -- "-$server_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
        server_alive || break
        sleep 0.1
    done
    kill -KILL -- "-$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e # best effort from here on: one failed step must not skip the others
    [[ -n $child_pid ]] && kill -TERM "$child_pid" 2>/dev/null && wait "$child_pid" 2>/dev/null
    stop_server
    if ((pg_db_created)); then dropdb "${PG[@]}" --if-exists --force "$PG_DB" || true; fi
    if ((pgbench_db_created)); then dropdb "${PG[@]}" --if-exists --force "$PGBENCH_DB" || true; fi
    if [[ -n $RESULTS_DIR ]]; then
        # Reports and logs only: the SQLite database lives in a subdirectory and stays behind.
        mkdir -p "$RESULTS_DIR" && find "$TMP" -maxdepth 1 -type f -exec cp -t "$RESULTS_DIR" {} +
        log "results and logs kept in $RESULTS_DIR"
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The PostgreSQL postmaster's pid, so payments.py can report the database's CPU too
# (needs read access to the data directory; prints nothing otherwise).
postmaster_pid() {
    local dir
    dir=$(psql "${PG[@]}" -Atc 'show data_directory' 2>/dev/null) || return 0
    head -n 1 "$dir/postmaster.pid" 2>/dev/null || true
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_server() {
    local db=$1
    port_in_use "$PORT" && die "something already listens on 127.0.0.1:$PORT (set BENCH_PORT)"
    setsid "$PAYSTEAD" serve --host 127.0.0.1 --port "$PORT" --workers "$WORKERS" \
        >"$TMP/server-$db.log" 2>&1 </dev/null &
    server_pid=$!
    local deadline=$((SECONDS + STARTUP_TIMEOUT)) code
    while :; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/healthz" || true)
        [[ $code == 200 ]] && return 0
        if ! kill -0 "$server_pid" 2>/dev/null; then
            tail -n 30 "$TMP/server-$db.log" >&2
            server_pid=
            die "server exited during start-up ($db)"
        fi
        ((SECONDS < deadline)) || { tail -n 30 "$TMP/server-$db.log" >&2; die "no 200 from $URL/healthz after ${STARTUP_TIMEOUT}s"; }
        sleep 0.2
    done
}

bench_database() {
    local db=$1 key mode rc pg_pid db_pid_args=()
    case $db in
        sqlite)
            mkdir -p "$TMP/sqlite"
            export PAYSTEAD_DATABASE_URL="sqlite+aiosqlite:///$TMP/sqlite/bench.db"
            ;;
        postgresql)
            createdb "${PG[@]}" "$PG_DB"
            pg_db_created=1
            export PAYSTEAD_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/$PG_DB"
            pg_pid=$(postmaster_pid)
            if [[ -n $pg_pid ]]; then db_pid_args=(--db-pid "$pg_pid"); fi
            ;;
        *) die "unknown database '$db' in BENCH_DATABASES" ;;
    esac
    export PAYSTEAD_LOG_LEVEL=warning
    log "$db: migrate ($PAYSTEAD_DATABASE_URL)"
    run_bounded 300 "$PAYSTEAD" migrate >"$TMP/migrate-$db.log" 2>&1 ||
        { cat "$TMP/migrate-$db.log" >&2; die "paystead migrate failed ($db)"; }
    run_bounded 60 "$PAYSTEAD" apikey create --name bench >"$TMP/apikey-$db.out" 2>"$TMP/apikey-$db.err" ||
        { cat "$TMP/apikey-$db.err" >&2; die "paystead apikey create failed ($db)"; }
    key=$(grep -v '^[[:space:]]*$' "$TMP/apikey-$db.out" | tail -n 1 | tr -d '[:space:]' || true)
    rm -f "$TMP/apikey-$db.out"
    [[ -n $key ]] || die "paystead apikey create printed no key ($db)"

    log "$db: serve --workers $WORKERS on $URL"
    start_server "$db"
    for mode in manual automatic; do
        log "$db: $mode capture, concurrency $CONCURRENCY, ${WARMUP}s warmup + ${DURATION}s"
        rc=0
        PAYSTEAD_API_KEY=$key run_bounded $((WARMUP + DURATION + 90)) "$PYTHON" bench/payments.py \
            --url "$URL" --mode "$mode" --concurrency "$CONCURRENCY" --processes "$PROCESSES" \
            --duration "$DURATION" --warmup "$WARMUP" --server-pid "$server_pid" \
            "${db_pid_args[@]}" --json-out "$TMP/result-$db-$mode.json" || rc=$?
        ((rc == 0)) || log "warning: payments.py exited $rc ($db, $mode)"
    done
    # The same automatic-capture load from wrk, a C client that leaves the two cores to
    # the server and the database (apt-get install wrk; skipped when absent).
    if command -v wrk >/dev/null; then
        log "$db: wrk, automatic capture, $CONCURRENCY connections, ${DURATION}s"
        PAYSTEAD_API_KEY=$key run_bounded 60 wrk -t2 -c"$CONCURRENCY" -d"${WARMUP}s" \
            -s bench/wrk_payments.lua "$URL" >/dev/null 2>&1 || true
        PAYSTEAD_API_KEY=$key run_bounded $((DURATION + 60)) wrk -t2 -c"$CONCURRENCY" \
            -d"${DURATION}s" -s bench/wrk_payments.lua "$URL" >"$TMP/wrk-$db.txt" 2>&1 || true
        grep -E "Requests/sec|requests:|p50|p95|p99" "$TMP/wrk-$db.txt" | sed "s/^/wrk $db: /" |
            tee -a "$TMP/wrk-summary.txt" >&2
    fi
    stop_server
    unset PAYSTEAD_DATABASE_URL
}

run_pgbench() {
    log "pgbench: TPC-B scale 8 into $PGBENCH_DB"
    createdb "${PG[@]}" "$PGBENCH_DB"
    pgbench_db_created=1
    run_bounded 300 pgbench "${PG[@]}" -i -s 8 -q "$PGBENCH_DB" >"$TMP/pgbench-init.log" 2>&1 ||
        { cat "$TMP/pgbench-init.log" >&2; die "pgbench -i failed"; }
    log "pgbench: -c 8 -j 2 -T $DURATION over TCP"
    run_bounded $((DURATION + 120)) pgbench "${PG[@]}" -c 8 -j 2 -T "$DURATION" "$PGBENCH_DB" \
        >"$TMP/pgbench.out" 2>&1 || { cat "$TMP/pgbench.out" >&2; die "pgbench failed"; }
    cat "$TMP/pgbench.out"
    sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$TMP/pgbench.out" | head -n 1 >"$TMP/pgbench.tps"
    dropdb "${PG[@]}" --if-exists --force "$PGBENCH_DB" && pgbench_db_created=0
}

[[ -x $PAYSTEAD ]] || die "$PAYSTEAD not found: install the package into .venv first (or set PAYSTEAD_BIN)"
for tool in curl setsid timeout; do command -v "$tool" >/dev/null || die "$tool is required"; done
if [[ " $DATABASES " == *" postgresql "* ]] || ((RUN_PGBENCH)); then
    for tool in createdb dropdb pgbench pg_isready; do command -v "$tool" >/dev/null || die "$tool is required"; done
    pg_isready "${PG[@]}" >/dev/null || die "PostgreSQL is not accepting connections on 127.0.0.1:5432"
fi

log "$(nproc) cores; the client, the server and the database all share them"
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (should be near 0: anything else running skews the numbers)"
for db in $DATABASES; do bench_database "$db"; done
if ((RUN_PGBENCH)); then run_pgbench; fi

"$PYTHON" bench/summarize.py "$TMP" "$DATABASES"
[[ -f $TMP/wrk-summary.txt ]] && cat "$TMP/wrk-summary.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
