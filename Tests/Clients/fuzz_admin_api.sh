#!/usr/bin/env bash
# Property-based fuzzing of the admin API from its own OpenAPI document with schemathesis:
# starts estafeta-admin on loopback with a fresh database, runs a bounded schemathesis session, and
# fails on any 5xx, any undocumented status code, content type or header, or any response that does
# not match the schema. Bounded: --max-examples per operation and a hard timeout.
#
# usage: fuzz_admin_api.sh BIN_DIR
set -euo pipefail
bin_dir=${1:?usage: fuzz_admin_api.sh BIN_DIR}
if ! command -v st >/dev/null 2>&1; then
    # Debian's own python3 refuses system-wide pip installs (PEP 668); this is a throwaway CI machine.
    python3 -m pip install -q schemathesis 2>/dev/null || python3 -m pip install -q --break-system-packages schemathesis
fi
work=$(mktemp -d)
token=$(python3 -c "import secrets; print(secrets.token_urlsafe(32))")
cleanup() {
    [[ -n "${admin_pid:-}" ]] && kill "$admin_pid" 2>/dev/null && wait "$admin_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# A high auth-failure limit: the fuzzer sends broken tokens on purpose, and 429s would hide the routes.
# The DNS check's look-ups go to a loopback port nobody answers on (they fail; nothing leaves the host).
ESTAFETA_ADMIN_TOKEN="$token" "$bin_dir/estafeta-admin" \
    --database-path "$work/estafeta.sqlite" --admin-host 127.0.0.1 --admin-port 0 \
    --admin-max-auth-failures 1000000 --relay-dns-server 127.0.0.1:9 \
    --ready-file "$work/ready.json" >"$work/admin.log" 2>&1 &
admin_pid=$!
for _ in $(seq 1 300); do [[ -s "$work/ready.json" ]] && break; sleep 0.1; done
port=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['admin'])" "$work/ready.json")

status=0
# One worker: with two threads, hypothesis's parsing of lambda sources on Python 3.11 now and then
# fails inside CPython's ast module ("AST constructor recursion depth mismatch", CPython gh-106905, a
# race seen only in threaded programs), which schemathesis reports as a runtime error of its own.
timeout 600 st run "http://127.0.0.1:$port/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,unsupported_method \
    --max-examples "${FUZZ_MAX_EXAMPLES:-25}" --workers 1 --seed 20261126 --no-color || status=$?
if [[ $status -ne 0 ]]; then
    echo "--- estafeta-admin log ---"
    tail -50 "$work/admin.log"
fi
exit $status
