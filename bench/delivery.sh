#!/usr/bin/env bash
# End-to-end local delivery: from the first SMTP connection until all MSGS messages are in the
# recipient's INBOX. Estafeta (SMTP ingress → queue → worker → INBOX, one SQLite file) side by side
# with Postfix → LMTP → Dovecot from ../shared/anchors, in one run.
#   bench/delivery.sh [MSGS=5000] [SESSIONS=20] [SIZE=4096]
# Env: ANCHORS, ROUNDS (default 3, medians reported), STOP_ANCHORS=1.
# Dovecot's test1 INBOX is emptied before each of its rounds (a full maildir slows it).
# Postfix is timed with the anchors' WAIT_IMAP (IMAP STATUS on Dovecot); Estafeta by polling the
# account's message count through the admin API (its IMAP gateway is not written yet).
# Last lines: "RATIO delivery reuse=R estafeta=X postfix=Y ratio=Z" (delivered messages per second).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MSGS=${1:-5000}; SESSIONS=${2:-20}; SIZE=${3:-4096}; ROUNDS=${ROUNDS:-3}
ensure_anchors
start_estafeta --relay-batch-size 500

inbox_count() { api GET accounts/test1@bench.test | python3 -c "import json,sys; print(json.load(sys.stdin)['usage']['messages'])"; }
estafeta_run() {  # reuse
  local base t0 load count t1
  base=$(inbox_count); t0=$(date +%s.%N)
  load=$(REUSE=$1 RCPT=test1@bench.test bash "$ANCHORS/smtp_load.sh" 127.0.0.1 "$smtp_port" "$MSGS" "$SESSIONS" "$SIZE" | tail -1)
  for _ in $(seq 1 1200); do
    count=$(inbox_count); [ "$count" -ge $((base + MSGS)) ] && break; sleep 0.1
  done
  t1=$(date +%s.%N)
  echo "$load delivered_per_sec=$(awk -v a="$t0" -v b="$t1" -v m="$MSGS" 'BEGIN{printf "%.1f", m/(b-a)}')"
}

# Dovecot slows as test1's maildir fills over runs: empty it before each of its rounds.
empty_anchor_inbox() { doveadm -c "$DOVECOT_CONF" expunge -u test1 mailbox INBOX all >/dev/null 2>&1 || true; }

for reuse in 0 1; do
  ours=(); theirs=()
  for round in $(seq 1 "$ROUNDS"); do
    empty_anchor_inbox
    line=$(REUSE=$reuse RCPT="test1@$BENCH_DOMAIN" WAIT_IMAP="$IMAP_PORT test1 $BENCH_PASS" \
      bash "$ANCHORS/smtp_load.sh" 127.0.0.1 "$SMTP_PORT" "$MSGS" "$SESSIONS" "$SIZE" | tail -1)
    echo "postfix+dovecot round=$round $line"; theirs+=("$(field delivered_per_sec <<<"$line")")
    line=$(estafeta_run "$reuse")
    echo "estafeta        round=$round $line"; ours+=("$(field delivered_per_sec <<<"$line")")
  done
  e=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${theirs[@]}" | median)
  echo "RATIO delivery reuse=$reuse sessions=$SESSIONS size=$SIZE estafeta=$e postfix=$p ratio=$(ratio "$e" "$p")"
done
