#!/usr/bin/env bash
# Fuzzes every parser that reads what a peer sends (Tests/Fuzz/Harnesses) with libFuzzer and the
# address sanitizer, each target for SECONDS (default 20), starting from its seed corpus in
# Tests/Fuzz/Corpus/<target> (copied: the run never changes the repository). Exits 1 on the first
# fault, with the input that caused it; keep that input in the target's corpus once the fault is
# fixed, so the replay test (FuzzCorpusTests) holds the fix.
#   usage: Tests/Fuzz/run.sh [SECONDS] [TARGET…]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-20}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(smtp-command smtp-data imap-command pop3-command mime address encoded-words sasl mail-auth mailbox-files)

# A build of its own (sanitizers change every object file), kept beside the normal one.
swift build --scratch-path .build-fuzz --product estafeta-fuzz \
    --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING 2>&1 \
    | grep -v "Cannot export local symbol" | tail -3
binary="$(swift build --scratch-path .build-fuzz --show-bin-path \
    --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING)/estafeta-fuzz"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for target in "${targets[@]}"; do
    mkdir -p "$work/$target"
    cp Tests/Fuzz/Corpus/"$target"/* "$work/$target/"
    # Swift's own crash reporter would wait for a debugger-style backtrace; libFuzzer reports instead.
    if ! ESTAFETA_FUZZ_TARGET="$target" SWIFT_BACKTRACE=enable=no timeout -s KILL $((seconds + 60)) \
        "$binary" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$work/$target-" -print_final_stats=0 "$work/$target" >"$work/$target.log" 2>&1
    then
        echo "FUZZ FAIL $target:" >&2
        grep -vE "^#[0-9]+" "$work/$target.log" | tail -40 >&2
        for crash in "$work/$target"-*; do
            [[ -e "$crash" ]] && echo "input ($crash), base64: $(base64 -w0 "$crash")" >&2
        done
        failed=1
        continue
    fi
    runs=$(grep -oE "Done [0-9]+ runs" "$work/$target.log" | grep -oE "[0-9]+" || echo "?")
    echo "fuzz ok $target: $runs runs in ${seconds} s"
done
exit $failed
