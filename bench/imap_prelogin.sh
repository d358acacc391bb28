#!/usr/bin/env bash
# Memory of one IMAP gateway under unauthenticated connections that announce 30 MB literals and push
# data anyway (issue target: 1,000 connections, RSS growth at most 64 MB). Before login literals are
# limited to 8 KiB: a synchronising one gets BAD without "+", a non-synchronising one ends the
# connection, so what is pushed is skipped or never read, not kept.
#   bench/imap_prelogin.sh [CONNECTIONS=1000]
# Last line: "RESULT imap_prelogin_memory connections=N baseline_mb=B peak_mb=P growth_mb=G"
set -euo pipefail
. "$(dirname "$0")/lib.sh"
CONNECTIONS=${1:-1000}
[ "$(ulimit -n)" -gt $((CONNECTIONS + 100)) ] || { echo "ulimit -n is $(ulimit -n): too low for $CONNECTIONS connections" >&2; exit 2; }
start_estafeta --limits-max-connections $((CONNECTIONS + 100)) --limits-max-connections-per-address $((CONNECTIONS + 100))
imap_port=$(ready_port imap)
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$server/status"; }
baseline=$(rss_kb)
python3 "$(dirname "$0")/imap_prelogin.py" --port "$imap_port" --connections "$CONNECTIONS" --ready-file "$work/ready" \
  --hold-secs 3 >"$work/prelogin.out" &
client=$!
# The server's resident memory sampled every 0.1 s while the attack runs (VmHWM would include the
# start-up peak).
peak=$baseline
while kill -0 "$client" 2>/dev/null; do
  now=$(rss_kb); [ "$now" -gt "$peak" ] && peak=$now
  sleep 0.1
done
wait "$client" || true
cat "$work/prelogin.out"
awk -v b="$baseline" -v p="$peak" -v n="$CONNECTIONS" 'BEGIN {
  printf "RESULT imap_prelogin_memory connections=%d baseline_mb=%.1f peak_mb=%.1f growth_mb=%.1f\n", n, b / 1024, p / 1024, (p - b) / 1024 }'
