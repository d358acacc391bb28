#!/usr/bin/env bash
# SMTP ingest benchmark: Estafeta (release build, `estafeta serve` on its embedded SQLite, every 250
# fsync'd) side by side with Postfix from ../shared/anchors, in one run on this machine.
#   bench/smtp_ingest.sh [MSGS=5000] [SESSIONS=20] [SIZE=4096]
# Env: ANCHORS (the anchors directory; default ../shared/anchors beside the repository),
#      ROUNDS (default 3: the two servers alternate, the median rate of each is reported),
#      LATENCY_MSGS (default 2000; 0 skips the latency runs), STOP_ANCHORS=1 stops Postfix/Dovecot after.
# Load: Postfix's smtp-source through the anchors' smtp_load.sh (new connection per message, and
# REUSE=1 with one connection per session), and bench/smtp_latency.py for p50/p99 of the final 250.
# Postfix takes mail for x@discard.test (accepted into its queue with fsync, then discarded);
# Estafeta for test1@bench.test (queued durably; its delivery worker is not part of this run).
# Last lines: RESULT ... per run, then "RATIO smtp_ingest reuse=R estafeta=X postfix=Y ratio=Z".
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
ANCHORS=${ANCHORS:-$(cd "$repo/.." && pwd)/shared/anchors}
MSGS=${1:-5000}; SESSIONS=${2:-20}; SIZE=${3:-4096}
ROUNDS=${ROUNDS:-3}; LATENCY_MSGS=${LATENCY_MSGS:-2000}
[ -x "$ANCHORS/smtp_load.sh" ] || [ -f "$ANCHORS/smtp_load.sh" ] || { echo "anchors not found at $ANCHORS" >&2; exit 2; }
. "$ANCHORS/anchors_env.sh"

if ! (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null; then
  echo "starting the anchors (Postfix, Dovecot)" >&2
  bash "$ANCHORS/anchors_start.sh" >&2
fi

echo "building estafeta (release)" >&2
(cd "$repo" && swift build -c release --product estafeta >&2)
work=$(mktemp -d /tmp/estafeta-bench.XXXXXX)
token="bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
ports=()
for name in smtp submission submissions pop3 pop3s imap imaps admin ops; do ports+=("--$name-port" 0 "--$name-host" 127.0.0.1); done
ESTAFETA_ADMIN_TOKEN=$token "$repo/.build/release/estafeta" serve --database-path "$work/data/estafeta.sqlite" \
  --ready-file "$work/ready.json" --log-level warning --hostname bench.estafeta.test "${ports[@]}" >"$work/log" 2>&1 &
server=$!
cleanup() {
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  [ "${STOP_ANCHORS:-0}" = 1 ] && bash "$ANCHORS/anchors_stop.sh" >&2 || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 120); do [ -s "$work/ready.json" ] && break; sleep 0.5; done
[ -s "$work/ready.json" ] || { echo "estafeta did not start:" >&2; cat "$work/log" >&2; exit 1; }
port() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$work/ready.json" "$1"; }
smtp=$(port smtp); admin=$(port admin)
api() { curl -sf -o /dev/null -X POST -H "Authorization: Bearer $token" -H "Content-Type: application/json" -d "$2" "http://127.0.0.1:$admin/api/v1/$1"; }
api domains '{"name":"bench.test"}'
api accounts '{"address":"test1@bench.test","password":"bench password 1"}'

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
rate() { sed -n 's/.*msgs_per_sec=\([0-9.]*\).*/\1/p'; }
for reuse in 0 1; do
  ours=(); theirs=()
  for round in $(seq 1 "$ROUNDS"); do
    line=$(REUSE=$reuse RCPT=x@discard.test bash "$ANCHORS/smtp_load.sh" 127.0.0.1 "$SMTP_PORT" "$MSGS" "$SESSIONS" "$SIZE" | tail -1)
    echo "postfix  round=$round $line"; theirs+=("$(rate <<<"$line")")
    line=$(REUSE=$reuse RCPT=test1@bench.test bash "$ANCHORS/smtp_load.sh" 127.0.0.1 "$smtp" "$MSGS" "$SESSIONS" "$SIZE" | tail -1)
    echo "estafeta round=$round $line"; ours+=("$(rate <<<"$line")")
  done
  e=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${theirs[@]}" | median)
  echo "RATIO smtp_ingest reuse=$reuse sessions=$SESSIONS size=$SIZE estafeta=$e postfix=$p ratio=$(awk -v e="$e" -v p="$p" 'BEGIN{printf "%.2f", e/p}')"
done
if [ "$LATENCY_MSGS" -gt 0 ]; then
  echo "postfix  $(python3 "$repo/bench/smtp_latency.py" --port "$SMTP_PORT" --rcpt x@discard.test --threads "$SESSIONS" --msgs "$LATENCY_MSGS" --size "$SIZE" | tail -1)"
  echo "estafeta $(python3 "$repo/bench/smtp_latency.py" --port "$smtp" --rcpt test1@bench.test --threads "$SESSIONS" --msgs "$LATENCY_MSGS" --size "$SIZE" | tail -1)"
fi
