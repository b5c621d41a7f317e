//! Kiln's fuzz targets, each a function from arbitrary bytes to "no bug found" or a [`Finding`]:
//!
//! - [`targets::diff`]: differential execution of generated modules against `wasmi`;
//! - [`targets::compile`]: arbitrary and mutated modules into the compiler, deterministic output,
//!   and `-O none` against `-O speed`;
//! - [`targets::artifact`]: damaged artifacts through the loader's default path and `kiln run`'s;
//! - [`targets::wasi`]: generated sequences of WASI calls inside a preopened directory.
//!
//! The same functions run under libFuzzer (`fuzz/libfuzzer`, `cargo +nightly fuzz run`) and under
//! the stable driver (`cargo run --release -p kiln-fuzz -- TARGET`), which makes each case's input
//! from a seed and the case number, so that a seed and a number reproduce any failure.
//! `fuzz/README.md` has the figures and the findings.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod arbiter;
mod generate;
mod kiln;
mod oracle;
pub mod targets;
mod values;

pub use targets::Target;

/// A bug a target found: what failed or differed, for a person to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding(String);

impl Finding {
    /// A finding described by `what`.
    pub fn new(what: impl Into<String>) -> Finding {
        Finding(what.into())
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Finding {}

/// The input of case `case` of `seed` for `target`: bytes from a SplitMix64 stream seeded by both,
/// of a length spread over `[0, target.max_input_len()]` (so that every size of module occurs).
pub fn case_input(target: Target, seed: u64, case: u64) -> Vec<u8> {
    let mut state = seed ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (target as u64) << 56;
    let mut next = move || {
        // SplitMix64 (Steele, Lea, Flood 2014): a tiny generator with good statistical quality.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let max = target.max_input_len() as u64;
    let len = (next() % (max + 1)) as usize;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&next().to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// Runs `f` on a thread with a 1 GiB stack (reserved, and touched only as far as used).
///
/// The oracle needs it: wasmi's interpreter dispatches by tail calls that the compiler does not
/// always turn into jumps. In test builds many of them stay calls. In release builds some do too:
/// a generated loop of failing `memory.grow`s recursed through wasmi's `memory_grow` handler past
/// a main thread's 8 MiB within the oracle's fuel (`diff`, seed 3, case 64267, with the 3.0
/// generator), and the worker died of the stack overflow.
pub fn on_large_stack<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("kiln-fuzz cases".into())
            .stack_size(1 << 30)
            .spawn_scoped(scope, f)
            .expect("a thread for the cases")
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Counters of what the cases of this process did, for judging what a run exercised (printed by
/// the driver with `--stats`).
pub mod stats {
    use std::sync::atomic::{AtomicU64, Ordering};

    /// The case this process runs now (set by the driver's worker), for logs that must name it.
    pub static CURRENT_CASE: AtomicU64 = AtomicU64::new(u64::MAX);

    /// A named counter.
    pub struct Counter {
        name: &'static str,
        value: AtomicU64,
    }

    impl Counter {
        const fn new(name: &'static str) -> Counter {
            Counter {
                name,
                value: AtomicU64::new(0),
            }
        }

        /// Adds one.
        pub fn bump(&self) {
            self.value.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Modules generated and compiled.
    pub static MODULES: Counter = Counter::new("modules compiled");
    /// Modules instantiated by both engines.
    pub static INSTANTIATED: Counter = Counter::new("instantiated by both");
    /// Calls whose outcomes were compared.
    pub static CALLS: Counter = Counter::new("calls compared");
    /// Calls that trapped in both.
    pub static TRAPS: Counter = Counter::new("of which trapped");
    /// Comparisons stopped (fuel or stack).
    pub static STOPPED: Counter = Counter::new("comparisons stopped early");
    /// Disagreements Wasmtime settled for Kiln: the oracle erred.
    pub static ORACLE_ERRORS: Counter = Counter::new("oracle errors (Wasmtime sided with Kiln)");
    /// Calls or instantiations in which the oracle panicked (its bug; the comparison stops).
    pub static ORACLE_PANICS: Counter = Counter::new("oracle panics");
    /// Inputs a target refused (not enough entropy, or invalid for its purpose).
    pub static REFUSED: Counter = Counter::new("inputs skipped");
    /// Damaged artifacts refused with an error.
    pub static ERRORS: Counter = Counter::new("refused with an error");
    /// Damaged artifacts accepted and run.
    pub static ACCEPTED: Counter = Counter::new("accepted");

    /// Every counter, `name: value`, the non-zero ones.
    pub fn summary() -> String {
        [
            &MODULES,
            &INSTANTIATED,
            &CALLS,
            &TRAPS,
            &STOPPED,
            &ORACLE_ERRORS,
            &ORACLE_PANICS,
            &REFUSED,
            &ERRORS,
            &ACCEPTED,
        ]
        .iter()
        .filter(|c| c.value.load(Ordering::Relaxed) > 0)
        .map(|c| format!("{}: {}", c.name, c.value.load(Ordering::Relaxed)))
        .collect::<Vec<_>>()
        .join(", ")
    }
}
