//! The `diff` target (see `kiln_fuzz::targets::diff`) under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(finding) = kiln_fuzz::Target::Diff.run(data) {
        panic!("{finding}");
    }
});
