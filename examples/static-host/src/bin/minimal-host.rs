//! The smallest useful host, for measuring the loader's footprint (`benches/README.md`,
//! "Footprint"): maps the artifact file given as its argument and calls its export `answer`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: minimal-host ARTIFACT")?;
    let artifact = kiln_loader::Artifact::open(path)?;
    let mut store = kiln_loader::Store::new(());
    let instance = kiln_loader::Instance::new(&mut store, &artifact, &[])?;
    println!("{:?}", instance.call(&mut store, "answer", &[])?);
    Ok(())
}
