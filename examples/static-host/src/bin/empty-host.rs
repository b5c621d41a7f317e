//! An empty program built like `minimal-host`: the baseline of the footprint measurement.

fn main() {
    println!("[]");
}
