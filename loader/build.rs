//! Builds the setjmp/longjmp shim: `setjmp` returns twice, which Rust cannot express, so the one
//! frame that calls it is C; and the entry points of the exception builtins, which need their own
//! frame address.

fn main() {
    println!("cargo:rerun-if-changed=csrc/guest_call.c");
    println!("cargo:rerun-if-changed=csrc/throw.c");
    cc::Build::new()
        .file("csrc/guest_call.c")
        .warnings(true)
        .extra_warnings(true)
        .compile("kiln_guest_call");
    // The unwinder starts from these functions' frame records (src/exn/unwind.rs).
    cc::Build::new()
        .file("csrc/throw.c")
        .flag("-fno-omit-frame-pointer")
        .flag_if_supported("-fno-optimize-sibling-calls")
        .warnings(true)
        .extra_warnings(true)
        .compile("kiln_throw");
}
