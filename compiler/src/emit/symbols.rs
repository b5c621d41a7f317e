//! Symbols for tools: every function by its name-section name (or `wasm_func_N`), and every
//! trampoline by its type, so that `objdump`, `perf` and `gdb` show guest code by name.

use super::text::TextLayout;
use crate::codegen::CompiledModule;
use crate::parse::ModuleInfo;
use kiln_format::writer::Symbol;

/// The ELF symbol table: one symbol per function and trampoline (SPEC.md §1).
pub(super) fn symbols(
    module: &ModuleInfo,
    compiled: &CompiledModule,
    layout: &TextLayout,
) -> Vec<Symbol> {
    let mut syms = Vec::new();
    for (i, (c, &offset)) in compiled.funcs.iter().zip(&layout.funcs).enumerate() {
        let index = module.defined_func_index(i);
        let name = match module.display_name(index) {
            // ELF symbol names end at a NUL; wasm names may contain one.
            Some(n) => n.replace('\0', "\\0"),
            None => format!("wasm_func_{index}"),
        };
        syms.push(Symbol {
            name: name.into_bytes(),
            offset,
            size: c.code.len() as u32,
        });
    }
    for ((t, c), (_, offset)) in compiled
        .entry_trampolines
        .iter()
        .zip(&layout.entry_trampolines)
    {
        syms.push(Symbol {
            name: format!("kiln_entry_trampoline_type{t}").into_bytes(),
            offset: *offset,
            size: c.code.len() as u32,
        });
    }
    for ((t, c), (_, offset)) in compiled.host_adapters.iter().zip(&layout.host_adapters) {
        syms.push(Symbol {
            name: format!("kiln_host_adapter_type{t}").into_bytes(),
            offset: *offset,
            size: c.code.len() as u32,
        });
    }
    for ((builtin, c), offset) in compiled.builtin_stubs.iter().zip(&layout.builtin_stubs) {
        syms.push(Symbol {
            name: format!("kiln_builtin_stub_{}", builtin.name()).into_bytes(),
            offset: *offset,
            size: c.code.len() as u32,
        });
    }
    syms
}
