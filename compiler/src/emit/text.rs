//! The text region: every defined function in index order, then the entry trampolines, the host
//! adapters and the builtin stubs; calls between functions, and to the stubs, resolved here, at
//! compile time (SPEC.md §4).

use crate::codegen::{CallTarget, CompiledCode, CompiledModule};
use crate::error::CompileError;
use crate::parse::ModuleInfo;
use cranelift_codegen::control::ControlPlane;
use kiln_format::EntityIndex;

/// Where each piece of code landed in the text region.
pub(super) struct TextLayout {
    pub text: Vec<u8>,
    /// Offset of each defined function.
    pub funcs: Vec<u32>,
    /// `(type index, offset)` of each function type's entry trampoline.
    pub entry_trampolines: Vec<(u32, u32)>,
    /// `(type index, offset)` of each host adapter.
    pub host_adapters: Vec<(u32, u32)>,
    /// Offset of each builtin stub, in the order of `CompiledModule::builtin_stubs`.
    pub builtin_stubs: Vec<u32>,
}

/// The minimum alignment of every function in `.text`: a cache line.
const FUNCTION_ALIGN: u32 = 64;

/// Lays out every function and trampoline in `.text` and resolves the calls between functions.
pub(super) fn lay_out_text(
    module: &ModuleInfo,
    compiled: &CompiledModule,
) -> Result<TextLayout, CompileError> {
    let isa = &*compiled.isa;
    // Labels: the functions by defined index, then the builtin stubs (the targets of calls).
    let labels = compiled.funcs.len() + compiled.builtin_stubs.len();
    let mut builder = isa.text_section_builder(labels);
    let mut ctrl = ControlPlane::default();
    // Functions start on a cache line, so where a function's loops fall relative to fetch
    // blocks depends on that function alone, not on the sizes of the functions before it.
    // Cranelift does not align loop headers, and on x86_64 the same inner loop measured 11 to
    // 18 ms depending on its offset modulo 64 (benches/README.md, "Code placement").
    let min_align = isa.function_alignment().preferred.max(FUNCTION_ALIGN);
    let mut append = |labeled: bool, c: &CompiledCode, ctrl: &mut ControlPlane| {
        builder.append(labeled, &c.code, c.alignment.max(min_align), ctrl) as u32
    };
    let funcs: Vec<u32> = compiled
        .funcs
        .iter()
        .map(|c| append(true, c, &mut ctrl))
        .collect();
    let entry_trampolines = compiled
        .entry_trampolines
        .iter()
        .map(|(t, c)| (*t, append(false, c, &mut ctrl)))
        .collect();
    let host_adapters = compiled
        .host_adapters
        .iter()
        .map(|(t, c)| (*t, append(false, c, &mut ctrl)))
        .collect();
    let builtin_stubs = compiled
        .builtin_stubs
        .iter()
        .map(|(_, c)| append(true, c, &mut ctrl))
        .collect();
    let stub_label = |builtin: u32| {
        compiled
            .builtin_stubs
            .iter()
            .position(|(b, _)| b.index() == builtin)
            .map(|k| compiled.funcs.len() + k)
    };
    for (i, (c, &offset)) in compiled.funcs.iter().zip(&funcs).enumerate() {
        let func = module.defined_func_index(i);
        for r in &c.relocs {
            let label = match r.callee {
                CallTarget::Func(callee) => match module.func_index(callee) {
                    EntityIndex::Defined(target) => target as usize,
                    EntityIndex::Imported(_) => {
                        return Err(CompileError::Relocation {
                            func,
                            what: format!("direct call to imported function {callee}"),
                        })
                    }
                },
                CallTarget::BuiltinStub(builtin) => {
                    stub_label(builtin).ok_or_else(|| CompileError::Relocation {
                        func,
                        what: format!("call to builtin {builtin}, which has no stub"),
                    })?
                }
            };
            let at = u64::from(offset) + u64::from(r.offset);
            if !builder.resolve_reloc(at, r.kind, r.addend, label) {
                return Err(CompileError::Relocation {
                    func,
                    what: format!("{:?} cannot be resolved by the text builder", r.kind),
                });
            }
        }
    }
    let text = builder.finish(&mut ctrl);
    u32::try_from(text.len()).map_err(|_| CompileError::Emit("text exceeds 4 GiB".into()))?;
    Ok(TextLayout {
        text,
        funcs,
        entry_trampolines,
        host_adapters,
        builtin_stubs,
    })
}
