#!/usr/bin/env bash
# Builds kiln, compiles the shipped example to an artifact, inspects it, and runs it from the
# mapped file.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p kiln-cli
kiln=./target/release/kiln
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
$kiln compile examples/fib.wat -o "$out/fib.kiln"
$kiln inspect "$out/fib.kiln"
echo "fib(30) = $($kiln run "$out/fib.kiln" --invoke fib 30)"
echo "checksum(\"Kiln\") = $($kiln run "$out/fib.kiln" --invoke checksum 0 4)"
echo "oops() traps:"
$kiln run "$out/fib.kiln" --invoke oops || echo "(exit status $?)"
