#!/usr/bin/env bash
# Memory under concurrent FETCHes of a large message (issue target: 10 clients each fetching a 30 MB
# message's BODY[] at once, the server's RSS growth at most 64 MB), beside Dovecot's imap processes
# answering the same (the message APPENDed there). Estafeta gets its message over SMTP, which stores
# it in pieces, and sends a whole-message FETCH of it as it reads it, a piece at a time. Then the clients
# take it apart (BODYSTRUCTURE and its base64 attachment decoded, BINARY.PEEK[2]). Then the same
# number of clients APPEND a message of that size at once (Estafeta writes each literal to the store as
# it arrives).
#   bench/imap_fetch_large.sh [CLIENTS=10] [SIZE=30000000]
# Last lines: "RESULT imap_fetch_large_memory clients=N size=S estafeta_growth_mb=E dovecot_growth_mb=D ..."
# and "RESULT imap_fetch_parts_memory ...", "RESULT imap_append_large_memory ..." likewise.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
CLIENTS=${1:-10}
SIZE=${2:-30000000}
ensure_anchors
start_estafeta --imap-allow-plaintext-auth true --smtp-max-message-bytes $((SIZE + 1000000))
imap_port=$(ready_port imap)
client="$(dirname "$0")/imap_fetch_large.py"

python3 "$client" put --port "$imap_port" --user test1@bench.test --password "bench password 1" --size "$SIZE" \
  --smtp-port "$smtp_port" >&2
doveadm -c "$DOVECOT_CONF" expunge -u test1 mailbox INBOX all >/dev/null 2>&1 || true
python3 "$client" put --port "$IMAP_PORT" --user test1 --password "$BENCH_PASS" --size "$SIZE" >&2

estafeta_rss() { rss_kb "/proc/$server/status"; }
# Dovecot answers each logged-in client in an imap process of its own.
dovecot_rss() {
  local files=()
  for pid in $(pgrep -P "$(cat "$DOVECOT_DIR/run/master.pid")" -x imap); do files+=("/proc/$pid/status"); done
  [ ${#files[@]} -gt 0 ] && rss_kb "${files[@]}" || echo 0
}

# run MODE NAME PORT USER PASSWORD RSS_FUNCTION: the fetches or appends, with the peak of RSS_FUNCTION
# every 20 ms (a run lasts about a second).
run() {
  local mode=$1 name=$2 port=$3 user=$4 password=$5 measure=$6 baseline peak now pid
  baseline=$($measure)
  python3 "$client" "$mode" --port "$port" --user "$user" --password "$password" --clients "$CLIENTS" --size "$SIZE" \
    >"$work/$name.out" &
  pid=$!
  peak=$(peak_while "$pid" "$measure" 0.02)
  wait "$pid" || true
  echo "$name baseline_kb=$baseline peak_kb=$peak $(tail -1 "$work/$name.out")"
}

estafeta=$(run fetch estafeta "$imap_port" test1@bench.test "bench password 1" estafeta_rss)
dovecot=$(run fetch dovecot "$IMAP_PORT" test1 "$BENCH_PASS" dovecot_rss)
estafeta_parts=$(run parts estafeta "$imap_port" test1@bench.test "bench password 1" estafeta_rss)
dovecot_parts=$(run parts dovecot "$IMAP_PORT" test1 "$BENCH_PASS" dovecot_rss)
estafeta_append=$(run append estafeta "$imap_port" test1@bench.test "bench password 1" estafeta_rss)
dovecot_append=$(run append dovecot "$IMAP_PORT" test1 "$BENCH_PASS" dovecot_rss)
echo "$estafeta"
echo "$dovecot"
echo "$estafeta_parts"
echo "$dovecot_parts"
echo "$estafeta_append"
echo "$dovecot_append"
value() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }
growth() { growth_mb "$(value " $1" baseline_kb)" "$(value " $1" peak_kb)"; }
echo "RESULT imap_fetch_large_memory clients=$CLIENTS size=$SIZE estafeta_growth_mb=$(growth "$estafeta")" \
  "dovecot_growth_mb=$(growth "$dovecot") estafeta_fetched=$(value "$estafeta" fetched)" \
  "dovecot_fetched=$(value "$dovecot" fetched) estafeta_seconds=$(value "$estafeta" seconds)" \
  "dovecot_seconds=$(value "$dovecot" seconds)"
echo "RESULT imap_fetch_parts_memory clients=$CLIENTS size=$SIZE estafeta_growth_mb=$(growth "$estafeta_parts")" \
  "dovecot_growth_mb=$(growth "$dovecot_parts") estafeta_fetched=$(value "$estafeta_parts" fetched)" \
  "dovecot_fetched=$(value "$dovecot_parts" fetched) estafeta_seconds=$(value "$estafeta_parts" seconds)" \
  "dovecot_seconds=$(value "$dovecot_parts" seconds)"
echo "RESULT imap_append_large_memory clients=$CLIENTS size=$SIZE estafeta_growth_mb=$(growth "$estafeta_append")" \
  "dovecot_growth_mb=$(growth "$dovecot_append") estafeta_appended=$(value "$estafeta_append" appended)" \
  "dovecot_appended=$(value "$dovecot_append" appended) estafeta_seconds=$(value "$estafeta_append" seconds)" \
  "dovecot_seconds=$(value "$dovecot_append" seconds)"
