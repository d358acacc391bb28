#!/usr/bin/env bash
# POP3 download throughput: LIST + RETR of every message of 1,000-message maildrops (4 users, 4 KiB
# messages) with N concurrent sessions, Estafeta's POP3 gateway side by side with Dovecot's from
# ../shared/anchors, in one run, with the anchors' pop3_fetch.py (poplib, USER/PASS in plaintext on
# loopback for both: Estafeta runs with --pop3-allow-plaintext-auth true here).
#   bench/pop3.sh [THREADS="1 4"] [SECS=20]
# Env: ANCHORS, ROUNDS (default 3, medians reported), STOP_ANCHORS=1.
# Both servers check the same kind of password hash on every login ($ANCHORS_PWSCHEME, SHA512-CRYPT by
# default, made by doveadm pw and imported through the admin API's passwordHash), so logins cost alike.
# Both servers' maildrops are filled with the same messages through IMAP APPEND (the anchors'
# imap_populate.py), so both send identical bytes; Dovecot's are emptied first. (Until 2026-11-27
# Estafeta's were delivered through SMTP and carried ~10% more header bytes than Dovecot's.)
# Last lines: "RATIO pop3 threads=T estafeta=X dovecot=Y ratio=Z" (messages retrieved per second).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
THREADS=${1:-"1 4"}; SECS=${2:-20}; ROUNDS=${ROUNDS:-3}
USERS="test2 test3 test4 test5"; PER_USER=1000; SIZE=4096
ensure_anchors
start_estafeta --pop3-allow-plaintext-auth true --imap-allow-plaintext-auth true
pop3_port=$(ready_port pop3); imap_port=$(ready_port imap)
bench_accounts
populate "$IMAP_PORT" "${USERS// /,}" >&2
populate "$imap_port" "$estafeta_users" >&2

for threads in $THREADS; do
  ours=(); theirs=()
  for round in $(seq 1 "$ROUNDS"); do
    line=$(python3 "$ANCHORS/pop3_fetch.py" --port "$POP3_PORT" --users "${USERS// /,}" --password "$BENCH_PASS" \
      --threads "$threads" --max-msgs 200000 --max-secs "$SECS" | tail -1)
    echo "dovecot  round=$round $line"; theirs+=("$(field msgs_per_sec <<<"$line")")
    line=$(python3 "$ANCHORS/pop3_fetch.py" --port "$pop3_port" --users "$estafeta_users" --password "$BENCH_PASS" \
      --threads "$threads" --max-msgs 200000 --max-secs "$SECS" | tail -1)
    echo "estafeta round=$round $line"; ours+=("$(field msgs_per_sec <<<"$line")")
  done
  e=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${theirs[@]}" | median)
  echo "RATIO pop3 threads=$threads estafeta=$e dovecot=$p ratio=$(ratio "$e" "$p")"
done
