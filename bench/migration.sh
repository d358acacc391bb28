#!/usr/bin/env bash
# Moving in from Dovecot: the rate of `estafeta import dovecot` (messages/s, MB/s, CPU, peak memory) on a
# Dovecot Maildir of MSGS messages in FOLDERS folders, against Dovecot's own `doveadm backup -R` (dsync)
# of the same Maildir into a user of the anchors' Dovecot, and against copying it over IMAP APPEND into
# Estafeta as imapsync would (bench/migration_data.py, one connection).
#   bench/migration.sh [MSGS=100000] [FOLDERS=20] [SIZE=4096]
# Env: STORE=postgres (the store in PostgreSQL), ESTAFETA_BIN (another build), MODES (default
# "import dsync append"; "import" alone to see the import's memory for a large folder: FOLDERS=1).
# Last lines: "RATIO import/dsync rate=…" and "RATIO import/append rate=…" (higher is better for Estafeta).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MSGS=${1:-100000}; FOLDERS=${2:-20}; SIZE=${3:-4096}
here=$(cd "$(dirname "$0")" && pwd)
ensure_anchors
start_estafeta
source_dir=$work/source/Maildir
echo "writing $MSGS messages of ~$SIZE octets in $FOLDERS folders" >&2
python3 "$here/migration_data.py" make "$source_dir" "$MSGS" "$FOLDERS" "$SIZE"
megabytes=$(du -sm --apparent-size "$source_dir" | cut -f1)
# Dovecot's processes read it as vmail.
chown -R vmail:vmail "$work/source"; chmod 755 "$work"
sync

# timed LABEL COMMAND…: runs it under GNU time; prints "LABEL secs=… cpu=… rss_mb=…".
timed() {
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >"$work/$label.out" 2>&1 || { cat "$work/$label.out" >&2; exit 1; }
  read -r secs user sys rss <"$work/time"
  echo "$label secs=$secs cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN{print u + s}') rss_mb=$((rss / 1024))"
}
rate() { awk -v n="$MSGS" -v mb="$megabytes" -v s="$1" 'BEGIN{printf "msgs_per_sec=%.0f mb_per_sec=%.1f", n / s, mb / s}'; }
secs_of() { sed -n 's/.* secs=\([0-9.]*\).*/\1/p'; }

# Estafeta: the import command against the running suite's store (as an operator runs it).
line=$(timed import "${ESTAFETA_BIN:-$repo/.build/release/estafeta}" import dovecot --maildir "$source_dir" \
  --account test1@bench.test "${database_flags[@]}")
grep -q "done: .*: 0 messages" "$work/import.out" && { echo "import filed nothing" >&2; cat "$work/import.out" >&2; exit 1; }
echo "$line $(rate "$(echo "$line" | secs_of)")"
import_secs=$(echo "$line" | secs_of)

MODES=${MODES:-import dsync append}
case " $MODES " in *" dsync "*) ;; *) exit 0 ;; esac

# Dovecot: dsync from the Maildir into an emptied user (backup -R mirrors the location into the user).
doveadm -c "$DOVECOT_CONF" expunge -u test3 mailbox '*' all >/dev/null 2>&1 || true
rm -rf "$DOVECOT_DIR/mail/test3"
line=$(timed dsync doveadm -c "$DOVECOT_CONF" backup -R -u test3 "maildir:$source_dir")
echo "$line $(rate "$(echo "$line" | secs_of)")"
dsync_secs=$(echo "$line" | secs_of)
copied=$(doveadm -c "$DOVECOT_CONF" -f flow mailbox status -u test3 messages '*' | sed -n 's/.*messages=\([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}')
[ "$copied" = "$MSGS" ] || { echo "dsync copied $copied of $MSGS messages" >&2; exit 1; }
rm -rf "$DOVECOT_DIR/mail/test3"

case " $MODES " in *" append "*) ;; *) echo "RATIO import/dsync rate=$(ratio "$dsync_secs" "$import_secs")"; exit 0 ;; esac

# IMAP APPEND into Estafeta, as imapsync copies, with the server's CPU for it.
api POST accounts '{"address":"test2@bench.test","password":"bench password 2"}' >/dev/null
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
before=$(cpu_ticks "$server")
result=$(python3 "$here/migration_data.py" append "$(ready_port imap)" test2@bench.test "bench password 2" "$source_dir" | tail -1)
after=$(cpu_ticks "$server")
append_secs=$(echo "$result" | field secs)
echo "append $result server_cpu=$(awk -v a="$before" -v b="$after" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", (b - a) / hz}') $(rate "$append_secs")"

echo "RATIO import/dsync rate=$(ratio "$dsync_secs" "$import_secs")"
echo "RATIO import/append rate=$(ratio "$append_secs" "$import_secs")"
