#!/usr/bin/env bash
# Crawl throughput over NATS with 1, 2 and 4 workers against the sample
# marketplace, beside the embedded crawl of the same pages (README
# "Performance" → "Crawl workers"). Everything on this machine, loopback only:
# a nats-server (Debian package) on a free port, the marketplace, N worker
# processes, the control plane as `spotcheck crawl --nats`.
#
#   scripts/cluster-bench.sh [LISTINGS] [WORKER_COUNTS]    (defaults: 4000 "1 2 4")
#
# Needs a release build (cargo build --release) and nats-server.
set -euo pipefail
listings=${1:-4000}
counts=${2:-1 2 4}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/spotcheck"
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

nats-server -js -sd "$work/js" -a 127.0.0.1 -p -1 2>"$work/nats.log" &
pids+=($!)
until port=$(grep -o 'client connections on 127.0.0.1:[0-9]*' "$work/nats.log" | sed 's/.*://'); [[ -n $port ]]; do sleep 0.1; done
nats="nats://127.0.0.1:$port"

"$bin" market serve --addr 127.0.0.1:0 --listings "$listings" >"$work/market.log" 2>/dev/null &
pids+=($!)
until market=$(sed -n 's/^listening on http:\/\///p' "$work/market.log" | tr -d '/'); [[ -n $market ]]; do sleep 0.1; done

crawl() { # DATA_DIR [extra args…] → pages/s
    "$bin" --data-dir "$1" crawl --adapter sample-mall --seed-url "http://$market/mall/" \
        --allow-host "$market" --concurrency 64 --json "${@:2}" |
        python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["job"]["counters"]["pages"], round(r["pages_per_sec"],1))'
}

echo "| mode | pages | pages/s |"
echo "|---|---:|---:|"
read -r pages rate < <(crawl "$work/embedded" --no-politeness)
echo "| embedded (one process), politeness off | $pages | $rate |"
for n in $counts; do
    wpids=()
    for i in $(seq "$n"); do
        "$bin" worker --nats "$nats" --concurrency 16 --name "w$i" >/dev/null 2>&1 &
        wpids+=($!)
        pids+=($!)
    done
    read -r pages rate < <(crawl "$work/cluster-$n" --nats "$nats" --no-politeness)
    echo "| $n worker(s) over NATS, politeness off | $pages | $rate |"
    if [[ $n == "${counts##* }" ]]; then
        # The adapter's own limit (50 requests/s, burst 20), shared by all the workers.
        read -r pages rate < <(crawl "$work/polite-$n" --nats "$nats")
        echo "| $n worker(s) over NATS, the adapter's politeness (50/s) | $pages | $rate |"
    fi
    for p in "${wpids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
done
