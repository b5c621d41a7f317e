//! `kiln`: compile WebAssembly ahead of time, run, inspect and test the artifacts.

#![forbid(unsafe_code)]

use kiln_cli::{commands, wast_runner};

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kiln",
    version,
    about = "Ahead-of-time WebAssembly: compile once, map and run in place"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a WebAssembly module (binary or text) into a Kiln artifact.
    Compile(commands::compile::Args),
    /// Run an exported function of an artifact or a WebAssembly module.
    Run(commands::run::Args),
    /// Show an artifact's header, compatibility, sections, imports, exports and functions.
    Inspect(commands::inspect::Args),
    /// Show or empty the compile cache that `kiln run` keeps for .wasm and .wat inputs.
    #[command(subcommand)]
    Cache(commands::cache::Command),
    /// Append an Ed25519 signature to an artifact, for `kiln run --trusted-key`.
    Sign(commands::sign::Args),
    /// Generate an Ed25519 key pair for `kiln sign` (KEY) and `kiln run --trusted-key` (KEY.pub).
    Keygen(commands::keygen::Args),
    /// Disassemble an artifact's functions (any target), noting trap sites and wasm offsets.
    Disasm(commands::disasm::Args),
    /// Write an HTML page with a module's wasm text beside its machine code, linked by the
    /// address map, with function sizes and the artifact's sections.
    Explore(commands::explore::Args),
    /// Run WebAssembly spec-test scripts (.wast) through real artifacts and the loader.
    Wast {
        /// The .wast files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print a JSON report with per-file counts.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        features: commands::compile::FeatureArgs,
    },
}

fn main() -> ExitCode {
    // A reader that stops early (`kiln inspect … | head`) ends the program quietly, as with any
    // command-line tool, instead of making every print fail.
    sigpipe::reset();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile(args) => commands::compile::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Disasm(args) => commands::disasm::run(args),
        Command::Explore(args) => commands::explore::run(args),
        Command::Cache(command) => commands::cache::run(command),
        Command::Sign(args) => commands::sign::run(args),
        Command::Keygen(args) => commands::keygen::run(args),
        Command::Wast {
            files,
            json,
            features,
        } => features
            .features()
            .and_then(|features| wast_runner::run_files(&files, json, features))
            .map(|ok| {
                if ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
