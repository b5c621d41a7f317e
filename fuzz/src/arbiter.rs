//! The second opinion: Wasmtime, consulted only when Kiln and `wasmi` disagree. An oracle has bugs
//! too (the differential target found one in wasmi's handling of a `v128` carried by `br_table`);
//! a disagreement is a finding only if Wasmtime, replaying the same calls, does not side with Kiln.

use crate::values::{Exported, Outcome, Snapshot, Value, MAX_MEMORY, MAX_TABLE_ELEMENTS};
use kiln_loader::TrapKind;
use wasmtime::{
    Config, Engine, Extern, Instance, Linker, Module, Store, StoreLimits, StoreLimitsBuilder, Trap,
    Val,
};

/// Wasmtime's run of a module: the outcome of instantiating it, then of each call.
pub struct Replay {
    /// Instantiation, then each call, as far as it got.
    pub outcomes: Vec<Outcome>,
    /// The exported state after the last one.
    pub snapshot: Option<Snapshot>,
}

fn outcome_of(e: &wasmtime::Error) -> Outcome {
    let Some(trap) = e.downcast_ref::<Trap>() else {
        return Outcome::Failed(e.to_string());
    };
    Outcome::Trapped(match trap {
        Trap::UnreachableCodeReached => TrapKind::Unreachable,
        Trap::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        Trap::TableOutOfBounds => TrapKind::TableOutOfBounds,
        Trap::IndirectCallToNull => TrapKind::IndirectCallToNull,
        Trap::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        Trap::IntegerOverflow => TrapKind::IntegerOverflow,
        Trap::BadConversionToInteger => TrapKind::BadConversionToInteger,
        Trap::BadSignature => TrapKind::BadSignature,
        Trap::NullReference => TrapKind::NullReference,
        Trap::StackOverflow => return Outcome::Stop("stack overflow"),
        Trap::OutOfFuel => return Outcome::Stop("Wasmtime's fuel ran out"),
        _ => return Outcome::Failed(trap.to_string()),
    })
}

fn to_wasmtime(v: Value) -> Val {
    match v {
        Value::I32(x) => Val::I32(x),
        Value::I64(x) => Val::I64(x),
        Value::F32(x) => Val::F32(x),
        Value::F64(x) => Val::F64(x),
        Value::V128(x) => Val::V128(x.into()),
        Value::FuncRef { .. } => Val::FuncRef(None),
        Value::ExternRef { .. } => Val::ExternRef(None),
    }
}

fn from_wasmtime(v: &Val) -> Value {
    match v {
        Val::I32(x) => Value::I32(*x),
        Val::I64(x) => Value::I64(*x),
        Val::F32(x) => Value::F32(*x),
        Val::F64(x) => Value::F64(*x),
        Val::V128(x) => Value::V128(x.as_u128()),
        Val::FuncRef(r) => Value::FuncRef { null: r.is_none() },
        Val::ExternRef(r) => Value::ExternRef { null: r.is_none() },
        _ => Value::ExternRef { null: false },
    }
}

fn snapshot(store: &mut Store<StoreLimits>, instance: &Instance) -> Snapshot {
    let exports: Vec<(String, Extern)> = instance
        .exports(&mut *store)
        .map(|e| (e.name().to_string(), e.into_extern()))
        .collect();
    let mut snap: Snapshot = exports
        .into_iter()
        .map(|(name, e)| {
            let what = match e {
                Extern::Global(g) => Exported::Global(from_wasmtime(&g.get(&mut *store))),
                Extern::Memory(m) => Exported::memory(m.data(&*store)),
                Extern::Table(t) => Exported::Table(
                    (0..t.size(&*store))
                        .map(|i| t.get(&mut *store, i).is_none_or(|r| r.is_null()))
                        .collect(),
                ),
                _ => Exported::Func,
            };
            (name, what)
        })
        .collect();
    snap.sort_by(|a, b| a.0.cmp(&b.0));
    snap
}

/// Instantiates `wasm` in Wasmtime and makes `calls` (export name, arguments), each with `fuel`.
/// An error if Wasmtime cannot take the module.
pub fn replay(wasm: &[u8], calls: &[(String, Vec<Value>)], fuel: u64) -> Result<Replay, String> {
    let mut config = Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config).map_err(|e| e.to_string())?;
    let module = Module::new(&engine, wasm).map_err(|e| e.to_string())?;
    let limits = StoreLimitsBuilder::new()
        .memory_size(MAX_MEMORY)
        .table_elements(MAX_TABLE_ELEMENTS)
        .build();
    let mut store = Store::new(&engine, limits);
    store.limiter(|l| l);
    store.set_fuel(fuel).map_err(|e| e.to_string())?;
    let linker = Linker::<StoreLimits>::new(&engine);
    let instance = match linker.instantiate(&mut store, &module) {
        Ok(i) => i,
        Err(e) => {
            return Ok(Replay {
                outcomes: vec![outcome_of(&e)],
                snapshot: None,
            })
        }
    };
    let mut outcomes = vec![Outcome::Returned(Vec::new())];
    for (name, args) in calls {
        let func = instance
            .get_func(&mut store, name)
            .ok_or_else(|| format!("no export {name:?}"))?;
        store.set_fuel(fuel).map_err(|e| e.to_string())?;
        let ty = func.ty(&store);
        let args: Vec<Val> = args.iter().copied().map(to_wasmtime).collect();
        let mut results: Vec<Val> = ty
            .results()
            .map(|t| Val::default_for_ty(&t).unwrap_or(Val::I32(0)))
            .collect();
        outcomes.push(match func.call(&mut store, &args, &mut results) {
            Ok(()) => Outcome::Returned(results.iter().map(from_wasmtime).collect()),
            Err(e) => outcome_of(&e),
        });
    }
    Ok(Replay {
        outcomes,
        snapshot: Some(snapshot(&mut store, &instance)),
    })
}
