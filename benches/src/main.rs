//! `cargo run --release -p kiln-benches [--features wasmtime] -- [--quick]`: runs the benchmark
//! suite and prints the result tables as Markdown (progress goes to standard error).

use anyhow::Result;
use clap::Parser;
use kiln_benches::{run, sys, Config};
use std::path::PathBuf;

/// Kiln's benchmark suite: load/unload, memory, instantiation, calls both ways, WASI setup,
/// compilation, execution and the cost of interruption, each against a baseline measured in the
/// same run (and against Wasmtime when built with `--features wasmtime`).
#[derive(Parser, Debug)]
#[command(name = "kiln-benches")]
struct Args {
    /// Quick mode: N = 50 artifacts, few repetitions, small kernel inputs.
    #[arg(long)]
    quick: bool,
    /// Number of artifacts loaded at once (default 1000, or 50 with --quick).
    #[arg(long, value_name = "N")]
    copies: Option<usize>,
    /// Repetitions of the load, instantiation and call measurements.
    #[arg(long, value_name = "R")]
    reps: Option<usize>,
    /// Do not measure Wasmtime even if it is compiled in.
    #[arg(long)]
    no_wasmtime: bool,
    /// Directory for the scratch files (default: the system's temporary directory). The full
    /// run writes 1000 copies of every artifact, several GB for the large module.
    #[arg(long, value_name = "DIR")]
    scratch: Option<PathBuf>,
    /// Directory of real programs (*.wasm) to instantiate (default: the workspace's
    /// tests/programs).
    #[arg(long, value_name = "DIR")]
    programs: Option<PathBuf>,
    /// Run only one section: load, instantiate, calls, hostcalls, wasi, compile, execute,
    /// interrupt or unwind (for profiling).
    #[arg(long, value_name = "SECTION")]
    only: Option<kiln_benches::Section>,
    /// Write the benchmark's modules as .wasm files into DIR and exit (for profiling).
    #[arg(long, value_name = "DIR")]
    write_modules: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut config = if args.quick {
        Config::quick()
    } else {
        Config::full()
    };
    if let Some(n) = args.copies {
        config.copies = n;
    }
    if let Some(r) = args.reps {
        config.reps = r;
    }
    if args.no_wasmtime {
        config.wasmtime = false;
    }
    if args.scratch.is_some() {
        config.scratch_parent = args.scratch;
    }
    config.only = args.only;
    if args.programs.is_some() {
        config.programs_dir = args.programs;
    }
    if let Some(dir) = &args.write_modules {
        for p in kiln_benches::write_modules(&config, dir)? {
            println!("{}", p.display());
        }
        return Ok(());
    }
    let command: Vec<String> = std::env::args().collect();
    let started = std::time::Instant::now();
    let report = run(&config)?;
    println!("## Kiln benchmarks\n");
    println!("- Machine: {}", sys::machine());
    println!("- Command: `{}`", command.join(" "));
    println!(
        "- Wall time of the run: {:.0} s",
        started.elapsed().as_secs_f64()
    );
    print!("{}", report.markdown());
    let missed: Vec<&str> = report.missed().map(|r| r.name.as_str()).collect();
    if !missed.is_empty() {
        println!("\nTargets missed: {}.", missed.len());
    }
    Ok(())
}
