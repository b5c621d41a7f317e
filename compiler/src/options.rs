//! What the user can choose when compiling.

use kiln_format::Arch;

/// Cranelift optimization level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OptLevel {
    /// No optimization: fastest compile.
    None,
    /// Optimize for speed (the default).
    #[default]
    Speed,
    /// Optimize for speed and size.
    Size,
}

impl OptLevel {
    /// Cranelift's name for the level.
    pub fn cranelift_name(self) -> &'static str {
        match self {
            OptLevel::None => "none",
            OptLevel::Speed => "speed",
            OptLevel::Size => "speed_and_size",
        }
    }

    /// The code stored in the artifact header.
    pub fn header_code(self) -> u8 {
        self as u8
    }
}

/// Options of one compilation. The same wasm and the same options give byte-identical artifacts.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Target architecture; `None` compiles for this machine, using every CPU feature it has.
    /// An explicit target uses that architecture's baseline features (x86-64-v2 for x86_64).
    pub target: Option<Arch>,
    /// Optimization level.
    pub opt_level: OptLevel,
    /// Worker threads for function compilation; `None` uses all cores. Output does not depend on it.
    pub threads: Option<usize>,
    /// Emit `.eh_frame` unwind tables.
    pub unwind_info: bool,
    /// Drop function names and the address map.
    pub strip: bool,
    /// Meter fuel, so that a store's `set_fuel` bounds how much the code runs, as Wasmtime does:
    /// each operator costs 1 except `nop`, `drop`, `block`, `loop`, `else`, `end`, `unreachable`
    /// and `return` (0), each function entry 1 more; the code traps with `OutOfFuel` at function
    /// entries and loop headers once none is left (SPEC.md §6). Recorded in the header.
    pub fuel: bool,
    /// Check the store's epoch deadline at function entries and loop headers, so that a host can
    /// interrupt the code from another thread (SPEC.md §6). Recorded in the header.
    pub epoch_interruption: bool,
}
