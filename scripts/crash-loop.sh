#!/usr/bin/env bash
# Seeded kill -9 loops (tests/crash_loop.rs) with many iterations and a fresh
# seed: a crawl + flagging, an ad-hoc capture, a bundle export and webhook
# delivery by `spotcheck serve`, each killed with SIGKILL at random points
# and run again until done. Prints each scenario's line and a summary.
#
#   scripts/crash-loop.sh [ITERATIONS]      (default 50 per scenario)
#   SPOTCHECK_CRASH_SEED=N scripts/crash-loop.sh 50    replays a seed
#
# Exit status: the tests' (non-zero when anything was lost, duplicated or
# failed to verify).
set -euo pipefail
cd "$(dirname "$0")/.."

iterations="${1:-50}"
seed="${SPOTCHECK_CRASH_SEED:-$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')}"
log="$(mktemp -t crash-loop.XXXXXX.log)"
echo "crash loop: ${iterations} iterations per scenario, seed ${seed} (replay with SPOTCHECK_CRASH_SEED=${seed})"

status=0
SPOTCHECK_CRASH_SEED="$seed" SPOTCHECK_CRASH_ITERATIONS="$iterations" \
    cargo test --locked --test crash_loop -- --nocapture --test-threads "${CRASH_LOOP_THREADS:-1}" 2>&1 | tee "$log" || status=$?

echo
echo "== crash loop summary (seed ${seed}) =="
grep '^crash-loop summary' "$log" | sed 's/^crash-loop summary //' || true
grep '^crash-loop summary' "$log" | awk '
    {
        for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
        it += f["iterations"]; kills += f["kills_landed"]; res += f["resumes"]
        lost += f["lost"]; dup += f["duplicates"]; red += f["redelivered"]; n++
        np = split(f["phases"], ph, ",")
        for (j = 1; j <= np; j++) { split(ph[j], x, "[:/]"); landed[x[1]] += x[2]; tried[x[1]] += x[3] }
        na = split(f["at"], at, ",")
        for (j = 1; j <= na; j++) { split(at[j], y, ":"); caught[y[1]] += y[2] }
    }
    END {
        printf "scenarios %d, iterations %d, kills landed %d, resumes %d, lost %d, duplicated %d, webhooks redelivered %d\n",
            n, it, kills, res, lost, dup, red
        for (p in landed) printf "  phase %-8s kills landed %d of %d\n", p, landed[p], tried[p]
        for (c in caught) printf "  caught at %-32s %d\n", c, caught[c]
    }'
grep -E '^test .* (ok|FAILED)$' "$log" || true
echo "log: $log"
exit "$status"
