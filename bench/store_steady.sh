#!/usr/bin/env bash
# Steady state of the store (storage issue's target: 100,000 messages delivered and expunged in rounds
# with retention set low, and the database file stops growing). A release `estafeta serve` with finished
# queue entries and the change feed kept 1 s and purged every second; bench/store_steady.py sends each
# round over SMTP, expunges it over IMAP and prints the file sizes per round.
#   bench/store_steady.sh [ROUNDS=10] [PER_ROUND=10000]
# Last line: "RESULT store_steady rounds=… first_total_mb=… max_total_mb_after_round_2=… last_total_mb=…"
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ROUNDS=${1:-10}
PER_ROUND=${2:-10000}
start_estafeta --imap-allow-plaintext-auth true --retention-queue-seconds 1 --retention-change-feed-seconds 1 \
  --maintenance-interval-seconds 1 --relay-poll-interval-ms 50
python3 "$(dirname "$0")/store_steady.py" --smtp-port "$smtp_port" --imap-port "$(ready_port imap)" \
  --user test1@bench.test --password "bench password 1" --database "$work/data/estafeta.sqlite" \
  --rounds "$ROUNDS" --per-round "$PER_ROUND"
