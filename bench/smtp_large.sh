#!/usr/bin/env bash
# Memory under concurrent large SMTP messages (issue target: 50 sessions each sending a 30 MB message,
# the server's peak RSS growth at most 100 MB), beside Postfix's smtpd and cleanup processes taking the
# same load (to @discard.test: Postfix still writes each message to its queue file, then drops it).
# Estafeta writes content past 256 KiB to the store in pieces as it arrives, so a session holds about
# one piece and the header section, whatever the message's size.
#   bench/smtp_large.sh [SESSIONS=50] [SIZE=30000000]
# Last line: "RESULT smtp_large_memory sessions=N size=S estafeta_growth_mb=E postfix_growth_mb=P ..."
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SESSIONS=${1:-50}
SIZE=${2:-30000000}
LIMIT=$((SIZE + 1000000))
ensure_anchors

# Postfix refuses messages over 10 MB by default: the anchors' instance takes the size for this run.
postfix_limit=$(postconf -c "$POSTFIX_ETC" -h message_size_limit)
restore_postfix() {
  postconf -c "$POSTFIX_ETC" -e "message_size_limit=$postfix_limit"
  postfix -c "$POSTFIX_ETC" reload >/dev/null 2>&1 || true
}
postconf -c "$POSTFIX_ETC" -e "message_size_limit=$LIMIT"
postfix -c "$POSTFIX_ETC" reload >/dev/null 2>&1
sleep 1

start_estafeta --smtp-max-message-bytes "$LIMIT" --limits-max-connections-per-address $((SESSIONS + 10))
trap 'stop_estafeta; restore_postfix' EXIT

estafeta_rss() { rss_kb "/proc/$server/status"; }
# Postfix's per-message work happens in smtpd (the session) and cleanup (the queue file writer).
postfix_rss() {
  local master files=()
  master=$(tr -d ' ' <"$POSTFIX_SPOOL/pid/master.pid")
  for pid in $(pgrep -P "$master" -x smtpd) $(pgrep -P "$master" -x cleanup); do files+=("/proc/$pid/status"); done
  [ ${#files[@]} -gt 0 ] && rss_kb "${files[@]}" || echo 0
}

# run NAME PORT RCPT RSS_FUNCTION: the load, with the peak of RSS_FUNCTION sampled every 0.1 s.
run() {
  local name=$1 port=$2 rcpt=$3 measure=$4 baseline peak now client
  baseline=$($measure)
  python3 "$(dirname "$0")/smtp_large.py" --port "$port" --sessions "$SESSIONS" --size "$SIZE" --rcpt "$rcpt" \
    >"$work/$name.out" &
  client=$!
  peak=$(peak_while "$client" "$measure" 0.1)
  wait "$client" || true
  cat "$work/$name.out" >&2
  echo "$name baseline_kb=$baseline peak_kb=$peak $(tail -1 "$work/$name.out")"
}

estafeta=$(run estafeta "$smtp_port" test1@bench.test estafeta_rss)
postfix=$(run postfix "$SMTP_PORT" x@discard.test postfix_rss)
echo "$estafeta"
echo "$postfix"
value() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }
growth() { growth_mb "$(value " $1" baseline_kb)" "$(value " $1" peak_kb)"; }
echo "RESULT smtp_large_memory sessions=$SESSIONS size=$SIZE estafeta_growth_mb=$(growth "$estafeta")" \
  "postfix_growth_mb=$(growth "$postfix") estafeta_accepted=$(value "$estafeta" accepted)" \
  "postfix_accepted=$(value "$postfix" accepted) estafeta_seconds=$(value "$estafeta" seconds)" \
  "postfix_seconds=$(value "$postfix" seconds)"
