//! The `wasi` target (see `kiln_fuzz::targets::wasi`) under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(finding) = kiln_fuzz::Target::Wasi.run(data) {
        panic!("{finding}");
    }
});
