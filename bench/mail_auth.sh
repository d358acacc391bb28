#!/usr/bin/env bash
# What mail authentication costs: server CPU per message for MX ingest of DKIM-signed messages with the
# inbound checks (SPF, DKIM, DMARC; DNS answers cached by the resolver after the first message) on and
# off (records served with a 300 s TTL, as real ones have one), and for authenticated submission with the
# domain's DKIM key active (RSA-2048, the default; sign_ed25519: an Ed25519 key alone) and with no key.
#   bench/mail_auth.sh [MSGS=2000] [SESSIONS=8] [SIZE=4096]
# Env: ROUNDS (default 3, medians), ESTAFETA_BIN (another build).
# The load is Python smtplib (bench/mail_auth.py, bench/smtp_submit.py), which cannot keep the server
# busy on 2 cores: CPU per message, not a rate, is what compares the modes. DNS: dnsmasq on loopback.
# Last lines: "RATIO ingest verify_on/verify_off cpu_per_msg=…" and "RATIO submit sign_on/sign_off cpu_per_msg=…"
# (throughput where the server is the bottleneck is the inverse: the issue asks it be ≥ 0.8 and ≥ 0.9).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MSGS=${1:-2000}; SESSIONS=${2:-8}; SIZE=${3:-4096}; ROUNDS=${ROUNDS:-3}
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d /tmp/estafeta-mailauth.XXXXXX)
dns_port=$((20000 + RANDOM % 30000))
mapfile -t records < <(python3 "$here/mail_auth.py" prepare "$scratch" "$SIZE")
/usr/sbin/dnsmasq --port="$dns_port" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
  --pid-file="$scratch/dnsmasq.pid" --local=/example/ --local-ttl=300 --log-facility=/dev/null --user=root "${records[@]}"
cleanup_dns() { kill "$(cat "$scratch/dnsmasq.pid")" 2>/dev/null || true; rm -rf "$scratch"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
per_msg() { awk -v a="$1" -v b="$2" -v m="$MSGS" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.3f", (b - a) * 1000 / hz / m}'; }
wait_delivered() {
  for _ in $(seq 1 6000); do
    done_count=$(api GET queue/stats | sed -n 's/.*"delivered":\([0-9]*\).*/\1/p')
    [ "${done_count:-0}" -ge "$MSGS" ] && return; sleep 0.1
  done
}
# run MODE: one round, prints "MODE ms_per_msg".
run() {
  local mode=$1 flags=()
  case $mode in
    verify_off) flags=(--smtp-verify-inbound false) ;;
    *) flags=(--smtp-verify-inbound true) ;;
  esac
  # (A command substitution runs this: start_estafeta's trap stops the server when it ends.)
  start_estafeta --relay-dns-server "127.0.0.1:$dns_port" "${flags[@]}"
  case $mode in
    sign_on) api POST domains/bench.test/dkim '{"selector":"bench"}' >/dev/null ;;
    sign_ed25519) api POST domains/bench.test/dkim '{"selector":"bench","algorithm":"ed25519-sha256"}' >/dev/null ;;
  esac
  case $mode in sign_on | sign_ed25519) api POST domains/bench.test/dkim/bench/activate >/dev/null ;; esac
  sleep 1
  local before after
  before=$(cpu_ticks "$server")
  case $mode in
    verify_*) python3 "$here/mail_auth.py" send "$smtp_port" "$scratch/signed.eml" "$MSGS" "$SESSIONS" | tail -1 >&2 ;;
    sign_*) python3 "$here/smtp_submit.py" "$(ready_port submission)" test1@bench.test "bench password 1" test1@bench.test \
              "$MSGS" "$SESSIONS" "$SIZE" | tail -1 >&2 ;;
  esac
  wait_delivered
  after=$(cpu_ticks "$server")
  echo "$mode $(per_msg "$before" "$after")"
}
trap cleanup_dns EXIT
declare -A results
for round in $(seq 1 "$ROUNDS"); do
  for mode in verify_off verify_on sign_off sign_on sign_ed25519; do
    line=$(run "$mode"); echo "round=$round $line"
    results[$mode]+="${line#* } "
  done
done
m() { printf '%s\n' ${results[$1]} | median; }
echo "CPU mail_auth msgs=$MSGS verify_off=$(m verify_off) verify_on=$(m verify_on) sign_off=$(m sign_off) sign_on=$(m sign_on) sign_ed25519=$(m sign_ed25519) (ms per message)"
echo "RATIO ingest verify_on/verify_off cpu_per_msg=$(ratio "$(m verify_on)" "$(m verify_off)") throughput=$(ratio "$(m verify_off)" "$(m verify_on)")"
echo "RATIO submit sign_on/sign_off cpu_per_msg=$(ratio "$(m sign_on)" "$(m sign_off)") throughput=$(ratio "$(m sign_off)" "$(m sign_on)")"
echo "RATIO submit sign_ed25519/sign_off cpu_per_msg=$(ratio "$(m sign_ed25519)" "$(m sign_off)") throughput=$(ratio "$(m sign_off)" "$(m sign_ed25519)")"
