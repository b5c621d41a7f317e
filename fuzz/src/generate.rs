//! Generated WebAssembly modules: `wasm-smith` configured for exactly the features Kiln compiles
//! (WebAssembly 2.0: SIMD, bulk memory, reference types, multi-value, multiple tables, sign
//! extension, saturating conversions; of 3.0: tail calls, extended constants, multiple memories,
//! and relaxed SIMD where the target allows it), sized so that one case runs in milliseconds.

use arbitrary::{Result, Unstructured};
use wasm_smith::{Config, Module};

/// How a generated module is shaped beyond its features.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Insert NaN canonicalization after every float operation, so that results, globals and
    /// memory can be compared bit for bit (the spec lets a NaN's payload differ between engines).
    pub canonical_nans: bool,
    /// Export every function, global, memory and table, so that all state can be compared.
    pub export_everything: bool,
    /// Allow imports (satisfied by the host: the differential target allows none).
    pub imports: bool,
    /// Allow relaxed SIMD, whose results the spec lets engines choose: not where Kiln is
    /// compared with another engine, only where it is compared with itself.
    pub relaxed_simd: bool,
}

/// The `wasm-smith` configuration for `shape`, with sizes drawn from `u` (swarm testing: each
/// case weighs the module's parts differently).
pub fn config(u: &mut Unstructured<'_>, shape: Shape) -> Result<Config> {
    Ok(Config {
        // As `kiln_compiler::WasmFeatures::ALL`; everything newer off.
        simd_enabled: true,
        relaxed_simd_enabled: shape.relaxed_simd,
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        tail_call_enabled: true,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: true,
        custom_page_sizes_enabled: false,
        custom_descriptors_enabled: false,
        compact_imports_enabled: false,
        max_memories: u.int_in_range(1..=3)?,
        max_tables: u.int_in_range(0..=3)?,
        canonicalize_nans: shape.canonical_nans,
        export_everything: shape.export_everything,
        max_imports: if shape.imports { 10 } else { 0 },
        // Small enough that a case stays fast: 16 MiB of memory, 10,000 table entries.
        max_memory32_bytes: 16 << 20,
        max_table_elements: 10_000,
        max_funcs: u.int_in_range(1..=40)?,
        min_funcs: 1,
        max_instructions: u.int_in_range(10..=400)?,
        max_globals: u.int_in_range(0..=20)?,
        max_data_segments: u.int_in_range(0..=10)?,
        max_element_segments: u.int_in_range(0..=10)?,
        max_elements: 100,
        max_types: 40,
        max_nesting_depth: u.int_in_range(1..=12)?,
        max_exports: 100,
        generate_custom_sections: u.arbitrary()?,
        ..Config::default()
    })
}

/// A valid module of `shape` generated from `u`.
pub fn module(u: &mut Unstructured<'_>, shape: Shape) -> Result<Vec<u8>> {
    let config = config(u, shape)?;
    Ok(Module::new(config, u)?.to_bytes())
}
