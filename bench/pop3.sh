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
# N sessions run two ways: N threads in one pop3_fetch.py, and N pop3_fetch.py processes of one
# thread. With threads, the client's Python interpreter lock is the bottleneck on this 2-core machine
# (it burns more CPU the faster the answers come: more lock hand-overs), so that line measures the
# client as much as the server; the processes line measures the servers. Each line also gives the
# server CPU time per 1,000 messages retrieved.
# Last lines: "RATIO pop3 sessions=N clients=threads|processes estafeta=X dovecot=Y ratio=Z
# server_cpu_ms_per_1000: estafeta=A dovecot=B" (messages retrieved per second).
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

# Server CPU seconds so far: Estafeta's process; Dovecot's master with the POP3 processes it has
# reaped (one per session, gone at QUIT; its long-lived auth process is left out, so Dovecot's figure
# is if anything low).
dovecot_master=$(pgrep -f "dovecot -c $DOVECOT_CONF" | head -1 || true)
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }

# fetch PORT USERS SESSIONS MODE: one run of pop3_fetch.py, SESSIONS threads in one client (MODE
# threads) or SESSIONS clients of one thread each (MODE processes), each session on its own user;
# prints "msgs_per_sec msgs".
fetch() {
  local port=$1 users=$2 sessions=$3 mode=$4
  if [ "$mode" = threads ]; then
    python3 "$ANCHORS/pop3_fetch.py" --port "$port" --users "$users" --password "$BENCH_PASS" \
      --threads "$sessions" --max-msgs 1000000 --max-secs "$SECS" | tail -1 | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^(msgs_per_sec|msgs)=/) {split($i, kv, "="); v[kv[1]] = kv[2]}} END {print v["msgs_per_sec"], v["msgs"]}'
    return
  fi
  local list=(${users//,/ }) pids=() outputs=() i
  for i in $(seq 0 $((sessions - 1))); do
    outputs+=("$work/fetch.$i")
    python3 "$ANCHORS/pop3_fetch.py" --port "$port" --users "${list[$((i % ${#list[@]}))]}" --password "$BENCH_PASS" \
      --threads 1 --max-msgs 1000000 --max-secs "$SECS" >"$work/fetch.$i" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  cat "${outputs[@]}" | awk '/^RESULT/ {for (i = 1; i <= NF; i++) {split($i, kv, "="); if (kv[1] == "msgs_per_sec") r += kv[2]; if (kv[1] == "msgs") m += kv[2]}} END {printf "%.1f %d\n", r, m}'
}

for sessions in $THREADS; do
  for mode in threads processes; do
    [ "$sessions" = 1 ] && [ "$mode" = processes ] && continue
    ours=(); theirs=(); our_cpu=(); their_cpu=()
    for round in $(seq 1 "$ROUNDS"); do
      before=$(cpu_ticks "$dovecot_master")
      read -r rate msgs < <(fetch "$POP3_PORT" "${USERS// /,}" "$sessions" "$mode")
      cpu=$(awk -v t=$(( $(cpu_ticks "$dovecot_master") - before )) -v m="$msgs" 'BEGIN {printf "%.1f", t * 10000 / m}')
      echo "dovecot  round=$round sessions=$sessions mode=$mode msgs_per_sec=$rate msgs=$msgs server_cpu_ms_per_1000=$cpu"
      theirs+=("$rate"); their_cpu+=("$cpu")
      before=$(cpu_ticks "$server")
      read -r rate msgs < <(fetch "$pop3_port" "$estafeta_users" "$sessions" "$mode")
      cpu=$(awk -v t=$(( $(cpu_ticks "$server") - before )) -v m="$msgs" 'BEGIN {printf "%.1f", t * 10000 / m}')
      echo "estafeta round=$round sessions=$sessions mode=$mode msgs_per_sec=$rate msgs=$msgs server_cpu_ms_per_1000=$cpu"
      ours+=("$rate"); our_cpu+=("$cpu")
    done
    e=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${theirs[@]}" | median)
    ec=$(printf '%s\n' "${our_cpu[@]}" | median); pc=$(printf '%s\n' "${their_cpu[@]}" | median)
    echo "RATIO pop3 sessions=$sessions clients=$mode estafeta=$e dovecot=$p ratio=$(ratio "$e" "$p") server_cpu_ms_per_1000: estafeta=$ec dovecot=$pc"
  done
done
