//! The `compile` target (see `kiln_fuzz::targets::compile`) under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(finding) = kiln_fuzz::Target::Compile.run(data) {
        panic!("{finding}");
    }
});
