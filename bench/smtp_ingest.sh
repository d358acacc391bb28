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
# Estafeta for test1@bench.test (queued durably, then delivered to the INBOX by its worker).
# Last lines: RESULT ... per run, then "RATIO smtp_ingest reuse=R estafeta=X postfix=Y ratio=Z".
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MSGS=${1:-5000}; SESSIONS=${2:-20}; SIZE=${3:-4096}
ROUNDS=${ROUNDS:-3}; LATENCY_MSGS=${LATENCY_MSGS:-2000}
ensure_anchors
start_estafeta

for reuse in 0 1; do
  ours=(); theirs=()
  for round in $(seq 1 "$ROUNDS"); do
    line=$(REUSE=$reuse RCPT=x@discard.test bash "$ANCHORS/smtp_load.sh" 127.0.0.1 "$SMTP_PORT" "$MSGS" "$SESSIONS" "$SIZE" | tail -1)
    echo "postfix  round=$round $line"; theirs+=("$(field msgs_per_sec <<<"$line")")
    line=$(REUSE=$reuse RCPT=test1@bench.test bash "$ANCHORS/smtp_load.sh" 127.0.0.1 "$smtp_port" "$MSGS" "$SESSIONS" "$SIZE" | tail -1)
    echo "estafeta round=$round $line"; ours+=("$(field msgs_per_sec <<<"$line")")
  done
  e=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${theirs[@]}" | median)
  echo "RATIO smtp_ingest reuse=$reuse sessions=$SESSIONS size=$SIZE estafeta=$e postfix=$p ratio=$(ratio "$e" "$p")"
done
if [ "$LATENCY_MSGS" -gt 0 ]; then
  echo "postfix  $(python3 "$repo/bench/smtp_latency.py" --port "$SMTP_PORT" --rcpt x@discard.test --threads "$SESSIONS" --msgs "$LATENCY_MSGS" --size "$SIZE" | tail -1)"
  echo "estafeta $(python3 "$repo/bench/smtp_latency.py" --port "$smtp_port" --rcpt test1@bench.test --threads "$SESSIONS" --msgs "$LATENCY_MSGS" --size "$SIZE" | tail -1)"
fi
