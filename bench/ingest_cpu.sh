#!/usr/bin/env bash
# Server CPU per message accepted over SMTP and delivered to the INBOX: where the load client, not the
# server, sets the pace, CPU time per message compares builds and stores better than a rate does.
#   bench/ingest_cpu.sh [MSGS=4000] [SESSIONS=20] [SIZE=4096]
# Env: ANCHORS, ROUNDS (default 3: one `estafeta serve` per round, medians reported), STORE=postgres
#      (the store on a private PostgreSQL cluster, bench/lib.sh; its server processes' CPU is counted
#      too), ESTAFETA_BIN (another build to measure, e.g. of an earlier commit).
# Load: Postfix's smtp-source (anchors' smtp_load.sh, one connection per session) to test1@bench.test;
# the clock stops when the queue reports every message delivered.
# Last line: "CPU ingest store=S msgs=M estafeta_ms_per_msg=X database_ms_per_msg=Y total_ms_per_msg=Z".
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MSGS=${1:-4000}; SESSIONS=${2:-20}; SIZE=${3:-4096}; ROUNDS=${ROUNDS:-3}
ensure_anchors
# cpu_ticks PID…: user + system clock ticks of the processes.
cpu_ticks() { local total=0 pid; for pid in "$@"; do [ -r "/proc/$pid/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done; echo "$total"; }
database_pids() { [ -n "${pg_server:-}" ] && pgrep -u postgres -f "postgres" | tr '\n' ' ' || true; }
per_msg() { awk -v a="$1" -v b="$2" -v m="$MSGS" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.3f", (b - a) * 1000 / hz / m}'; }
ours=(); theirs=(); totals=()
for round in $(seq 1 "$ROUNDS"); do
  start_estafeta
  sleep 1
  # Backends started later (one per connection) are counted from their start: sample the set after.
  e0=$(cpu_ticks "$server"); d0=$(cpu_ticks $(database_pids))
  REUSE=1 RCPT=test1@bench.test bash "$ANCHORS/smtp_load.sh" 127.0.0.1 "$smtp_port" "$MSGS" "$SESSIONS" "$SIZE" | tail -1
  for _ in $(seq 1 6000); do
    done_count=$(api GET queue/stats | sed -n 's/.*"delivered":\([0-9]*\).*/\1/p')
    [ "${done_count:-0}" -ge "$MSGS" ] && break; sleep 0.1
  done
  e1=$(cpu_ticks "$server"); d1=$(cpu_ticks $(database_pids))
  e=$(per_msg "$e0" "$e1"); d=$(per_msg "$d0" "$d1")
  echo "round=$round delivered=$done_count estafeta_ms_per_msg=$e database_ms_per_msg=$d"
  ours+=("$e"); theirs+=("$d"); totals+=("$(awk -v a="$e" -v b="$d" 'BEGIN{print a + b}')")
  stop_estafeta; trap - EXIT; unset pg_server
done
echo "CPU ingest store=${STORE:-sqlite} msgs=$MSGS estafeta_ms_per_msg=$(printf '%s\n' "${ours[@]}" | median)" \
  "database_ms_per_msg=$(printf '%s\n' "${theirs[@]}" | median) total_ms_per_msg=$(printf '%s\n' "${totals[@]}" | median)"
