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

/// The WebAssembly features a compilation accepts beyond WebAssembly 2.0, which is always on: a
/// module that uses one that is off is invalid. The default turns on every feature Kiln compiles;
/// [`WasmFeatures::WASM2`] is WebAssembly 2.0 exactly (its spec tests expect, for example, a
/// second memory to be invalid).
///
/// Named as Wasmtime's `-W` options are, so that `kiln compile -W tail-call=n` reads the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WasmFeatures {
    /// `return_call`, `return_call_indirect` (`tail-call`).
    pub tail_call: bool,
    /// `i32`/`i64` `add`, `sub`, `mul` in constant expressions (`extended-const`).
    pub extended_const: bool,
    /// Relaxed SIMD (`relaxed-simd`); see `translate::ops_simd_relaxed` for the results chosen.
    pub relaxed_simd: bool,
    /// More than one memory (`multi-memory`).
    pub multi_memory: bool,
    /// Typed function references (`function-references`): `(ref null? $t)` types, `call_ref`,
    /// `return_call_ref`, `ref.as_non_null`, `br_on_null`, `br_on_non_null`, table initializers,
    /// and the type system of WebAssembly 3.0 they come with: recursion groups, declared
    /// subtypes, and the heap types of GC in signatures (GC instructions are not compiled yet).
    pub function_references: bool,
    /// 64-bit memories and tables (`memory64`; wasmparser's flag covers both): their accesses
    /// are bounds-checked explicitly (see `translate::ops_memory`).
    pub memory64: bool,
    /// Exception handling in the standard `exnref` form: tags, `throw`, `throw_ref`,
    /// `try_table` (`exceptions`).
    pub exceptions: bool,
}

impl WasmFeatures {
    /// WebAssembly 2.0, nothing newer.
    pub const WASM2: WasmFeatures = WasmFeatures {
        tail_call: false,
        extended_const: false,
        relaxed_simd: false,
        multi_memory: false,
        function_references: false,
        memory64: false,
        exceptions: false,
    };

    /// Every feature Kiln compiles.
    pub const ALL: WasmFeatures = WasmFeatures {
        tail_call: true,
        extended_const: true,
        relaxed_simd: true,
        multi_memory: true,
        function_references: true,
        memory64: true,
        exceptions: true,
    };

    /// Each feature's name (as in Wasmtime's `-W` options) with a mutable reference to its flag.
    fn flags(&mut self) -> [(&'static str, &mut bool); 7] {
        [
            ("tail-call", &mut self.tail_call),
            ("extended-const", &mut self.extended_const),
            ("relaxed-simd", &mut self.relaxed_simd),
            ("multi-memory", &mut self.multi_memory),
            ("function-references", &mut self.function_references),
            ("memory64", &mut self.memory64),
            ("exceptions", &mut self.exceptions),
        ]
    }

    /// The feature names [`WasmFeatures::set`] knows.
    pub fn names() -> Vec<&'static str> {
        let mut all = WasmFeatures::ALL;
        all.flags().map(|(name, _)| name).to_vec()
    }

    /// Turns feature `name` on or off; an error names the known features.
    pub fn set(&mut self, name: &str, on: bool) -> Result<(), String> {
        let flag = self.flags().into_iter().find(|(n, _)| *n == name);
        match flag {
            Some((_, flag)) => {
                *flag = on;
                Ok(())
            }
            None => Err(format!(
                "unknown WebAssembly feature `{name}` (known: {}, or `wasm2` for WebAssembly 2.0 only)",
                WasmFeatures::names().join(", ")
            )),
        }
    }

    /// Applies a list like `tail-call=n,multi-memory` (`=y` is implied) or `wasm2` (every feature
    /// off) to `self`.
    pub fn apply(&mut self, list: &str) -> Result<(), String> {
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item == "wasm2" {
                *self = WasmFeatures::WASM2;
                continue;
            }
            let (name, value) = item.split_once('=').unwrap_or((item, "y"));
            let on = match value {
                "y" | "yes" | "true" => true,
                "n" | "no" | "false" => false,
                _ => return Err(format!("`{item}`: expected `{name}=y` or `{name}=n`")),
            };
            self.set(name, on)?;
        }
        Ok(())
    }

    /// wasmparser's feature set for these features.
    pub fn to_wasmparser(self) -> wasmparser::WasmFeatures {
        use wasmparser::WasmFeatures as W;
        let mut features = W::WASM2;
        features.set(W::TAIL_CALL, self.tail_call);
        features.set(W::EXTENDED_CONST, self.extended_const);
        features.set(W::RELAXED_SIMD, self.relaxed_simd);
        features.set(W::MULTI_MEMORY, self.multi_memory);
        // Why GC too: wasmparser gates recursion groups, declared subtypes and the abstract heap
        // types of 3.0's one type system on its GC flag; Kiln refuses GC instructions when it
        // translates them (`CompileError::Unsupported`), not when it validates.
        features.set(W::FUNCTION_REFERENCES | W::GC, self.function_references);
        features.set(W::MEMORY64, self.memory64);
        features.set(W::EXCEPTIONS, self.exceptions);
        features
    }
}

impl Default for WasmFeatures {
    fn default() -> Self {
        WasmFeatures::ALL
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
    /// Worker threads for function compilation; `None` uses all cores, or the rayon pool the
    /// caller runs in, if it does (so that modules compiled in parallel in one pool share its
    /// threads). Output does not depend on it.
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
    /// Check every access to a 32-bit memory against the memory's current length, as 64-bit
    /// memories always are, instead of relying on a 4 GiB reservation and guard region. The
    /// loader then reserves only the memory's maximum (or its engine's
    /// `memory_reservation`), for hosts with many memories or little address space; the code
    /// is slower (benches/README.md, "explicit bounds checks"). Recorded per memory (SPEC.md §6,
    /// Linear memory).
    pub explicit_bounds_checks: bool,
    /// The WebAssembly features the module may use.
    pub features: WasmFeatures,
}

impl CompileOptions {
    /// The bounds-check strategy (`kiln_format::tables::bounds_check`) of the code of `memory`:
    /// explicit checks for 64-bit memories and under [`CompileOptions::explicit_bounds_checks`],
    /// guard pages otherwise.
    pub fn bounds_check(&self, memory: &wasmparser::MemoryType) -> u8 {
        use kiln_format::tables::bounds_check;
        if memory.memory64 || self.explicit_bounds_checks {
            bounds_check::EXPLICIT
        } else {
            bounds_check::GUARD_PAGES
        }
    }
}
