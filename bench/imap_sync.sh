#!/usr/bin/env bash
# Opening and resynchronising a large mailbox, Estafeta's IMAP gateway side by side with Dovecot's from
# ../shared/anchors in one run (bench/imap_sync.py; LOGIN in plaintext on loopback for both): the same
# MESSAGES messages (10,000 by default) APPENDed to one user's INBOX on each, then, each ROUNDS times on a
# fresh connection: SELECT + the last 50 messages' headers, SORT (DATE), THREAD REFERENCES, and a
# QRESYNC SELECT after 10 flag changes and 10 expunges made elsewhere.
#   bench/imap_sync.sh [MESSAGES]
# Past 20,000 messages Dovecot is filled with `doveadm import` of the same messages as an mbox (its maildir
# takes APPENDs to one mailbox ever more slowly there: 33 a second by 35,000); DOVECOT_IMPORT=1 or 0 forces it.
# Env: ANCHORS, ROUNDS (default 5), BENCH_USER (default test9), STOP_ANCHORS=1, DOVECOT_IMPORT.
# Last lines: "RATIO imap_sync op=OP messages=N estafeta_ms=X dovecot_ms=Y ratio=X/Y" (medians; below 1:
# Estafeta took less time).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MESSAGES=${1:-10000}; ROUNDS=${ROUNDS:-5}; USERS=${BENCH_USER:-test9}
ensure_anchors
start_estafeta --imap-allow-plaintext-auth true --imap-max-connections-per-user 50
imap_port=$(ready_port imap)
bench_accounts
tool=(python3 "$(dirname "$0")/imap_sync.py" --password "$BENCH_PASS" --messages "$MESSAGES" --rounds "$ROUNDS")
if [ "${DOVECOT_IMPORT:-$([ "$MESSAGES" -gt 20000 ] && echo 1 || echo 0)}" = 1 ]; then
  mbox_dir=$(mktemp -d /tmp/imap-sync-mbox.XXXXXX); chmod 755 "$mbox_dir"
  "${tool[@]}" --port "$IMAP_PORT" --user "$USERS" --write-mbox "$mbox_dir/inbox" > /dev/null
  chmod 644 "$mbox_dir/inbox"
  started=$(date +%s)
  doveadm -c "$DOVECOT_CONF" import -u "$USERS" "mbox:$mbox_dir:INBOX=$mbox_dir/inbox:INDEX=MEMORY" "" all
  echo "dovecot  RESULT op=doveadm_import messages=$MESSAGES seconds=$(( $(date +%s) - started ))"
  rm -rf "$mbox_dir"
else
  echo "dovecot  $("${tool[@]}" --port "$IMAP_PORT" --user "$USERS" --populate | tail -1)"
fi
echo "estafeta $("${tool[@]}" --port "$imap_port" --user "$estafeta_users" --populate | tail -1)"
theirs=$("${tool[@]}" --port "$IMAP_PORT" --user "$USERS")
ours=$("${tool[@]}" --port "$imap_port" --user "$estafeta_users")
sed 's/^/dovecot  /' <<<"$theirs"; sed 's/^/estafeta /' <<<"$ours"
for op in select_last50 sort_date thread_refs qresync; do
  e=$(grep "op=$op " <<<"$ours" | field median_ms); d=$(grep "op=$op " <<<"$theirs" | field median_ms)
  echo "RATIO imap_sync op=$op messages=$MESSAGES estafeta_ms=$e dovecot_ms=$d ratio=$(ratio "$e" "$d")"
done
