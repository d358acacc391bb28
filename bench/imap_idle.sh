#!/usr/bin/env bash
# Memory of one IMAP gateway holding N connections in IDLE (the IMAP issue's target: 10,000 in under
# 500 MB RSS), and how long one new message takes to reach every IDLE connection of its mailbox.
# A release `estafeta serve` on a temporary database; bench/imap_idle.py (asyncio) opens the
# connections over plaintext LOGIN on loopback, 10 accounts taking turns (SHA512-CRYPT hashes, as the
# other benchmarks use).
#   bench/imap_idle.sh [CONNECTIONS=10000]
# Needs `ulimit -n` above CONNECTIONS + 100 for both this shell's children (the server and the client).
# Last line: "RESULT imap_idle_memory connections=N rss_mb=X baseline_mb=Y per_connection_kb=Z fanout_secs=F"
set -euo pipefail
. "$(dirname "$0")/lib.sh"
CONNECTIONS=${1:-10000}
[ "$(ulimit -n)" -gt $((CONNECTIONS + 100)) ] || { echo "ulimit -n is $(ulimit -n): too low for $CONNECTIONS connections" >&2; exit 2; }
start_estafeta --imap-allow-plaintext-auth true --limits-max-connections $((CONNECTIONS + 100)) \
  --limits-max-connections-per-address $((CONNECTIONS + 100)) --imap-max-connections-per-user $((CONNECTIONS + 1))
imap_port=$(ready_port imap)
HASH=$(openssl passwd -6 "$BENCH_PASS")
users=""
for n in $(seq 1 10); do
  api POST accounts "{\"address\":\"idle$n@bench.test\",\"passwordHash\":\"$HASH\"}" >/dev/null
  users="$users,idle$n@bench.test"
done
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$server/status"; }
baseline=$(rss_kb)
ready="$work/idle.ready"
python3 "$(dirname "$0")/imap_idle.py" --port "$imap_port" --users "${users#,}" --password "$BENCH_PASS" \
  --connections "$CONNECTIONS" --ready-file "$ready" --hold-secs 5 >"$work/idle.out" &
client=$!
for _ in $(seq 1 1200); do [ -s "$ready" ] && break; kill -0 "$client" 2>/dev/null || break; sleep 0.5; done
sleep 2
held=$(rss_kb)
idling=$(cat "$ready" 2>/dev/null || echo 0)
wait "$client" || true
cat "$work/idle.out"
line=$(tail -1 "$work/idle.out")
awk -v n="$idling" -v h="$held" -v b="$baseline" -v f="$(field fanout_secs <<<"$line")" 'BEGIN {
  printf "RESULT imap_idle_memory connections=%d rss_mb=%.1f baseline_mb=%.1f per_connection_kb=%.1f fanout_secs=%s\n",
    n, h / 1024, b / 1024, (n > 0 ? (h - b) / n : 0), f }'
