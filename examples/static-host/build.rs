//! Compiles `guest.wat` at build time into the artifacts the host builds in: `guest.kiln` (for
//! `static_artifact!`), the same artifact as a relocatable object `guest.o` (linked as a C host
//! would link the output of `kiln compile --emit obj`), and two that the host must refuse: one
//! of a newer format version and one for another target.

use kiln_compiler::{compile, CompileOptions};
use kiln_format::header::{ArtifactHeader, HEADER_OFFSET};
use kiln_format::{Arch, FORMAT_MAJOR};
use std::path::PathBuf;
use zerocopy::FromBytes;

fn main() {
    println!("cargo:rerun-if-changed=guest.wat");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let wasm = wat::parse_file("guest.wat").expect("guest.wat parses");
    let artifact = compile(&wasm, &CompileOptions::default()).expect("guest compiles");
    std::fs::write(out.join("guest.kiln"), &artifact).expect("write guest.kiln");

    let arch = Arch::host().expect("a Kiln target");
    let object = kiln_format::writer::write_artifact_object(&artifact, arch, "kiln_artifact_guest")
        .expect("object");
    let object_path = out.join("guest.o");
    std::fs::write(&object_path, object).expect("write guest.o");
    println!(
        "cargo:rustc-link-arg-bin=static-host={}",
        object_path.display()
    );

    let mut newer = artifact.clone();
    let at = HEADER_OFFSET as usize;
    let (header, _) =
        ArtifactHeader::mut_from_prefix(&mut newer[at..]).expect("the header is in the file");
    header.format_major = (FORMAT_MAJOR + 1).into();
    std::fs::write(out.join("newer.kiln"), newer).expect("write newer.kiln");

    let other = if arch == Arch::Aarch64 {
        Arch::X86_64
    } else {
        Arch::Aarch64
    };
    let options = CompileOptions {
        target: Some(other),
        ..CompileOptions::default()
    };
    let foreign = compile(&wasm, &options).expect("guest compiles for another target");
    std::fs::write(out.join("foreign.kiln"), foreign).expect("write foreign.kiln");
}
