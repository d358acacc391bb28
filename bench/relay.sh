#!/usr/bin/env bash
# Relay throughput: queued messages handed to a remote SMTP server (the anchors' smtp-sink on
# loopback). Estafeta's relay worker side by side with a Postfix instance relaying to the same
# smtp-sink, in one run. Each side is first loaded with MSGS messages for x@sink.example while it
# does not relay (Postfix: every message on HOLD; Estafeta: no estafeta-relay process yet), then
# released and timed until every message has been accepted by smtp-sink.
#   bench/relay.sh [MSGS=3000] [SESSIONS=20] [SIZE=4096]
# Env: ANCHORS, ROUNDS (default 3, medians reported), RELAY_FLAGS (extra estafeta-relay flags),
#      RELAY_PORT (the Postfix relay instance's smtpd, default 10027), STOP_ANCHORS=1,
#      RELAY_WORKERS (default 1: how many estafeta-relay processes release the queue together),
#      STORE=postgres (the store on a private PostgreSQL cluster, as in bench/lib.sh).
# Both relay with their defaults: up to 20 connections to the one destination (Postfix's
# default_destination_concurrency_limit, Estafeta's relay.concurrencyPerDomain). Postfix reuses
# connections (its connection cache); Estafeta opens one per message.
# Last line: "RATIO relay estafeta=X postfix=Y ratio=Z" (relayed messages per second).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MSGS=${1:-3000}; SESSIONS=${2:-20}; SIZE=${3:-4096}; ROUNDS=${ROUNDS:-3}
RELAY_PORT=${RELAY_PORT:-10027}
ensure_anchors
(exec 3<>"/dev/tcp/127.0.0.1/$SINK_PORT") 2>/dev/null || { echo "smtp-sink is not listening on $SINK_PORT" >&2; exit 2; }

# ---------------- Postfix: a second instance relaying sink.example to smtp-sink ----------------
PF=/tmp/estafeta-bench-postfix-relay
postfix_queue_files() { find "$PF/spool/incoming" "$PF/spool/active" "$PF/spool/deferred" "$PF/spool/hold" "$PF/spool/maildrop" -type f 2>/dev/null | wc -l; }
postfix_sent() { grep -c "status=sent" "$PF/maillog" 2>/dev/null || true; }
start_postfix_relay() {
  postfix -c "$PF/etc" stop >/dev/null 2>&1 || true
  rm -rf "$PF"; mkdir -p "$PF/etc" "$PF/spool" "$PF/data"; chown postfix "$PF/data"
  echo "sink.example smtp:[127.0.0.1]:$SINK_PORT" > "$PF/etc/transport"
  cat > "$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
myhostname = relay.bench.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
# Everything is held until the timed release (postsuper -H ALL).
smtpd_recipient_restrictions = check_recipient_access static:HOLD, permit_mynetworks, reject
alias_maps =
alias_database =
biff = no
relay_domains = sink.example
transport_maps = texthash:$PF/etc/transport
default_transport = error:bench relay instance relays to smtp-sink only
local_transport = error:no local delivery
smtp_dns_support_level = disabled
EOF
  sed "s/^127\.0\.0\.1:$SMTP_PORT /127.0.0.1:$RELAY_PORT /" "$POSTFIX_ETC/master.cf" > "$PF/etc/master.cf"
  postfix -c "$PF/etc" check </dev/null >/dev/null 2>&1 && postfix -c "$PF/etc" start </dev/null >/dev/null 2>&1 \
    || { postfix -v -c "$PF/etc" check 2>&1 | tail -5 >&2; exit 1; }
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$RELAY_PORT") 2>/dev/null && return 0; sleep 0.2; done
  echo "the Postfix relay instance did not come up" >&2; exit 1
}
postfix_round() {
  local held base t0 t1
  RCPT=x@sink.example FROM=test1@bench.test bash "$ANCHORS/smtp_load.sh" 127.0.0.1 "$RELAY_PORT" "$MSGS" "$SESSIONS" "$SIZE" >/dev/null
  for _ in $(seq 1 600); do held=$(postfix_queue_files); [ "$held" -ge "$MSGS" ] && break; sleep 0.1; done
  [ "$held" -ge "$MSGS" ] || { echo "Postfix holds $held of $MSGS messages" >&2; exit 1; }
  base=$(postfix_sent); t0=$(date +%s.%N)
  # Released messages go to the deferred queue; the flush makes the queue manager take them now.
  postsuper -c "$PF/etc" -H ALL >/dev/null 2>&1; postqueue -c "$PF/etc" -f
  for _ in $(seq 1 12000); do [ "$(postfix_queue_files)" -eq 0 ] && break; sleep 0.05; done
  t1=$(date +%s.%N)
  echo "held=$held sent=$(( $(postfix_sent) - base )) relayed_per_sec=$(awk -v a="$t0" -v b="$t1" -v m="$MSGS" 'BEGIN{printf "%.1f", m/(b-a)}')"
}

# ---------------- Estafeta: estafeta-smtp and estafeta-admin, then estafeta-relay ----------------
echo "building estafeta (release)" >&2
(cd "$repo" && swift build -c release >&2)
work=$(mktemp -d /tmp/estafeta-bench.XXXXXX)
start_database
token="bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  postfix -c "$PF/etc" stop >/dev/null 2>&1 || true
  if [ -n "${pg_server:-}" ]; then as_postgres "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true; wait 2>/dev/null || true; fi
  [ "${STOP_ANCHORS:-0}" = 1 ] && bash "$ANCHORS/anchors_stop.sh" >&2 || true
  rm -rf "$work" "$PF"
}
trap cleanup EXIT
# start_part NAME FLAGS...: one executable on the bench database, waiting for its ready file.
start_part() {
  local name=$1; shift
  ESTAFETA_ADMIN_TOKEN=$token "$repo/.build/release/${name%%#*}" "${database_flags[@]}" \
    --ready-file "$work/$name.json" --log-level warning --hostname bench.estafeta.test --ops-host 127.0.0.1 --ops-port 0 \
    "$@" >>"$work/$name.log" 2>&1 &
  last_pid=$!
  for _ in $(seq 1 600); do [ -s "$work/$name.json" ] && return 0; sleep 0.05; done
  echo "$name did not start:" >&2; cat "$work/$name.log" >&2; exit 1
}
part_port() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$work/$1.json" "$2"; }
start_part estafeta-admin --admin-host 127.0.0.1 --admin-port 0; pids+=("$last_pid")
admin_port=$(part_port estafeta-admin admin)
start_part estafeta-smtp --smtp-host 127.0.0.1 --smtp-port 0 --submission-host 127.0.0.1 --submission-port 0 \
  --submissions-host 127.0.0.1 --submissions-port 0; pids+=("$last_pid")
submission_port=$(part_port estafeta-smtp submission)
api POST domains '{"name":"bench.test"}' >/dev/null
api POST accounts '{"address":"test1@bench.test","password":"bench password 1"}' >/dev/null
# Polled every 50 ms while timing: curl and sed only (a Python start-up per poll costs a core share).
delivered() { api GET queue/stats | sed -n 's/.*"delivered":\([0-9]*\).*/\1/p'; }
estafeta_round() {
  local base t0 t1 relays=() worker
  python3 "$repo/bench/smtp_submit.py" "$submission_port" test1@bench.test "bench password 1" x@sink.example \
    "$MSGS" "$SESSIONS" "$SIZE" >/dev/null || { echo "submission to Estafeta failed" >&2; exit 1; }
  base=$(delivered); rm -f "$work"/estafeta-relay*.json; t0=$(date +%s.%N)
  for worker in $(seq 1 "${RELAY_WORKERS:-1}"); do
    # shellcheck disable=SC2086
    start_part "estafeta-relay#$worker" --relay-routes "sink.example=127.0.0.1:$SINK_PORT" --relay-poll-interval-ms 100 ${RELAY_FLAGS:-}
    relays+=("$last_pid")
  done
  for _ in $(seq 1 12000); do [ "$(delivered)" -ge $((base + MSGS)) ] && break; sleep 0.05; done
  t1=$(date +%s.%N)
  kill -TERM "${relays[@]}"; wait "${relays[@]}" 2>/dev/null || true
  echo "relayed=$(( $(delivered) - base )) relayed_per_sec=$(awk -v a="$t0" -v b="$t1" -v m="$MSGS" 'BEGIN{printf "%.1f", m/(b-a)}')"
}

start_postfix_relay
ours=(); theirs=()
for round in $(seq 1 "$ROUNDS"); do
  line=$(postfix_round); echo "postfix  round=$round $line"; theirs+=("$(field relayed_per_sec <<<"$line")")
  line=$(estafeta_round); echo "estafeta round=$round $line"; ours+=("$(field relayed_per_sec <<<"$line")")
done
e=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${theirs[@]}" | median)
echo "RATIO relay msgs=$MSGS size=$SIZE workers=${RELAY_WORKERS:-1} store=${STORE:-sqlite} estafeta=$e postfix=$p ratio=$(ratio "$e" "$p")"
