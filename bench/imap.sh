#!/usr/bin/env bash
# IMAP throughput, Estafeta's IMAP gateway side by side with Dovecot's from ../shared/anchors, in one
# run, with the anchors' own load tools (imaplib, LOGIN in plaintext on loopback for both: Estafeta
# runs with --imap-allow-plaintext-auth true here):
#   APPEND  imap_populate.py fills four mailboxes with 1,000 × 4 KiB messages each (4 threads);
#   FETCH   imap_fetch.py reads BODY.PEEK[] of those messages with N threads, one message per command
#           and 50 per command.
# Both servers check the same kind of password hash ($ANCHORS_PWSCHEME, imported through the admin
# API's passwordHash).
#   MIXED   bench/imap_mixed.py: cycles of SELECT, 50 header FETCHes, two body FETCHes each with a STORE,
#           a SEARCH and an APPEND on those mailboxes, N threads; commands per second.
# The memory of 10,000 IDLE connections is bench/imap_idle.sh.
#   bench/imap.sh [THREADS="1 4"] [SECS=20]
# Env: ANCHORS, ROUNDS (default 3, medians reported), STOP_ANCHORS=1, SKIP_FETCH=1 (APPEND and MIXED only).
# Last lines: "RATIO imap_append ...", "RATIO imap_fetch threads=T batch=B estafeta=X dovecot=Y ratio=Z" and
# "RATIO imap_mixed threads=T ...".
set -euo pipefail
. "$(dirname "$0")/lib.sh"
THREADS=${1:-"1 4"}; SECS=${2:-20}; ROUNDS=${ROUNDS:-3}
USERS="test2 test3 test4 test5"; PER_USER=1000; SIZE=4096
ensure_anchors
start_estafeta --imap-allow-plaintext-auth true
imap_port=$(ready_port imap)
bench_accounts
line=$(populate "$IMAP_PORT" "${USERS// /,}"); echo "dovecot  $line"; theirs=$(field msgs_per_sec <<<"$line")
line=$(populate "$imap_port" "$estafeta_users"); echo "estafeta $line"; ours=$(field msgs_per_sec <<<"$line")
echo "RATIO imap_append threads=4 estafeta=$ours dovecot=$theirs ratio=$(ratio "$ours" "$theirs")"

# side_by_side LABEL COMMAND...: ROUNDS rounds of a load tool against Dovecot, then Estafeta (the
# command gets each one's --port and --users); prints every RESULT line and the RATIO of the medians.
side_by_side() {
  local label=$1 round line e p
  shift
  local ours=() theirs=()
  for round in $(seq 1 "$ROUNDS"); do
    line=$("$@" --port "$IMAP_PORT" --users "${USERS// /,}" | tail -1)
    echo "dovecot  round=$round $line"; theirs+=("$(field msgs_per_sec <<<"$line")")
    line=$("$@" --port "$imap_port" --users "$estafeta_users" | tail -1)
    echo "estafeta round=$round $line"; ours+=("$(field msgs_per_sec <<<"$line")")
  done
  e=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${theirs[@]}" | median)
  echo "RATIO $label estafeta=$e dovecot=$p ratio=$(ratio "$e" "$p")"
}

for batch in $([ "${SKIP_FETCH:-0}" = 1 ] || echo 1 50); do
  for threads in $THREADS; do
    side_by_side "imap_fetch threads=$threads batch=$batch" python3 "$ANCHORS/imap_fetch.py" --password "$BENCH_PASS" \
      --threads "$threads" --batch "$batch" --max-msgs 1000000 --max-secs "$SECS"
  done
done

for threads in $THREADS; do
  side_by_side "imap_mixed threads=$threads" python3 "$(dirname "$0")/imap_mixed.py" --anchors "$ANCHORS" \
    --password "$BENCH_PASS" --threads "$threads" --max-msgs 10000000 --max-secs "$SECS"
done
