#!/usr/bin/env bash
# The test command (README "Set-up", and what .ci/run runs): installs what the
# tests drive for real, if it is missing, then runs the whole test suite.
#
#   - openssl            the local RFC 3161 time-stamping authority and signature cross-checks
#   - chromium + CJK font, poppler-utils   the evidence report printed to PDF and read back
#   - unzip              bundles opened with ordinary tools
#   - nats-server        the JetStream server the scale-out tests start on a free loopback port
#   - warcio, wacz       (PyPI) third-party validators of our WARC and WACZ output
#
# Everything comes from the OS packages or PyPI; nothing is downloaded from elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v openssl >/dev/null || missing+=(openssl)
command -v unzip >/dev/null || missing+=(unzip)
command -v pdftotext >/dev/null || missing+=(poppler-utils)
command -v chromium >/dev/null || missing+=(chromium)
command -v nats-server >/dev/null || missing+=(nats-server)
fc-list 2>/dev/null | grep -qi "noto.*cjk" || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing from the OS packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v warcio >/dev/null || ! command -v wacz >/dev/null; then
    echo "installing from PyPI: warcio wacz"
    python3 -m pip install --quiet --disable-pip-version-check warcio wacz
fi

# The verifier enforcement runs must keep building without the station parts.
cargo build --locked -p evidence --no-default-features --bin evidence-verify
# Benchmarks never run here (they are `spotcheck bench all` and `cargo bench`,
# run by hand); this only checks that the criterion benchmarks still build.
cargo build --workspace --locked --benches
cargo test --workspace --locked "$@"

# The API against its own OpenAPI document (schemathesis from PyPI); set
# SPOTCHECK_SKIP_SCHEMATHESIS=1 to leave it out.
if [ -z "${SPOTCHECK_SKIP_SCHEMATHESIS:-}" ]; then
    ./scripts/schemathesis.sh
fi
