//! The independent engine the differential target compares Kiln with: `wasmi`, an interpreter
//! that shares no code with Kiln's compiler or runtime (only the `wasmparser` validator). Fuel
//! bounds every call, so that a generated infinite loop ends the comparison instead of the case.

use crate::values::{Exported, ExportedFunc, Outcome, Snapshot, Value};
use kiln_loader::TrapKind;
use wasmi::{
    Config, Engine, Extern, Linker, Module, Store, StoreLimits, StoreLimitsBuilder, TrapCode, Val,
    ValType,
};

/// Why a comparison stopped when wasmi panicked.
const ORACLE_PANICKED: &str = "the oracle panicked";

/// Runs `f`, or `None` if it panicked: a panic in wasmi is the oracle's bug (wasmi 2.0.0 reached
/// an `unreachable!` translating an `i32.store8`, `diff` seed 3 case 198283), not a finding
/// about Kiln. Counted and logged with the case, and the comparison stops.
fn guarded<R>(f: impl FnOnce() -> R) -> Option<R> {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok();
    if result.is_none() {
        crate::stats::ORACLE_PANICS.bump();
        let case = crate::stats::CURRENT_CASE.load(std::sync::atomic::Ordering::Relaxed);
        eprintln!("kiln-fuzz diff: case {case}: the oracle panicked");
    }
    result
}

/// An instance in `wasmi`.
pub struct Oracle {
    store: Store<StoreLimits>,
    instance: wasmi::Instance,
    fuel: u64,
}

fn ty(t: ValType) -> kiln_loader::ValType {
    use kiln_loader::ValType as K;
    match t {
        ValType::I32 => K::I32,
        ValType::I64 => K::I64,
        ValType::F32 => K::F32,
        ValType::F64 => K::F64,
        ValType::V128 => K::V128,
        ValType::FuncRef => K::FUNCREF,
        ValType::ExternRef => K::EXTERNREF,
    }
}

fn to_wasmi(v: Value) -> Val {
    match v {
        Value::I32(x) => Val::I32(x),
        Value::I64(x) => Val::I64(x),
        Value::F32(x) => Val::F32(wasmi::F32::from_bits(x)),
        Value::F64(x) => Val::F64(wasmi::F64::from_bits(x)),
        Value::V128(x) => Val::V128(wasmi::V128::from(x)),
        Value::FuncRef { .. } => Val::FuncRef(wasmi::Nullable::Null),
        Value::ExternRef { .. } => Val::ExternRef(wasmi::Nullable::Null),
    }
}

fn from_wasmi(v: &Val) -> Value {
    match v {
        Val::I32(x) => Value::I32(*x),
        Val::I64(x) => Value::I64(*x),
        Val::F32(x) => Value::F32(x.to_bits()),
        Val::F64(x) => Value::F64(x.to_bits()),
        Val::V128(x) => Value::V128(x.as_u128()),
        Val::FuncRef(r) => Value::FuncRef { null: r.is_null() },
        Val::ExternRef(r) => Value::ExternRef { null: r.is_null() },
    }
}

/// How `wasmi` reports a failure, as an outcome.
fn outcome_of(e: &wasmi::Error) -> Outcome {
    let Some(code) = e.as_trap_code() else {
        return Outcome::Failed(e.to_string());
    };
    Outcome::Trapped(match code {
        TrapCode::UnreachableCodeReached => TrapKind::Unreachable,
        TrapCode::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        TrapCode::TableOutOfBounds => TrapKind::TableOutOfBounds,
        TrapCode::IndirectCallToNull => TrapKind::IndirectCallToNull,
        TrapCode::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
        TrapCode::BadConversionToInteger => TrapKind::BadConversionToInteger,
        TrapCode::BadSignature => TrapKind::BadSignature,
        TrapCode::StackOverflow => return Outcome::Stop("stack overflow"),
        TrapCode::OutOfFuel => return Outcome::Stop("the oracle's fuel ran out"),
        TrapCode::GrowthOperationLimited | TrapCode::OutOfSystemMemory => {
            return Outcome::Stop("the oracle's resource limits")
        }
    })
}

impl Oracle {
    /// Instantiates `wasm` with `fuel` for the start function and for each call; `Err` if wasmi
    /// cannot take the module (then nothing can be compared).
    pub fn new(wasm: &[u8], fuel: u64) -> Result<(Outcome, Option<Oracle>), String> {
        let mut config = Config::default();
        config.consume_fuel(true);
        config.wasm_simd(true);
        let engine = Engine::new(&config);
        let module = Module::new(&engine, wasm).map_err(|e| e.to_string())?;
        let limits = StoreLimitsBuilder::new()
            .memory_size(crate::values::MAX_MEMORY)
            .table_elements(crate::values::MAX_TABLE_ELEMENTS)
            .build();
        let mut store = Store::new(&engine, limits);
        store.limiter(|l| l);
        store.set_fuel(fuel).map_err(|e| e.to_string())?;
        let linker = Linker::<StoreLimits>::new(&engine);
        let started = guarded(|| linker.instantiate_and_start(&mut store, &module));
        let Some(started) = started else {
            return Ok((Outcome::Stop(ORACLE_PANICKED), None));
        };
        match started {
            Ok(instance) => Ok((
                Outcome::Returned(Vec::new()),
                Some(Oracle {
                    store,
                    instance,
                    fuel,
                }),
            )),
            Err(e) => Ok((outcome_of(&e), None)),
        }
    }

    /// Every export, in export order.
    fn exports(&self) -> Vec<(String, Extern)> {
        self.instance
            .exports(&self.store)
            .map(|e| (e.name().to_string(), e.into_extern()))
            .collect()
    }

    /// The exported functions, in export order.
    pub fn funcs(&self) -> Vec<ExportedFunc> {
        self.exports()
            .into_iter()
            .filter_map(|(name, e)| {
                let f = e.into_func()?;
                let t = f.ty(&self.store);
                Some(ExportedFunc {
                    name,
                    params: t.params().iter().copied().map(ty).collect(),
                })
            })
            .collect()
    }

    /// Calls export `f` with `args`, with a fresh allowance of fuel.
    pub fn call(&mut self, f: &ExportedFunc, args: &[Value]) -> Outcome {
        let Some(func) = self.instance.get_func(&self.store, &f.name) else {
            return Outcome::Failed(format!("no function export {:?}", f.name));
        };
        if self.store.set_fuel(self.fuel).is_err() {
            return Outcome::Failed("fuel".into());
        }
        let args: Vec<Val> = args.iter().copied().map(to_wasmi).collect();
        let ty = func.ty(&self.store);
        let mut results: Vec<Val> = ty
            .results()
            .iter()
            .map(|t| Val::default_for_ty(*t))
            .collect();
        match guarded(|| func.call(&mut self.store, &args, &mut results)) {
            None => Outcome::Stop(ORACLE_PANICKED),
            Some(Ok(())) => Outcome::Returned(results.iter().map(from_wasmi).collect()),
            Some(Err(e)) => outcome_of(&e),
        }
    }

    /// Everything the instance exports, now, sorted by name.
    pub fn snapshot(&mut self) -> Snapshot {
        self.exports()
            .into_iter()
            .map(|(name, e)| {
                let what = match e {
                    Extern::Global(g) => Exported::Global(from_wasmi(&g.get(&self.store))),
                    Extern::Memory(m) => Exported::memory(m.data(&self.store)),
                    Extern::Table(t) => Exported::Table(
                        (0..t.size(&self.store))
                            .map(|i| t.get(&self.store, i).is_none_or(|r| r.is_null()))
                            .collect(),
                    ),
                    Extern::Func(_) => Exported::Func,
                };
                (name, what)
            })
            .collect::<Snapshot>()
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect()
    }
}
