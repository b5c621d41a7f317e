//! The targets, and the one list of them.

pub mod artifact;
pub mod compile;
pub mod diff;
pub mod wasi;

use crate::Finding;

/// A fuzz target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Target {
    /// Differential execution against wasmi.
    Diff,
    /// Compiler robustness.
    Compile,
    /// Artifact corruption.
    Artifact,
    /// WASI calls inside a preopen.
    Wasi,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 4] = [
        Target::Diff,
        Target::Compile,
        Target::Artifact,
        Target::Wasi,
    ];

    /// Its name on the command line and in the corpus (`fuzz/corpus/NAME/`).
    pub fn name(self) -> &'static str {
        match self {
            Target::Diff => "diff",
            Target::Compile => "compile",
            Target::Artifact => "artifact",
            Target::Wasi => "wasi",
        }
    }

    /// The most input bytes a case of the stable driver gets: enough entropy for the target's
    /// generators.
    pub fn max_input_len(self) -> usize {
        match self {
            Target::Diff | Target::Compile => 8192,
            Target::Artifact => 512,
            Target::Wasi => 2048,
        }
    }

    /// The WebAssembly module a case of a module-generating target (`diff`) runs, to reproduce a
    /// finding with other tools.
    pub fn module_of(self, data: &[u8]) -> Option<Vec<u8>> {
        match self {
            Target::Diff => diff::module_of(data),
            _ => None,
        }
    }

    /// Runs one case.
    pub fn run(self, data: &[u8]) -> Result<(), Finding> {
        match self {
            Target::Diff => diff::run(data),
            Target::Compile => compile::run(data),
            Target::Artifact => artifact::run(data),
            Target::Wasi => wasi::run(data),
        }
    }
}
