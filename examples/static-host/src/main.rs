//! A host whose guest is part of its own executable, run in place from the executable's text:
//! no artifact file is opened or mapped. The guest comes in twice: through
//! `kiln_loader::static_artifact!` (the Rust way), and as the object `kiln compile --emit obj`
//! writes, linked in by `build.rs` (the way a C host does it). Artifacts of another format
//! version or target are refused with the errors a file would get.

use kiln_loader::{Artifact, Instance, Store};

extern "C" {
    /// The artifact's first byte, in the linked object's `.text.kiln_artifact.*` section.
    static kiln_artifact_guest: u8;
    /// Its length.
    static kiln_artifact_guest_len: u64;
}

/// The linked-in object's artifact.
fn linked_object() -> Result<Artifact, kiln_loader::LoadError> {
    // SAFETY: the linker placed the artifact's `kiln_artifact_guest_len` bytes at
    // `kiln_artifact_guest`, in an executable section of this program that is never written.
    unsafe {
        let len = usize::try_from(kiln_artifact_guest_len).expect("fits in memory");
        let image = std::slice::from_raw_parts(&raw const kiln_artifact_guest, len);
        Artifact::from_static(image)
    }
}

fn run(name: &str, artifact: &Artifact) -> Result<(), kiln_loader::Error> {
    let mut store = Store::new(());
    let instance = Instance::new(&mut store, artifact, &[])?;
    let first = instance.call(&mut store, "answer", &[])?;
    let second = instance.call(&mut store, "answer", &[])?;
    let memory = instance.get_memory(&mut store, "memory").expect("exported");
    let text = String::from_utf8_lossy(&memory.data(&store)[..8]).into_owned();
    println!("{name}: answer {first:?} then {second:?}, memory says {text:?}");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let built_in = kiln_loader::static_artifact!(concat!(env!("OUT_DIR"), "/guest.kiln"))?;
    run("static_artifact!", &built_in)?;
    run("linked object", &linked_object()?)?;
    for refused in [
        kiln_loader::static_artifact!(concat!(env!("OUT_DIR"), "/newer.kiln")),
        kiln_loader::static_artifact!(concat!(env!("OUT_DIR"), "/foreign.kiln")),
    ] {
        match refused.and_then(|a| a.check().map(|()| a)) {
            Ok(_) => return Err("an incompatible artifact was accepted".into()),
            Err(e) => println!("refused: {e}"),
        }
    }
    Ok(())
}
