#!/bin/sh
# Rebuilds the Rust test programs (rust_trap_*.wasm next to this script, committed: the tests need
# no Rust wasm toolchain). Needs a nightly rustc (no wasm32 standard library: the program is
# `no_core`); it links with the rust-lld rustup ships.
set -eu
cd "$(dirname "$0")"
RUSTC=${RUSTC:-rustc +nightly}
for mangling in legacy v0; do
    echo "building rust_trap_$mangling.wasm"
    $RUSTC --target wasm32-unknown-unknown -C opt-level=2 -C panic=abort \
        -Z unstable-options -C symbol-mangling-version=$mangling \
        rust_trap.rs -o rust_trap_$mangling.wasm
done
ls -l rust_trap_*.wasm
