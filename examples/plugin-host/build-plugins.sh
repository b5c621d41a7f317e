#!/usr/bin/env bash
# Compiles the example plugins into artifacts the host can load: with fuel metering and epoch
# interruption, which the host's budgets rely on.
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-target-plugins}
mkdir -p "$out"
for p in plugins/*.wat; do
    cargo run -q --release -p kiln-cli -- compile "$p" -o "$out/$(basename "${p%.wat}").kiln" \
        --fuel --epoch-interruption
done
echo "plugins compiled into $out; run: cargo run -p plugin-host -- $out"
