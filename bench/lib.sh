# Shared by the bench scripts (sourced): the anchors' settings, a release Estafeta on a temporary
# database, its admin API, and small statistics helpers.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ANCHORS=${ANCHORS:-$(cd "$repo/.." && pwd)/shared/anchors}
[ -f "$ANCHORS/smtp_load.sh" ] || { echo "anchors not found at $ANCHORS" >&2; exit 2; }
. "$ANCHORS/anchors_env.sh"

# Postfix and Dovecot from the anchors, unless already up.
ensure_anchors() {
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null; then
    echo "starting the anchors (Postfix, Dovecot)" >&2
    bash "$ANCHORS/anchors_start.sh" >&2
  fi
}

# STORE=postgres: the store in a private PostgreSQL cluster on loopback (Debian's postgresql, run as its
# `postgres` user; fsync and synchronous_commit on, as a production server has them) instead of the
# SQLite file. Sets $database_flags for `estafeta serve`. PG_OPTIONS: more server flags (`-c name=value`).
as_postgres() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi; }
start_database() {
  database_flags=(--database-path "$work/data/estafeta.sqlite")
  [ "${STORE:-sqlite}" = postgres ] || return 0
  local bin password
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); pg_bin=$bin
  password="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  pg_port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  chmod 755 "$work"  # the postgres user reaches its directory through it
  mkdir -p "$work/pg" && chown postgres:postgres "$work/pg" && chmod 700 "$work/pg"
  echo unused > "$work/pg.pw" && chown postgres "$work/pg.pw"
  as_postgres "$bin/initdb" -D "$work/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile "$work/pg.pw" -E UTF8 >/dev/null
  as_postgres "$bin/postgres" -D "$work/pg/data" -k "$work/pg" -p "$pg_port" -c listen_addresses=127.0.0.1 \
    -c max_connections=200 ${PG_OPTIONS:-} >"$work/pg.log" 2>&1 &
  pg_server=$!
  for _ in $(seq 1 100); do as_postgres "$bin/pg_isready" -h "$work/pg" -p "$pg_port" -q && break; sleep 0.2; done
  as_postgres "$bin/psql" -h "$work/pg" -p "$pg_port" -U postgres -q -c "CREATE ROLE estafeta LOGIN PASSWORD '$password'"
  as_postgres "$bin/psql" -h "$work/pg" -p "$pg_port" -U postgres -q -c "CREATE DATABASE estafeta OWNER estafeta"
  export ESTAFETA_DATABASE_PASSWORD=$password
  database_flags=(--database-url "postgres://estafeta@127.0.0.1:$pg_port/estafeta?sslmode=disable")
  echo "store: PostgreSQL $(basename "$(dirname "$bin")") on 127.0.0.1:$pg_port" >&2
}

# Builds and starts `estafeta serve` (release) on loopback with bench.test and test1@bench.test;
# sets $work, $server, $token, $smtp_port, $admin_port. Extra flags are passed through. The load comes
# from one address, so the per-network connection rate limit is off (Postfix's is off by default too).
# ESTAFETA_BIN: another `estafeta` executable to run instead (a release build of an earlier commit, for an
# A/B comparison); the default is this checkout's, built first.
start_estafeta() {
  if [ -z "${ESTAFETA_BIN:-}" ]; then
    echo "building estafeta (release)" >&2
    (cd "$repo" && swift build -c release --product estafeta >&2)
  fi
  work=$(mktemp -d /tmp/estafeta-bench.XXXXXX)
  start_database
  token="bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  local ports=()
  for name in smtp submission submissions pop3 pop3s imap imaps admin ops; do ports+=("--$name-port" 0 "--$name-host" 127.0.0.1); done
  ESTAFETA_ADMIN_TOKEN=$token "${ESTAFETA_BIN:-$repo/.build/release/estafeta}" serve "${database_flags[@]}" \
    --ready-file "$work/ready.json" --log-level warning --hostname bench.estafeta.test \
    --relay-smarthost 127.0.0.1:1 --limits-max-new-connections-per-minute 0 "${ports[@]}" "$@" >"$work/log" 2>&1 &
  server=$!
  trap stop_estafeta EXIT
  for _ in $(seq 1 120); do [ -s "$work/ready.json" ] && break; sleep 0.5; done
  [ -s "$work/ready.json" ] || { echo "estafeta did not start:" >&2; cat "$work/log" >&2; exit 1; }
  smtp_port=$(ready_port smtp); admin_port=$(ready_port admin)
  api POST domains '{"name":"bench.test"}' >/dev/null
  api POST accounts '{"address":"test1@bench.test","password":"bench password 1"}' >/dev/null
}

stop_estafeta() {
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  # The cluster's postmaster is a child of the subshell $pg_server names: pg_ctl stops the postmaster itself.
  if [ -n "${pg_server:-}" ]; then as_postgres "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true; wait "$pg_server" 2>/dev/null || true; fi
  [ "${STOP_ANCHORS:-0}" = 1 ] && bash "$ANCHORS/anchors_stop.sh" >&2 || true
  rm -rf "$work"
}

ready_port() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$work/ready.json" "$1"; }
api() { curl -sf -X "$1" -H "Authorization: Bearer $token" -H "Content-Type: application/json" ${3:+-d "$3"} "http://127.0.0.1:$admin_port/api/v1/$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
ratio() { awk -v e="$1" -v p="$2" 'BEGIN{printf "%.2f", e/p}'; }

# Accounts $USERS@bench.test on Estafeta with the password hash Dovecot uses ($ANCHORS_PWSCHEME, made by
# doveadm pw, imported through passwordHash) so that logins cost alike, and the anchors' INBOXes of the
# same users emptied. Sets $estafeta_users (comma list).
bench_accounts() {
  local hash user
  hash=$(doveadm pw -s "$ANCHORS_PWSCHEME" -p "$BENCH_PASS")
  estafeta_users=""
  for user in $USERS; do
    api POST accounts "{\"address\":\"$user@bench.test\",\"passwordHash\":\"$hash\"}" >/dev/null
    estafeta_users="$estafeta_users,$user@bench.test"
  done
  estafeta_users=${estafeta_users#,}
  for user in $USERS; do doveadm -c "$DOVECOT_CONF" expunge -u "$user" mailbox INBOX all >/dev/null 2>&1 || true; done
}

# populate PORT USERS: $PER_USER messages of $SIZE bytes into each user's INBOX over IMAP APPEND (the
# anchors' imap_populate.py, so both servers hold the same messages); prints its RESULT line.
populate() {
  python3 "$ANCHORS/imap_populate.py" --port "$1" --users "$2" --password "$BENCH_PASS" \
    --per-user "$PER_USER" --size "$SIZE" --max-msgs 0 --max-secs 600 | tail -1
}


# Memory sampling for the memory benchmarks. rss_kb FILE…: the VmRSS of /proc/PID/status files, summed.
rss_kb() { awk '/^VmRSS:/ {s += $2} END {print s + 0}' "$@" 2>/dev/null || echo 0; }
# peak_while PID MEASURE [INTERVAL]: the largest number MEASURE prints while PID runs (sampled every
# INTERVAL seconds, 0.1 by default; at least once).
peak_while() {
  local pid=$1 measure=$2 interval=${3:-0.1} peak now
  peak=$($measure)
  while kill -0 "$pid" 2>/dev/null; do
    now=$($measure); [ "$now" -gt "$peak" ] && peak=$now
    sleep "$interval"
  done
  echo "$peak"
}
# growth_mb BASELINE_KB PEAK_KB
growth_mb() { awk -v b="$1" -v p="$2" 'BEGIN { printf "%.1f", (p - b) / 1024 }'; }
