//! The text region: every defined function in index order, then the entry trampolines, then the
//! host adapters; calls between functions resolved here, at compile time (SPEC.md §4).

use crate::codegen::{CompiledCode, CompiledModule};
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
}

/// The minimum alignment of every function in `.text`: a cache line.
const FUNCTION_ALIGN: u32 = 64;

/// Lays out every function and trampoline in `.text` and resolves the calls between functions.
pub(super) fn lay_out_text(
    module: &ModuleInfo,
    compiled: &CompiledModule,
) -> Result<TextLayout, CompileError> {
    let isa = &*compiled.isa;
    let mut builder = isa.text_section_builder(compiled.funcs.len());
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
    for (i, (c, &offset)) in compiled.funcs.iter().zip(&funcs).enumerate() {
        let func = module.defined_func_index(i);
        for r in &c.relocs {
            let EntityIndex::Defined(target) = module.func_index(r.callee) else {
                return Err(CompileError::Relocation {
                    func,
                    what: format!("direct call to imported function {}", r.callee),
                });
            };
            let at = u64::from(offset) + u64::from(r.offset);
            if !builder.resolve_reloc(at, r.kind, r.addend, target as usize) {
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
    })
}
