#!/bin/sh
# Rebuilds the WASI test programs (*.wasm next to this script) from their C sources. The .wasm
# files are committed: tests/wasi.rs (and tests/memory64.rs for bigmem64) run them and need no C
# toolchain.
#
# Needs clang, lld, wasi-libc and the wasm32 compiler runtime (Debian: apt-get install clang lld
# wasi-libc libclang-rt-14-dev-wasm32 libc++-14-dev-wasm32 libc++abi-14-dev-wasm32), and cargo to fetch zlib's sources from the libz-sys crate
# (or set ZLIB_SRC to a zlib source directory).
set -eu
cd "$(dirname "$0")"

CC=${CC:-clang}
CFLAGS="--target=wasm32-wasi -O2 -Wl,--strip-debug"

for p in stdio args_env exit_code files clocks_random sandbox wasi_raw; do
    echo "building $p.wasm"
    $CC $CFLAGS -Wall -Wextra -Werror "$p.c" -o "$p.wasm"
done

# Tail calls: `musttail` needs the tail-call feature (WebAssembly 3.0).
echo "building tailcall.wasm"
$CC $CFLAGS -mtail-call -Wall -Wextra -Werror tailcall.c -o tailcall.wasm

# A freestanding 64-bit program (memory64): no libc, grows its memory past 4 GiB.
echo "building bigmem64.wasm"
$CC --target=wasm64-unknown-unknown -O2 -nostdlib -Wall -Wextra -Werror -Wl,--no-entry \
    -Wl,--strip-debug bigmem64.c -o bigmem64.wasm

# C++ with libc++ (Debian: libc++-14-dev-wasm32 libc++abi-14-dev-wasm32); WASI has no exceptions.
CXX=${CXX:-clang++}
echo "building wordfreq.wasm"
$CXX $CFLAGS -fno-exceptions -std=c++17 -Wall -Wextra -Werror wordfreq.cpp -o wordfreq.wasm

# C++ exceptions: clang 14's -fwasm-exceptions emits the legacy form (try/catch/rethrow), which
# binaryen's wasm-opt converts to the standard exnref form (try_table/throw_ref). Freestanding:
# the program defines the few C++ ABI functions it needs. wasm-opt from npm (`npm install
# binaryen@132.0.0`, then WASM_OPT=node_modules/binaryen/bin/wasm-opt).
WASM_OPT=${WASM_OPT:-wasm-opt}
echo "building exceptions.wasm"
$CXX --target=wasm32-wasi -O2 -fwasm-exceptions -fno-rtti -nostdlib -std=c++17 -Wall -Wextra -Werror \
    -Wl,--no-entry -Wl,--export=eval -Wl,--export=cleanup_count -Wl,--export=rethrow_count \
    -Wl,--strip-debug exceptions.cpp -o exceptions-legacy.wasm
$WASM_OPT --enable-exception-handling --enable-reference-types --translate-to-exnref -O2 \
    exceptions-legacy.wasm -o exceptions.wasm
rm exceptions-legacy.wasm

# zlib 1.3.2, as vendored by the libz-sys crate.
LIBZ_SYS=1.1.31
if [ -z "${ZLIB_SRC:-}" ]; then
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    (
        cd "$scratch"
        cargo init -q --vcs none --name fetch-zlib-sources
        cargo add -q "libz-sys@=$LIBZ_SYS" --features static
        cargo fetch -q
    )
    ZLIB_SRC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"libz-sys-$LIBZ_SYS"/src/zlib | head -n 1)
fi
echo "building zlib.wasm from $ZLIB_SRC"
$CC $CFLAGS -Wall -DZ_HAVE_UNISTD_H -I"$ZLIB_SRC" "$ZLIB_SRC"/*.c zlib_driver.c -o zlib.wasm

ls -l ./*.wasm
