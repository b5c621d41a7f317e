//! A host whose guest is part of its own executable, run in place from the executable's text:
//! no artifact file is opened or mapped. The guest comes in twice: through
//! `kiln_loader::static_artifact!` (the Rust way), and as the object `kiln compile --emit obj`
//! writes, linked in by `build.rs` (the way a C host does it) and found with
//! `kiln_loader::linked_artifact!`. Neither needs `unsafe` here. Artifacts of another format
//! version or target are refused with the errors a file would get.

use kiln_loader::{Artifact, Instance, Store};

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
    run(
        "linked object",
        &kiln_loader::linked_artifact!(kiln_artifact_guest)?,
    )?;
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
