//! Code generation: the target ISA, parallel compilation of every function, and the trampolines
//! between the host's calling convention and WebAssembly's.

use crate::error::CompileError;
use crate::options::CompileOptions;
use crate::parse::ModuleInfo;
use crate::translate::{ir_type, translate_function, wasm_signature};
use crate::trap_codes::{trap_code, trap_kind};
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    self, AbiParam, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, UserFuncName,
};
use cranelift_codegen::isa::{self, OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{Context, FinalizedRelocTarget};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use kiln_format::builtins::BuiltinResult;
use kiln_format::target::features_of;
use kiln_format::vmctx::{
    DISPATCH_EXCEPTION, HOSTCTX_DISPATCH, PTR, VALUE_SLOT_SIZE, VMCTX_BUILTINS,
};
use kiln_format::{Arch, Builtin, TrapKind};
use rayon::prelude::*;
use wasmparser::FuncType;

/// A call from one function to other code of the text region, to resolve at layout time.
#[derive(Debug, Clone)]
pub struct CallReloc {
    /// Offset of the relocated bytes in the calling function.
    pub offset: u32,
    /// Cranelift's relocation kind.
    pub kind: cranelift_codegen::binemit::Reloc,
    /// Addend.
    pub addend: i64,
    /// What is called.
    pub callee: CallTarget,
}

/// The callee of a direct call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallTarget {
    /// A defined function, by function index (user name namespace 0).
    Func(u32),
    /// The preserve-all stub of a builtin, by builtin index (namespace [`BUILTIN_STUB_NAMESPACE`]).
    BuiltinStub(u32),
}

/// The user-name namespace of builtin stubs (0: functions, 1: entry trampolines, 2: host
/// adapters).
pub const BUILTIN_STUB_NAMESPACE: u32 = 3;

/// The machine code of one function or trampoline.
#[derive(Debug, Clone)]
pub struct CompiledCode {
    /// The bytes.
    pub code: Vec<u8>,
    /// Required alignment.
    pub alignment: u32,
    /// Calls to resolve.
    pub relocs: Vec<CallReloc>,
    /// Trapping instructions: offset in this code and kind.
    pub traps: Vec<(u32, TrapKind)>,
    /// Native offset → wasm offset, one entry per instruction range start.
    pub address_map: Vec<(u32, u32)>,
    /// System V unwind information, when unwind tables were requested.
    pub unwind: Option<cranelift_codegen::isa::unwind::UnwindInfo>,
    /// Calls with exception handlers, by return address.
    pub call_sites: Vec<CallSite>,
}

/// A call inside a `try_table`, for the artifact's `CallSites` and `Handlers` tables.
#[derive(Debug, Clone)]
pub struct CallSite {
    /// Offset of the return address in this code.
    pub ret_offset: u32,
    /// Frame pointer minus stack pointer at the call.
    pub frame_offset: u32,
    /// Where the caller's VMContext is saved, from that stack pointer.
    pub vmctx_sp_offset: u32,
    /// `(tag, flags, landing pad offset in this code)` per handler, in match order.
    pub handlers: Vec<(u32, u8, u32)>,
}

/// The result of code generation for a module.
pub struct CompiledModule {
    /// The ISA everything was compiled for.
    pub isa: OwnedTargetIsa,
    /// The target architecture.
    pub arch: Arch,
    /// CPU features the code requires (header mask).
    pub cpu_features: u64,
    /// Defined functions, in index order.
    pub funcs: Vec<CompiledCode>,
    /// Host-to-guest entry trampolines, `(type index, code)` for each function type.
    pub entry_trampolines: Vec<(u32, CompiledCode)>,
    /// Guest-to-host adapters, `(type index, code)` for each type of an imported function.
    pub host_adapters: Vec<(u32, CompiledCode)>,
    /// Preserve-all stubs of the builtins that code calls on cold paths (see
    /// [`cold_builtins`]), in that order.
    pub builtin_stubs: Vec<(Builtin, CompiledCode)>,
}

/// The builtins that `options`' code calls on cold paths of hot code, through a stub in the
/// `PreserveAll` calling convention (see [`builtin_stub`]): today only `epoch_interrupt`, called
/// from the check at every loop header. Each must have a status result.
pub fn cold_builtins(options: &CompileOptions) -> Vec<Builtin> {
    if options.epoch_interruption {
        vec![Builtin::epoch_interrupt()]
    } else {
        Vec::new()
    }
}

/// Compiles every function of `module` and the trampolines it needs.
pub fn compile_module(
    module: &ModuleInfo,
    options: &CompileOptions,
) -> Result<CompiledModule, CompileError> {
    let (isa, arch, cpu_features) = build_isa(options)?;
    let isa_ref: &dyn TargetIsa = &*isa;
    let uses_v128 = module.types.iter().filter_map(|t| t.as_func()).any(|t| {
        t.params()
            .iter()
            .chain(t.results())
            .any(|v| *v == wasmparser::ValType::V128)
    });
    if uses_v128 && !crate::translate::target_has_simd(isa_ref) {
        return Err(CompileError::Unsupported(format!(
            "v128 values on {} without a vector extension",
            arch.triple()
        )));
    }
    let funcs = on_compile_threads(options.threads, || {
        module
            .bodies
            .par_iter()
            .enumerate()
            .map(|(i, body)| {
                let index = module.defined_func_index(i);
                let mut func = ir::Function::with_name_signature(
                    UserFuncName::user(0, index),
                    wasm_signature(module.func_type(index)),
                );
                translate_function(module, isa_ref, options, index, body, &mut func)?;
                compile_function(isa_ref, index, func, options.unwind_info)
            })
            // Collecting into a Result keeps the first error by index: deterministic.
            .collect::<Result<Vec<_>, _>>()
    })??;
    if !arch_resumes_exceptions(arch) && funcs.iter().any(|f| !f.call_sites.is_empty()) {
        return Err(CompileError::Unsupported(format!(
            "exception handlers (try_table) on {}: the loader resumes at landing pads on x86_64 \
             and aarch64 only",
            arch.triple()
        )));
    }
    let entry_trampolines = module
        .types
        .iter()
        .enumerate()
        .filter_map(|(i, ty)| Some((i, ty.as_func()?)))
        .map(|(i, ty)| {
            let func = entry_trampoline(isa_ref, i, ty);
            Ok::<_, CompileError>((
                i as u32,
                compile_function(isa_ref, u32::MAX, func, options.unwind_info)?,
            ))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut adapter_types: Vec<u32> = module.funcs[..module.imported_funcs as usize].to_vec();
    adapter_types.sort_unstable();
    adapter_types.dedup();
    let host_adapters = adapter_types
        .into_iter()
        .map(|t| {
            let func = host_adapter(isa_ref, t, module.func_type_at(t));
            Ok((
                t,
                compile_function(isa_ref, u32::MAX, func, options.unwind_info)?,
            ))
        })
        .collect::<Result<Vec<_>, CompileError>>()?;
    let builtin_stubs = cold_builtins(options)
        .into_iter()
        .map(|builtin| {
            let func = builtin_stub(isa_ref, builtin);
            Ok((
                builtin,
                compile_function(isa_ref, u32::MAX, func, options.unwind_info)?,
            ))
        })
        .collect::<Result<Vec<_>, CompileError>>()?;
    Ok(CompiledModule {
        isa,
        arch,
        cpu_features,
        funcs,
        entry_trampolines,
        host_adapters,
        builtin_stubs,
    })
}

/// Runs `work` on the compile threads: a new pool of `threads` threads (all cores for `None`), or,
/// when no count is asked for and the caller already runs in a rayon pool, that pool. A batch of
/// modules compiled in one pool (`kiln compile -d`) then shares its threads between and within
/// modules instead of starting a pool per module, which would run cores × modules threads.
fn on_compile_threads<R: Send>(
    threads: Option<usize>,
    work: impl FnOnce() -> R + Send,
) -> Result<R, CompileError> {
    if threads.is_none() && rayon::current_thread_index().is_some() {
        return Ok(work());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| CompileError::Emit(format!("cannot start compile threads: {e}")))?;
    Ok(pool.install(work))
}

/// Whether the loader can resume at a landing pad in code of `arch` (its resume stub and frame
/// walk exist for these). Elsewhere a module may throw, but not catch.
fn arch_resumes_exceptions(arch: Arch) -> bool {
    matches!(arch, Arch::X86_64 | Arch::Aarch64)
}

/// Compiles one Cranelift function and extracts what the emitter needs. `index` names the function
/// in errors (`u32::MAX` for trampolines).
fn compile_function(
    isa: &dyn TargetIsa,
    index: u32,
    func: ir::Function,
    unwind_info: bool,
) -> Result<CompiledCode, CompileError> {
    let names = func.params.user_named_funcs().clone();
    let mut ctx = Context::for_function(func);
    let compiled = ctx
        .compile(isa, &mut ControlPlane::default())
        .map_err(|e| CompileError::Codegen {
            func: index,
            message: format!("{:?}", e.inner),
        })?;
    let buffer = &compiled.buffer;
    let mut relocs = Vec::new();
    for r in buffer.relocs() {
        match &r.target {
            FinalizedRelocTarget::ExternalName(ir::ExternalName::User(name_ref)) => {
                let name = &names[*name_ref];
                let callee = match name.namespace {
                    0 => CallTarget::Func(name.index),
                    BUILTIN_STUB_NAMESPACE => CallTarget::BuiltinStub(name.index),
                    other => {
                        return Err(CompileError::Relocation {
                            func: index,
                            what: format!("{:?} to namespace {other}", r.kind),
                        })
                    }
                };
                relocs.push(CallReloc {
                    offset: r.offset,
                    kind: r.kind,
                    addend: r.addend,
                    callee,
                });
            }
            other => {
                return Err(CompileError::Relocation {
                    func: index,
                    what: format!("{:?} to {:?}", r.kind, other),
                })
            }
        }
    }
    let traps = buffer
        .traps()
        .iter()
        .map(|t| {
            let kind = trap_kind(t.code).ok_or_else(|| CompileError::Codegen {
                func: index,
                message: format!("unknown trap code {}", t.code),
            })?;
            Ok((t.offset, kind))
        })
        .collect::<Result<Vec<_>, CompileError>>()?;
    let address_map = buffer
        .get_srclocs_sorted()
        .iter()
        .filter(|s| !s.loc.is_default())
        .map(|s| (s.start, s.loc.bits()))
        .collect();
    let call_sites = call_sites(buffer, index)?;
    let unwind = if unwind_info {
        compiled
            .create_unwind_info(isa)
            .map_err(|e| CompileError::Codegen {
                func: index,
                message: format!("unwind info: {e:?}"),
            })?
    } else {
        None
    };
    Ok(CompiledCode {
        code: buffer.data().to_vec(),
        alignment: buffer.alignment,
        relocs,
        traps,
        address_map,
        unwind,
        call_sites,
    })
}

/// The call sites of `buffer` that have exception handlers (see `translate::ops_exceptions`).
fn call_sites(
    buffer: &cranelift_codegen::MachBufferFinalized<cranelift_codegen::Final>,
    index: u32,
) -> Result<Vec<CallSite>, CompileError> {
    use cranelift_codegen::{ExceptionContextLoc, FinalizedMachExceptionHandler as Handler};
    let unsupported = |what: &str| CompileError::Codegen {
        func: index,
        message: format!("exception handlers: {what}"),
    };
    let mut sites = Vec::new();
    for site in buffer.call_sites() {
        if site.exception_handlers.is_empty() {
            continue;
        }
        let frame_offset = site
            .frame_offset
            .ok_or_else(|| unsupported("the target gives no frame offset"))?;
        let mut vmctx_sp_offset = None;
        let mut handlers = Vec::new();
        for h in site.exception_handlers {
            match *h {
                Handler::Context(ExceptionContextLoc::SPOffset(off)) => vmctx_sp_offset = Some(off),
                Handler::Context(ExceptionContextLoc::GPR(_)) => {
                    return Err(unsupported("the VMContext is kept in a register"))
                }
                Handler::Tag(tag, offset) => {
                    let (tag, flags) = crate::translate::decode_handler_tag(tag.as_u32());
                    handlers.push((tag, flags, offset));
                }
                Handler::Default(_) => return Err(unsupported("a default handler")),
            }
        }
        sites.push(CallSite {
            ret_offset: site.ret_addr,
            frame_offset,
            vmctx_sp_offset: vmctx_sp_offset.ok_or_else(|| unsupported("no VMContext location"))?,
            handlers,
        });
    }
    Ok(sites)
}

/// Builds the ISA for the options: this machine with all its features, or a named target with its
/// baseline features. Returns the ISA, its architecture and the header's CPU-feature mask.
pub fn build_isa(options: &CompileOptions) -> Result<(OwnedTargetIsa, Arch, u64), CompileError> {
    let mut shared = settings::builder();
    set(&mut shared, "opt_level", options.opt_level.cranelift_name())?;
    set(&mut shared, "preserve_frame_pointers", "true")?;
    set(&mut shared, "enable_probestack", "false")?;
    // Functions with more results than return registers return the rest through a hidden area.
    set(&mut shared, "enable_multi_ret_implicit_sret", "true")?;
    set(&mut shared, "is_pic", "true")?;
    set(
        &mut shared,
        "enable_verifier",
        if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        },
    )?;
    set(
        &mut shared,
        "unwind_info",
        if options.unwind_info { "true" } else { "false" },
    )?;
    // Only Kiln's translator reads it (Cranelift does not): explicit bounds checks of 64-bit
    // memories select a null address when out of bounds instead of branching (Wasmtime's
    // default; see `translate::ops_memory`). 32-bit memories have no such check to guard.
    set(&mut shared, "enable_heap_access_spectre_mitigation", "true")?;
    // Off, as before: it would change aarch64 jump tables (`br_table`) of existing code. Table
    // bounds checks, of 32- and 64-bit tables alike, are branches the translator emits.
    set(
        &mut shared,
        "enable_table_access_spectre_mitigation",
        "false",
    )?;
    let flags = settings::Flags::new(shared);

    let (arch, mut builder) = match options.target {
        None => {
            let arch = Arch::host()
                .ok_or_else(|| CompileError::Target("this machine's architecture".into()))?;
            let b = cranelift_native::builder().map_err(|e| CompileError::Target(e.into()))?;
            (arch, b)
        }
        Some(arch) => {
            let triple: target_lexicon::Triple = arch
                .triple()
                .parse()
                .map_err(|e| CompileError::Target(format!("{}: {e}", arch.triple())))?;
            let mut b = isa::lookup(triple).map_err(|e| CompileError::Target(e.to_string()))?;
            for feature in baseline_features(arch) {
                b.enable(feature)
                    .map_err(|e| CompileError::Target(format!("{feature}: {e}")))?;
            }
            (arch, b)
        }
    };
    // Only features the header can record may be enabled: code must never use a feature the
    // loader does not check for. Disable any other `has_*` setting the native builder turned on.
    let probe = builder
        .finish(flags.clone())
        .map_err(|e| CompileError::Target(e.to_string()))?;
    let mut mask = 0u64;
    for value in probe.isa_flags() {
        let Some(name) = value.name.strip_prefix("has_") else {
            continue;
        };
        if value.as_bool() != Some(true) {
            continue;
        }
        match feature_bit(arch, name) {
            Some(bit) => mask |= 1 << bit,
            None if arch == Arch::Riscv64 || arch == Arch::S390x => {}
            None => set(&mut builder, value.name, "false")?,
        }
    }
    if arch == Arch::X86_64 && feature_bit(arch, "sse41").is_some_and(|b| mask & (1 << b) == 0) {
        return Err(CompileError::Target(
            "x86_64 code generation needs SSE4.1 (float rounding without libcalls)".into(),
        ));
    }
    let isa = builder
        .finish(flags)
        .map_err(|e| CompileError::Target(e.to_string()))?;
    Ok((isa, arch, mask))
}

/// Features an explicit target assumes (Cranelift setting names).
fn baseline_features(arch: Arch) -> &'static [&'static str] {
    match arch {
        // x86-64-v2.
        Arch::X86_64 => &[
            "has_sse3",
            "has_ssse3",
            "has_sse41",
            "has_sse42",
            "has_popcnt",
        ],
        Arch::Aarch64 | Arch::Riscv64 | Arch::S390x => &[],
    }
}

/// The header bit of a Cranelift `has_*` feature name, if the format records it.
fn feature_bit(arch: Arch, cranelift_name: &str) -> Option<u8> {
    let name = match cranelift_name {
        "sse41" => "sse4.1",
        "sse42" => "sse4.2",
        "avx_vnni" => "avxvnni",
        "pauth" => "paca",
        other => other,
    };
    features_of(arch)
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.bit)
}

/// The host-to-guest entry trampoline for type `ty`, in the host's C calling convention:
/// `extern "C" fn(callee_vmctx, caller_vmctx, code, values: *mut [u128])`. It loads the arguments
/// from `values`, calls `code`, and stores the results back into `values`.
fn entry_trampoline(isa: &dyn TargetIsa, type_index: usize, ty: &FuncType) -> ir::Function {
    let ptr = ir::types::I64;
    let mut sig = ir::Signature::new(isa.default_call_conv());
    sig.params.extend([AbiParam::new(ptr); 4]);
    let mut func = ir::Function::with_name_signature(UserFuncName::user(1, type_index as u32), sig);
    let mut fb_ctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut fb_ctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    let [callee_vmctx, caller_vmctx, code, values] = b.block_params(block)[..] else {
        unreachable!("four parameters")
    };
    let flags = MemFlagsData::trusted();
    let mut args = vec![callee_vmctx, caller_vmctx];
    for (i, t) in ty.params().iter().enumerate() {
        let offset = (i as u32 * VALUE_SLOT_SIZE) as i32;
        args.push(b.ins().load(ir_type(*t), flags, values, offset));
    }
    let wasm_sig = b.import_signature(wasm_signature(ty));
    let call = b.ins().call_indirect(wasm_sig, code, &args);
    let results = b.inst_results(call).to_vec();
    for (i, r) in results.into_iter().enumerate() {
        let offset = (i as u32 * VALUE_SLOT_SIZE) as i32;
        b.ins().store(flags, r, values, offset);
    }
    b.ins().return_(&[]);
    b.seal_all_blocks();
    b.finalize(isa.frontend_config());
    func
}

/// The signature of `builtin`'s stub: the builtin's parameters (the caller's VMContext, then its
/// arguments; see `translate::env`) and the address where it stores the builtin's status, no
/// result (`PreserveAll` returns none), in the `PreserveAll` calling convention.
pub fn builtin_stub_signature(isa: &dyn TargetIsa, builtin: Builtin) -> ir::Signature {
    let mut sig = crate::translate::builtin_signature(isa, builtin);
    sig.call_conv = isa::CallConv::PreserveAll;
    sig.returns.clear();
    sig.params.push(AbiParam::new(ir::types::I64));
    sig
}

/// The stub through which code calls `builtin` (a builtin with a status result) on a cold
/// path: in the `PreserveAll` calling convention, it saves every register the builtin (ordinary
/// host code) may clobber, calls it through the VMContext's builtin table, and stores its status
/// where its last argument points; the caller traps on it, as after a direct call.
///
/// Why: a call in the default convention clobbers the caller-saved registers, so every value
/// live across the check at a loop header must sit in a callee-saved register or on the stack —
/// in the hot loop, not just on the cold path (sieve's inner loop reloaded two spilled values
/// per iteration). Through the stub the check clobbers nothing, and the loop keeps its values in
/// any register; the saving costs only when the builtin is actually called.
fn builtin_stub(isa: &dyn TargetIsa, builtin: Builtin) -> ir::Function {
    debug_assert!(matches!(
        builtin.signature().result,
        BuiltinResult::Status(_)
    ));
    let ptr = ir::types::I64;
    let name = UserFuncName::user(BUILTIN_STUB_NAMESPACE, builtin.index());
    let mut func = ir::Function::with_name_signature(name, builtin_stub_signature(isa, builtin));
    let mut fb_ctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut fb_ctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    let params = b.block_params(block).to_vec();
    let (args, status_at) = params.split_at(params.len() - 1);
    let flags = MemFlagsData::trusted().with_readonly();
    let table = b.ins().load(ptr, flags, args[0], VMCTX_BUILTINS as i32);
    let callee = b
        .ins()
        .load(ptr, flags, table, (builtin.index() * PTR) as i32);
    let sig = b.import_signature(crate::translate::builtin_signature(isa, builtin));
    let call = b.ins().call_indirect(sig, callee, args);
    let status = b.inst_results(call)[0];
    b.ins()
        .store(MemFlagsData::trusted(), status, status_at[0], 0);
    b.ins().return_(&[]);
    b.seal_all_blocks();
    b.finalize(isa.frontend_config());
    func
}

/// The guest-to-host adapter for type `ty`, in the WebAssembly calling convention. Its callee
/// VMContext is a host function context: it spills the arguments to a stack array, calls the
/// context's `dispatch` with `(host_ctx, caller_vmctx, values)`, traps with `HostError` if that
/// returns non-zero (or, for `DISPATCH_EXCEPTION`, calls the `throw_pending` builtin, which
/// unwinds the host function's exception into the caller), and otherwise returns the results
/// `dispatch` wrote.
fn host_adapter(isa: &dyn TargetIsa, type_index: u32, ty: &FuncType) -> ir::Function {
    let ptr = ir::types::I64;
    let mut func =
        ir::Function::with_name_signature(UserFuncName::user(2, type_index), wasm_signature(ty));
    let mut fb_ctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut fb_ctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    let params = b.block_params(block).to_vec();
    let (host_ctx, caller_vmctx) = (params[0], params[1]);
    let slots = ty.params().len().max(ty.results().len()).max(1) as u32;
    let slot = b.create_sized_stack_slot(StackSlotData::new(
        StackSlotKind::ExplicitSlot,
        slots * VALUE_SLOT_SIZE,
        4,
    ));
    for (i, v) in params[2..].iter().enumerate() {
        b.ins()
            .stack_store(ptr, *v, slot, (i as u32 * VALUE_SLOT_SIZE) as i32);
    }
    let values = b.ins().stack_addr(ptr, slot, 0);
    let dispatch = b.ins().load(
        ptr,
        MemFlagsData::trusted(),
        host_ctx,
        HOSTCTX_DISPATCH as i32,
    );
    let mut dispatch_sig = ir::Signature::new(isa.default_call_conv());
    dispatch_sig.params.extend([AbiParam::new(ptr); 3]);
    dispatch_sig.returns.push(AbiParam::new(ir::types::I32));
    let dispatch_sig = b.import_signature(dispatch_sig);
    let call = b
        .ins()
        .call_indirect(dispatch_sig, dispatch, &[host_ctx, caller_vmctx, values]);
    let status = b.inst_results(call)[0];
    // Why one branch on the fast path: a failed call is rare; only then is it told apart from
    // an exception the host function threw.
    let failed = b.create_block();
    let done = b.create_block();
    b.ins().brif(status, failed, &[], done, &[]);
    b.switch_to_block(failed);
    let threw = b
        .ins()
        .icmp_imm_u(IntCC::Equal, status, i64::from(DISPATCH_EXCEPTION));
    b.ins().trapz(threw, trap_code(TrapKind::HostError));
    // Without a calling instance (the host called the adapter) the loader reports the
    // exception as the call's outcome; with one, `throw_pending` unwinds it into the caller.
    b.ins().trapz(caller_vmctx, trap_code(TrapKind::HostError));
    let builtin = Builtin::throw_pending();
    let mut pending_sig = ir::Signature::new(isa.default_call_conv());
    pending_sig.params.push(AbiParam::new(ptr));
    pending_sig.returns.push(AbiParam::new(ir::types::I32));
    let pending_sig = b.import_signature(pending_sig);
    let flags = MemFlagsData::trusted().with_readonly();
    let table = b
        .ins()
        .load(ptr, flags, caller_vmctx, VMCTX_BUILTINS as i32);
    let callee = b
        .ins()
        .load(ptr, flags, table, (builtin.index() * PTR) as i32);
    b.ins().call_indirect(pending_sig, callee, &[caller_vmctx]);
    b.ins().trap(trap_code(TrapKind::HostError));
    b.switch_to_block(done);
    let results: Vec<_> = ty
        .results()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            b.ins()
                .stack_load(ptr, ir_type(*t), slot, (i as u32 * VALUE_SLOT_SIZE) as i32)
        })
        .collect();
    b.ins().return_(&results);
    b.seal_all_blocks();
    b.finalize(isa.frontend_config());
    func
}

/// Sets a Cranelift setting, turning its error into a [`CompileError`].
fn set(b: &mut impl Configurable, key: &str, value: &str) -> Result<(), CompileError> {
    b.set(key, value)
        .map_err(|e| CompileError::Target(format!("setting {key}={value}: {e}")))
}
