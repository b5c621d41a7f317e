//! Builds the setjmp/longjmp shim: `setjmp` returns twice, which Rust cannot express, so the one
//! frame that calls it is C.

fn main() {
    println!("cargo:rerun-if-changed=csrc/guest_call.c");
    cc::Build::new()
        .file("csrc/guest_call.c")
        .warnings(true)
        .extra_warnings(true)
        .compile("kiln_guest_call");
}
