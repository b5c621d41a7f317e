//! Translation of one WebAssembly function body into Cranelift IR.
//!
//! [`translate_function`] walks the body's operators once (see `translator`), keeping
//! WebAssembly's operand stack as SSA values and its structured control flow as Cranelift blocks
//! (`state`, `ops_control`). Everything outside the function is reached through the VMContext
//! (`env`), following the ABI in `kiln_format::vmctx`. The other `ops_*` modules translate one
//! family of operators each; `fuel` and `epoch` add the optional fuel metering and epoch
//! interruption.

mod env;
mod epoch;
mod fuel;
mod ops_call;
mod ops_control;
mod ops_exceptions;
mod ops_memory;
mod ops_numeric;
mod ops_simd;
mod ops_simd_memory;
mod ops_simd_relaxed;
mod ops_table;
mod ops_variable;
mod state;
mod translator;

pub(crate) use env::builtin_signature;
pub use env::target_has_simd;
pub use ops_exceptions::decode_handler_tag;

use crate::error::CompileError;
use crate::options::CompileOptions;
use crate::parse::ModuleInfo;
use cranelift_codegen::ir::{self, AbiParam, ArgumentPurpose};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use wasmparser::{FuncType, FunctionBody, ValType};

/// The calling convention of every WebAssembly function (Cranelift's `tail`, for tail calls later).
///
/// It returns only a few values in registers (two per register class on riscv64, eight integers
/// on x86_64), so multi-value functions need the ISA's shared flag
/// `enable_multi_ret_implicit_sret` set: Cranelift then returns the rest through a hidden return
/// area, identically in callers and callees.
pub const WASM_CALL_CONV: CallConv = CallConv::Tail;

/// The Cranelift type of a WebAssembly value type.
pub fn ir_type(ty: ValType) -> ir::Type {
    match ty {
        ValType::I32 => ir::types::I32,
        ValType::I64 => ir::types::I64,
        ValType::F32 => ir::types::F32,
        ValType::F64 => ir::types::F64,
        ValType::V128 => ir::types::I8X16,
        ValType::Ref(_) => ir::types::I64,
    }
}

/// The native signature of a WebAssembly function of type `ty`:
/// `(callee_vmctx: i64, caller_vmctx: i64, params...) -> results`.
pub fn wasm_signature(ty: &FuncType) -> ir::Signature {
    let mut sig = ir::Signature::new(WASM_CALL_CONV);
    sig.params.push(AbiParam::special(
        ir::types::I64,
        ArgumentPurpose::VMContext,
    ));
    sig.params.push(AbiParam::new(ir::types::I64));
    sig.params
        .extend(ty.params().iter().map(|t| AbiParam::new(ir_type(*t))));
    sig.returns
        .extend(ty.results().iter().map(|t| AbiParam::new(ir_type(*t))));
    sig
}

/// Translates defined function `func_index` into `func`, whose signature is already
/// [`wasm_signature`] of its type. Of `options`, only [`CompileOptions::fuel`] and
/// [`CompileOptions::epoch_interruption`] matter here; with both off the code is exactly that of
/// an uninstrumented function.
///
/// `body` must have been validated (as [`ModuleInfo::parse`] does); operators outside
/// WebAssembly 2.0, and SIMD operators on riscv64 without the V extension, are reported as
/// [`CompileError::Unsupported`].
pub fn translate_function(
    module: &ModuleInfo,
    isa: &dyn TargetIsa,
    options: &CompileOptions,
    func_index: u32,
    body: &FunctionBody,
    func: &mut ir::Function,
) -> Result<(), CompileError> {
    translator::translate(module, isa, options, func_index, body, func)
}
