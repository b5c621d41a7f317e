//! Access to the run-time environment through the VMContext (see `kiln_format::vmctx`): memory,
//! table and global locations, canonical type ids, function references, the store context, builtin
//! calls, and the signatures and callees those need.

use super::wasm_signature;
use crate::options::CompileOptions;
use crate::parse::ModuleInfo;
use crate::trap_codes::trap_code;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    self, types, AbiParam, AliasRegion, AliasRegionData, ExtFuncData, ExternalName, FuncRef,
    InstBuilder, MemFlagsData, SigRef, StackSlot, StackSlotData, StackSlotKind, UserExternalName,
    Value,
};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::FunctionBuilder;
use kiln_format::builtins::{AbiType, BuiltinResult, GROW_HOST_ERROR, STATUS_TRAP};
use kiln_format::vmctx::{
    VmctxLayout, FUNCREF_CODE, FUNCREF_VMCTX, MEMDEF_LENGTH, MEMREF_BASE, MEMREF_DEF, PTR,
    TABLEDEF_BASE, TABLEDEF_LENGTH, VMCTX_BUILTINS, VMCTX_STORE, VMCTX_TYPE_IDS,
};
use kiln_format::TrapKind;
use kiln_format::{Builtin, EntityIndex};
use std::collections::HashMap;

/// Alias-region ids. Why: memory operations in different regions are known not to alias, so a
/// store to linear memory does not force reloading a global or a table length.
const REGION_HEAP: u32 = 0;
const REGION_TABLE: u32 = 1;
const REGION_VMCTX: u32 = 2;
/// The mutable fields of the `VMStoreContext` (fuel, epoch deadline).
const REGION_STORE: u32 = 3;
/// The engine's epoch counter, which is none of the store's or instance's memory.
const REGION_EPOCH: u32 = 4;

/// The environment of the function being translated.
pub struct Env<'m> {
    /// The module.
    pub module: &'m ModuleInfo<'m>,
    /// Its VMContext layout.
    pub layout: VmctxLayout,
    /// The target.
    pub isa: &'m dyn TargetIsa,
    /// The `bounds_check` strategy of each memory's code (`CompileOptions::bounds_check`).
    pub bounds_checks: Vec<u8>,
    /// This function's VMContext (its first parameter).
    pub vmctx: Value,
    /// Whether the target has 128-bit vector registers for `v128` values.
    pub simd_supported: bool,
    heap_region: AliasRegion,
    table_region: AliasRegion,
    vmctx_region: AliasRegion,
    store_region: AliasRegion,
    epoch_region: AliasRegion,
    wasm_sigs: HashMap<u32, SigRef>,
    builtin_sigs: [Option<SigRef>; Builtin::COUNT],
    direct_funcs: HashMap<u32, FuncRef>,
    /// The stub of each builtin called through one, once imported.
    builtin_stubs: [Option<FuncRef>; Builtin::COUNT],
    /// The stack slot where builtin stubs store their status, once created.
    stub_status: Option<StackSlot>,
}

/// Converts a VMContext-relative offset to a Cranelift load/store offset.
pub fn offset32(offset: u32) -> i32 {
    i32::try_from(offset).expect("VMContext offsets fit in i32")
}

/// Whether `isa` can hold `v128` values in vector registers: every target but riscv64 without
/// the V extension (with vectors of at least 128 bits). Cranelift cannot compile `v128` values,
/// even as parameters or results, for the others.
pub fn target_has_simd(isa: &dyn TargetIsa) -> bool {
    if !matches!(
        isa.triple().architecture,
        target_lexicon::Architecture::Riscv64(_)
    ) {
        return true;
    }
    let flags = isa.isa_flags();
    let enabled = |name: &str| {
        flags
            .iter()
            .any(|f| f.name == name && f.as_bool() == Some(true))
    };
    enabled("has_v") && enabled("has_zvl128b")
}

impl<'m> Env<'m> {
    /// An environment for a function whose VMContext parameter is `vmctx`.
    pub fn new(
        module: &'m ModuleInfo<'m>,
        isa: &'m dyn TargetIsa,
        options: &CompileOptions,
        b: &mut FunctionBuilder,
        vmctx: Value,
    ) -> Env<'m> {
        let mut region = |user_id: u32, description: &'static str| {
            b.func.dfg.alias_regions.insert(AliasRegionData {
                user_id,
                description: description.into(),
            })
        };
        let heap_region = region(REGION_HEAP, "heap");
        let table_region = region(REGION_TABLE, "table");
        let vmctx_region = region(REGION_VMCTX, "vmctx");
        let store_region = region(REGION_STORE, "store context");
        let epoch_region = region(REGION_EPOCH, "epoch counter");
        Env {
            module,
            layout: module.vmctx_layout(),
            isa,
            bounds_checks: module
                .memories
                .iter()
                .map(|m| options.bounds_check(m))
                .collect(),
            vmctx,
            simd_supported: target_has_simd(isa),
            heap_region,
            table_region,
            vmctx_region,
            store_region,
            epoch_region,
            wasm_sigs: HashMap::new(),
            builtin_sigs: [None; Builtin::COUNT],
            direct_funcs: HashMap::new(),
            builtin_stubs: [None; Builtin::COUNT],
            stub_status: None,
        }
    }

    /// Flags of every linear-memory access: little-endian (wasm memory is little-endian on every
    /// host), and a fault is an out-of-bounds trap.
    pub fn heap_flags(&self) -> MemFlagsData {
        MemFlagsData::new()
            .with_endianness(ir::Endianness::Little)
            .with_trap_code(Some(trap_code(TrapKind::MemoryOutOfBounds)))
            .with_alias_region(Some(self.heap_region))
    }

    /// Flags of a load of a VMContext field that never changes while the instance lives. Such
    /// loads cannot fault and may be hoisted and deduplicated freely.
    pub fn readonly_flags(&self) -> MemFlagsData {
        MemFlagsData::trusted()
            .with_readonly()
            .with_can_move()
            .with_alias_region(Some(self.vmctx_region))
    }

    /// Flags of an access to mutable run-time state reached through the VMContext (globals,
    /// memory and table lengths).
    pub fn vmctx_flags(&self) -> MemFlagsData {
        MemFlagsData::trusted().with_alias_region(Some(self.vmctx_region))
    }

    /// Flags of an access to a mutable field of the `VMStoreContext` (fuel consumed, epoch
    /// deadline). The host changes them only while generated code is in a call.
    pub fn store_flags(&self) -> MemFlagsData {
        MemFlagsData::trusted().with_alias_region(Some(self.store_region))
    }

    /// Flags of a read of the engine's epoch counter. Other threads increment it at any time, so
    /// the load must stay where it is: never readonly, never merged with an earlier read. (Calls
    /// are memory fences for Cranelift, and every check has a call on its slow path, so no two
    /// checks' reads see the same memory state.)
    pub fn epoch_counter_flags(&self) -> MemFlagsData {
        MemFlagsData::trusted().with_alias_region(Some(self.epoch_region))
    }

    /// Flags of an access to a table element (after its bounds check).
    pub fn table_flags(&self) -> MemFlagsData {
        MemFlagsData::trusted().with_alias_region(Some(self.table_region))
    }

    /// Loads the pointer at `vmctx + offset`, a field fixed at instantiation.
    pub fn load_vmctx_ptr(&self, b: &mut FunctionBuilder, offset: u32) -> Value {
        let flags = self.readonly_flags();
        b.ins()
            .load(types::I64, flags, self.vmctx, offset32(offset))
    }

    /// The address of the store's `VMStoreContext` (constant for the instance's life).
    pub fn store_context(&self, b: &mut FunctionBuilder) -> Value {
        self.load_vmctx_ptr(b, VMCTX_STORE)
    }

    /// The base address of memory `mem` (constant for the instance's life).
    pub fn memory_base(&self, b: &mut FunctionBuilder, mem: u32) -> Value {
        self.load_vmctx_ptr(b, self.layout.memory(mem).offset() + MEMREF_BASE)
    }

    /// The current byte length of memory `mem`, as an i64.
    pub fn memory_length(&self, b: &mut FunctionBuilder, mem: u32) -> Value {
        let def = self.load_vmctx_ptr(b, self.layout.memory(mem).offset() + MEMREF_DEF);
        let flags = self.vmctx_flags();
        b.ins()
            .load(types::I64, flags, def, offset32(MEMDEF_LENGTH))
    }

    /// The address of table `table`'s `VMTableDef`.
    pub fn table_def(&self, b: &mut FunctionBuilder, table: u32) -> Value {
        self.load_vmctx_ptr(b, self.layout.table(table).offset())
    }

    /// The current length in elements of the table whose definition is at `def`, as an i64.
    pub fn table_length(&self, b: &mut FunctionBuilder, def: Value) -> Value {
        let flags = self.vmctx_flags();
        b.ins()
            .load(types::I64, flags, def, offset32(TABLEDEF_LENGTH))
    }

    /// The element array of the table whose definition is at `def` (it moves when the table grows).
    pub fn table_base(&self, b: &mut FunctionBuilder, def: Value) -> Value {
        let flags = self.vmctx_flags();
        b.ins()
            .load(types::I64, flags, def, offset32(TABLEDEF_BASE))
    }

    /// Where global `global`'s value lives: a base address and an offset from it.
    pub fn global_location(&self, b: &mut FunctionBuilder, global: u32) -> (Value, i32) {
        match EntityIndex::split(global, self.module.imported_globals) {
            EntityIndex::Imported(i) => {
                // Why: an imported global's storage belongs to the exporting instance; our
                // VMContext holds a pointer to it.
                let ptr = self.load_vmctx_ptr(b, self.layout.imported_global(i).offset());
                (ptr, 0)
            }
            EntityIndex::Defined(d) => (self.vmctx, offset32(self.layout.global_def(d).offset())),
        }
    }

    /// The canonical type id (i32) of the module's type `type_index`.
    pub fn type_id(&self, b: &mut FunctionBuilder, type_index: u32) -> Value {
        let ids = self.load_vmctx_ptr(b, VMCTX_TYPE_IDS);
        let flags = self.readonly_flags();
        let offset = offset32(type_index.checked_mul(4).expect("type index fits"));
        b.ins().load(types::I32, flags, ids, offset)
    }

    /// The `(code, vmctx)` of imported function `func`'s `VMFuncRef` in this VMContext (an
    /// imported function's slot is its index).
    pub fn func_ref_code_and_vmctx(&self, b: &mut FunctionBuilder, func: u32) -> (Value, Value) {
        debug_assert!(self.module.is_imported_func(func));
        let base = self.layout.func_ref(func).offset();
        let code = self.load_vmctx_ptr(b, base + FUNCREF_CODE);
        let vmctx = self.load_vmctx_ptr(b, base + FUNCREF_VMCTX);
        (code, vmctx)
    }

    /// The signature of wasm functions of type `type_index`, imported into the function once.
    pub fn wasm_sig(&mut self, b: &mut FunctionBuilder, type_index: u32) -> SigRef {
        if let Some(sig) = self.wasm_sigs.get(&type_index) {
            return *sig;
        }
        let sig = b.import_signature(wasm_signature(self.module.func_type_at(type_index)));
        self.wasm_sigs.insert(type_index, sig);
        sig
    }

    /// The callee for a direct call to defined function `func`: a colocated user name
    /// (namespace 0, index = function index) that the compiler resolves at layout time.
    pub fn direct_func(&mut self, b: &mut FunctionBuilder, func: u32) -> FuncRef {
        if let Some(f) = self.direct_funcs.get(&func) {
            return *f;
        }
        let signature = self.wasm_sig(b, self.module.funcs[func as usize]);
        let name = b
            .func
            .declare_imported_user_function(UserExternalName::new(0, func));
        let f = b.import_function(ExtFuncData {
            name: ExternalName::User(name),
            signature,
            colocated: true,
            patchable: false,
        });
        self.direct_funcs.insert(func, f);
        f
    }

    /// Calls `builtin` with the caller's VMContext followed by `args`. A builtin that returns a
    /// status traps with its trap kind on failure; one that returns a value gives it back.
    ///
    /// Operators call builtins through `FuncTranslator::call_builtin`, which also saves and
    /// reloads the fuel and epoch state around the call.
    pub fn call_builtin(
        &mut self,
        b: &mut FunctionBuilder,
        builtin: Builtin,
        args: &[Value],
    ) -> Option<Value> {
        let (sig, callee) = self.builtin_callee(b, builtin);
        let call_args = self.builtin_args(args);
        let call = b.ins().call_indirect(sig, callee, &call_args);
        let result = b.inst_results(call).first().copied();
        self.builtin_result(b, builtin, result)
    }

    /// The signature and address of `builtin`, loaded from the builtin table.
    pub fn builtin_callee(&mut self, b: &mut FunctionBuilder, builtin: Builtin) -> (SigRef, Value) {
        let sig = self.builtin_sig(b, builtin);
        let table = self.load_vmctx_ptr(b, VMCTX_BUILTINS);
        let flags = self.readonly_flags();
        let offset = offset32(builtin.index() * PTR);
        let callee = b.ins().load(types::I64, flags, table, offset);
        (sig, callee)
    }

    /// A builtin's arguments: the caller's VMContext, then `args`.
    pub fn builtin_args(&self, args: &[Value]) -> Vec<Value> {
        let mut call_args = Vec::with_capacity(args.len() + 1);
        call_args.push(self.vmctx);
        call_args.extend_from_slice(args);
        call_args
    }

    /// Checks a builtin's `result`: traps on a failed status, gives back a value.
    pub fn builtin_result(
        &mut self,
        b: &mut FunctionBuilder,
        builtin: Builtin,
        result: Option<Value>,
    ) -> Option<Value> {
        let host_error = trap_code(TrapKind::HostError);
        match (builtin.signature().result, result) {
            (BuiltinResult::Status(kind), Some(status)) => {
                let own_kind = b
                    .ins()
                    .icmp_imm_u(IntCC::Equal, status, i64::from(STATUS_TRAP));
                b.ins().trapnz(own_kind, trap_code(kind));
                b.ins().trapnz(status, host_error);
                None
            }
            (BuiltinResult::Grow, Some(old)) => {
                let failed = b
                    .ins()
                    .icmp_imm_u(IntCC::Equal, old, GROW_HOST_ERROR as i64);
                b.ins().trapnz(failed, host_error);
                Some(old)
            }
            (_, result) => result,
        }
    }

    /// The native signature of `builtin` (see [`builtin_signature`]), imported once.
    fn builtin_sig(&mut self, b: &mut FunctionBuilder, builtin: Builtin) -> SigRef {
        if let Some(sig) = self.builtin_sigs[builtin.index() as usize] {
            return sig;
        }
        let sig = b.import_signature(builtin_signature(self.isa, builtin));
        self.builtin_sigs[builtin.index() as usize] = Some(sig);
        sig
    }

    /// Calls `builtin` through its preserve-all stub (`codegen::builtin_stub`, compiled for
    /// each of `codegen::cold_builtins`): a direct call that clobbers no register. The stub
    /// stores the builtin's status in a stack slot of this function, on which it traps as after
    /// [`Env::call_builtin`] (here, so that the trap is this function's).
    pub fn call_builtin_stub(&mut self, b: &mut FunctionBuilder, builtin: Builtin, args: &[Value]) {
        let stub = match self.builtin_stubs[builtin.index() as usize] {
            Some(stub) => stub,
            None => {
                let name = b.func.declare_imported_user_function(UserExternalName::new(
                    crate::codegen::BUILTIN_STUB_NAMESPACE,
                    builtin.index(),
                ));
                let sig = crate::codegen::builtin_stub_signature(self.isa, builtin);
                let signature = b.import_signature(sig);
                let stub = b.import_function(ExtFuncData {
                    name: ExternalName::User(name),
                    signature,
                    colocated: true,
                    patchable: false,
                });
                self.builtin_stubs[builtin.index() as usize] = Some(stub);
                stub
            }
        };
        let slot = *self.stub_status.get_or_insert_with(|| {
            b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 4, 2))
        });
        let status_at = b.ins().stack_addr(types::I64, slot, 0);
        let mut call_args = self.builtin_args(args);
        call_args.push(status_at);
        b.ins().call(stub, &call_args);
        let status = b.ins().stack_load(types::I64, types::I32, slot, 0);
        self.builtin_result(b, builtin, Some(status));
    }
}

/// The native signature of `builtin`, from its entry in the builtin list (the target's default
/// calling convention: builtins are ordinary host functions): the caller's VMContext, then the
/// builtin's arguments.
pub(crate) fn builtin_signature(isa: &dyn TargetIsa, builtin: Builtin) -> ir::Signature {
    // Why `uext`: some ABIs (s390x, riscv64) require callers to extend 32-bit arguments.
    let abi_param = |t: AbiType| match t {
        AbiType::U32 => AbiParam::new(types::I32).uext(),
        AbiType::U64 => AbiParam::new(types::I64),
    };
    let signature = builtin.signature();
    let mut sig = ir::Signature::new(isa.default_call_conv());
    sig.params.push(AbiParam::new(types::I64));
    sig.params
        .extend(signature.params.iter().map(|t| abi_param(*t)));
    match signature.result {
        BuiltinResult::Void => {}
        BuiltinResult::Value(t) => sig.returns.push(abi_param(t)),
        BuiltinResult::Status(_) => sig.returns.push(abi_param(AbiType::U32)),
        BuiltinResult::Grow => sig.returns.push(abi_param(AbiType::U64)),
    }
    sig
}
