#!/usr/bin/env bash
# Checks the unit files without installing them: systemd-analyze parses each unit (unknown keys, bad
# values, an ExecStart that is not executable) with ExecStart pointed at the executables in BIN_DIR,
# and every unit's command line is read by `estafeta check-config` with the example settings file.
# Usage: deploy/systemd/verify-units.sh BIN_DIR
set -euo pipefail
bin=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)  # absolute: systemd wants absolute ExecStart paths
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here"/*.service "$here"/*.target "$work"/
sed -i "s#/usr/local/bin/#$bin/#g" "$work"/*.service
units=()
for unit in "$work"/*.service "$work"/*.target; do
    case $unit in
        *@.service) units+=("${unit%@.service}@1.service") ;;  # a template is checked as an instance
        *) units+=("$unit") ;;
    esac
done
# systemd-analyze prints problems but exits 0 for some of them (an unknown key): any output fails.
report=$(cd "$work" && systemd-analyze verify --man=no "${units[@]}" 2>&1) || { echo "$report" >&2; exit 1; }
if [[ -n $report ]]; then echo "$report" >&2; exit 1; fi
# Each ExecStart's arguments are settings the executables accept (instance %i taken as 1).
grep -h "^ExecStart=" "$here"/*.service | while read -r line; do
    command=${line#ExecStart=/usr/local/bin/}
    arguments=$(echo "$command" | cut -s -d' ' -f2- | sed 's/%i/1/g')
    # `estafeta serve`: the first word is the subcommand, the settings follow it.
    [[ $command == "estafeta "* ]] && arguments=$(echo "$arguments" | cut -s -d' ' -f2-)
    # shellcheck disable=SC2086 # the unit's arguments split as systemd splits them (no quotes there)
    "$bin/estafeta" check-config --config "$here/estafeta.json" $arguments >/dev/null \
        || { echo "systemd: $line is refused" >&2; exit 1; }
done
echo "systemd units: verified"
