#!/usr/bin/env bash
# Builds the cargo-fuzz targets in fuzz/ and runs each for SECONDS_PER_TARGET
# (default 600), one after another, then prints and writes a summary table
# (target/fuzz-summary.md): wall time, execs, exec/s, coverage (edges) and
# features, corpus size, crashes. See fuzz/README.md.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
#
# Environment:
#   FUZZ_TARGETS     the targets to run (default: all, in the order below)
#   FUZZ_SANITIZER   address | none (default none: the code under test has
#                    no unsafe of its own, and ASan halves the exec rate)
#   FUZZ_EXTRA_SEEDS directories (colon-separated) with <target>/ subdirectories
#                    of extra seeds, read but never written (e.g. real pages
#                    kept out of git)
#   FUZZ_SUMMARY     where to write the summary (default target/fuzz-summary.md)
#   FUZZ_NO_BUILD    set: run the binaries already built, do not build
#
# Stable Rust only: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags.
# libFuzzer runs in fork mode: a crash, timeout or OOM is left in
# fuzz/artifacts/<target>/, counted in the table, and the run goes on. The growing corpora live in
# fuzz/work/corpus/<target>/ (ignored by git); fuzz/corpus/<target>/ holds the
# small committed seeds, read as a second corpus and never written.
set -euo pipefail

seconds=${1:-600}
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz="$root/fuzz"
all="value_parsers webhook_verify json_ld html_extract adapter_file rule_file plan_file bundle_verify bundle_edit api_body"
targets=${FUZZ_TARGETS:-$all}
sanitizer=${FUZZ_SANITIZER:-none}
summary=${FUZZ_SUMMARY:-$root/target/fuzz-summary.md}
export RUSTC_BOOTSTRAP=1

# Input size caps: a page or a bundle may be big, a header or a price is not.
max_len() {
    case $1 in
        bundle_verify) echo 262144 ;;
        # html_extract runs every shipped adapter on a page: 64 KiB keeps its rate useful.
        html_extract | json_ld | adapter_file | rule_file | plan_file | api_body) echo 65536 ;;
        bundle_edit) echo 4096 ;;
        *) echo 4096 ;;
    esac
}

cd "$fuzz"
# Build once, then run the binaries themselves (`cargo fuzz run` would rebuild
# on every source change). FUZZ_NO_BUILD=1 runs what is built.
[[ -n ${FUZZ_NO_BUILD:-} ]] || cargo fuzz build --sanitizer "$sanitizer" --codegen-units 16 >&2
bin="$fuzz/target/x86_64-unknown-linux-gnu/release"

mkdir -p work/logs "$(dirname "$summary")"
rows=()
for t in $targets; do
    corpus="work/corpus/$t"
    mkdir -p "$corpus" "artifacts/$t"
    dirs=("$corpus")
    [[ -d corpus/$t ]] && dirs+=("corpus/$t")
    IFS=: read -r -a extra <<<"${FUZZ_EXTRA_SEEDS:-}"
    for d in "${extra[@]}"; do [[ -d $d/$t ]] && dirs+=("$d/$t"); done
    # Fork mode: a crash, timeout or OOM is saved and counted, and the run goes on.
    flags=(-max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048
        -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -artifact_prefix="artifacts/$t/")
    [[ -f dict/$t.dict ]] && flags+=(-dict="dict/$t.dict")
    before=$(find "artifacts/$t" -type f | wc -l)
    log="work/logs/$t.log"
    echo "== $t: ${seconds}s" >&2
    start=$(date +%s)
    status=0
    "$bin/$t" "${flags[@]}" "${dirs[@]}" >"$log" 2>&1 || status=$?
    wall=$(($(date +%s) - start))
    # The last fork-mode status line: `#N: cov: C ft: F corp: K exec/s: R oom/timeout/crash: a/b/c time: Ts`.
    last=$(grep -a '^#[0-9]*: cov:' "$log" | tail -1)
    field() { grep -o "$1 *[0-9/]*" <<<"$last" | grep -o '[0-9/]*$' || echo "?"; }
    execs=$(grep -o '^#[0-9]*' <<<"$last" | tr -d '#' || echo "?")
    # The average over the run (the status line's exec/s is the last job's).
    rate=$([[ $execs =~ ^[0-9]+$ && $wall -gt 0 ]] && echo $((execs / wall)) || echo "?")
    cov=$(field 'cov:')
    ft=$(field 'ft:')
    files=$(find "$corpus" -type f | wc -l)
    crashes=$(($(find "artifacts/$t" -type f | wc -l) - before))
    note="oom/timeout/crash $(field 'oom/timeout/crash:')"
    [[ $status -ne 0 ]] && note="$note; exit $status"
    row="| $t | $wall | $execs | $rate | $cov | $ft | $files | $crashes | $note |"
    echo "$row" >&2
    rows+=("$row")
done

{
    echo "Fuzzing, $(date -u +%Y-%m-%dT%H:%MZ), sanitizer $sanitizer, ${seconds} s per target, on $(nproc) cores"
    echo
    echo "| target | seconds | execs | exec/s | coverage (edges) | features | corpus files | new artifacts | note |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
    printf '%s\n' "${rows[@]}"
} >"$summary"
cat "$summary"
