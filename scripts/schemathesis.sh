#!/usr/bin/env bash
# Fuzzes `spotcheck serve` against its own OpenAPI document with schemathesis
# (PyPI): every operation of every audience, positive and negative data, all
# checks (no server errors, status codes, headers and bodies as documented,
# auth enforced). Exits non-zero on any failure.
#
# Builds the binary, makes a data dir with real data (`spotcheck demo`, a few
# findings confirmed so there are cases), issues a token per role and a
# platform key through the CLI, starts the server on a free port, then runs
# schemathesis once per audience with that audience's secret.
#
#   SCHEMATHESIS_MAX_EXAMPLES   examples per operation (default 25)
#   SCHEMATHESIS_SEED           the generator's seed (default 7, so runs repeat)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v schemathesis >/dev/null; then
    echo "installing from PyPI: schemathesis"
    python3 -m pip install --quiet --disable-pip-version-check schemathesis
fi
schemathesis --version

cargo build --locked --bin spotcheck
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target/debug/spotcheck"

work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "making data: spotcheck demo --listings 300"
# The demo's own verdict (precision bars at 300 listings) does not matter here; its data does.
"$bin" --data-dir "$work" demo --listings 300 --pictures 0 --live-seconds 0 >"$work/demo.log" 2>&1 || true
data="$work/demo"
test -d "$data/db" || { cat "$work/demo.log"; echo "the demo stored nothing" >&2; exit 1; }
sc() { "$bin" --data-dir "$data" "$@"; }

# A few confirmed findings, so there are cases for enforcement to read.
mapfile -t findings < <(sc findings list --json --status open | head -n 6 | python3 -c 'import json, sys; [print(json.loads(l)["finding"]["id"]) for l in sys.stdin]')
sc findings confirm "${findings[@]}" >/dev/null
bureau=$(sc cases list --json | head -n 1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["bureau"]["code"])')

cat >"$work/platforms.toml" <<'TOML'
[[platform]]
id = "mall"
name = "Sample Mall"

[[platform]]
id = "duo"
name = "Sample Duo"
TOML
secret() { "$@" 2>/dev/null | sed -n 2p; }
staff=$(secret sc tokens issue --role staff --name "schemathesis staff")
enforcement=$(secret sc tokens issue --role enforcement --name "schemathesis enforcement" --bureau "$bureau")
admin=$(secret sc tokens issue --role admin --name "schemathesis admin")
platform=$(secret sc tokens platform-key issue mall --platforms "$work/platforms.toml")

# The fuzzer is one client sending thousands of requests: lift the rate limit for it.
# Not through `sc`: a function in the background is a subshell, and killing
# it at exit left the server running.
"$bin" --data-dir "$data" serve --addr 127.0.0.1:0 --platforms "$work/platforms.toml" --rate 100000 --burst 100000 \
    >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 300); do
    [ -s "$work/serve.out" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.err"; echo "spotcheck serve died" >&2; exit 1; }
    sleep 0.1
done
base=$(head -n 1 "$work/serve.out" | sed -n 's/^listening on //p')
[ -n "$base" ] || { echo "no address from spotcheck serve" >&2; exit 1; }
echo "spotcheck serve at $base"

examples=${SCHEMATHESIS_MAX_EXAMPLES:-25}
failed=0
run() {
    local audience=$1 secret=$2 paths=$3 phases=${4:-examples,coverage,fuzzing,stateful}
    echo "== schemathesis: $audience ($paths)"
    # Run from the scratch directory: schemathesis keeps a cache (.schemathesis/) where it runs.
    if ! (cd "$work" && schemathesis run "$base/api/openapi.json" --checks all --max-examples "$examples" --seed "${SCHEMATHESIS_SEED:-7}" \
        --workers 2 --request-timeout 10 --suppress-health-check all --include-path-regex "$paths" \
        --phases "$phases" -H "Authorization: Bearer $secret"); then
        failed=1
    fi
}
# The public routes have no state to follow, and schemathesis calls a stateful
# phase an error when the document's links all lead elsewhere.
run public none '^/(healthz|api/openapi\.json)$' examples,coverage,fuzzing
run platform "$platform" '^/api/platform/'
run staff "$staff" '^/api/staff/'
run enforcement "$enforcement" '^/api/enforcement/'
run admin "$admin" '^/api/admin/'

if [ "$failed" -ne 0 ]; then
    echo "schemathesis found failures (server log: below)" >&2
    tail -n 50 "$work/serve.err" >&2
    exit 1
fi
echo "schemathesis: no failures"
