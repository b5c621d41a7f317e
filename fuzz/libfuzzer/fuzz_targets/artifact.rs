//! The `artifact` target (see `kiln_fuzz::targets::artifact`) under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(finding) = kiln_fuzz::Target::Artifact.run(data) {
        panic!("{finding}");
    }
});
