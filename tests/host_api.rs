//! The embedding API as a plugin or edge host uses it: host data in the store, host functions that
//! call back into the guest, typed host functions, linking by name, references tied to their
//! store, host-side access to globals and tables, and errors that keep what the host returned.

mod common;

use common::{instantiate, load_wat};
use kiln_loader::{
    Artifact, Caller, Error, ExternRef, ExternType, Func, FuncType, Global, GlobalType, Instance,
    Linker, Memory, MemoryType, Mutability, Store, Table, TableType, TrapKind, Val, ValType,
};

#[test]
fn the_store_owns_host_data() {
    let mut store = Store::new(vec![1, 2]);
    store.data_mut().push(3);
    assert_eq!(store.data(), &[1, 2, 3]);
    assert_eq!(store.into_data(), vec![1, 2, 3]);
}

/// A guest that calls the host, which calls the guest, ... `n` levels deep.
const PING_PONG: &str = r#"
(module
  (import "host" "down" (func $down (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "ping") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $down (i32.sub (local.get $n) (i32.const 1)))))))
  (func (export "trap_at") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then unreachable)
      (else (call $down (i32.sub (local.get $n) (i32.const 1))))))
  (func $deep (export "deep") (param i32) (result i32)
    (call $deep (i32.add (local.get 0) (i32.const 1)))))
"#;

struct Counter {
    calls: u32,
}

fn ping_pong_linker(callee: &'static str) -> Linker<Counter> {
    let mut linker = Linker::new();
    linker
        .func_wrap(
            "host",
            "down",
            move |mut caller: Caller<'_, Counter>, n: i32| {
                caller.data_mut().calls += 1;
                let Some(f) = caller.get_export(callee).and_then(|e| e.into_func()) else {
                    return Err("no export".into());
                };
                let f = f.typed::<i32, i32>(&caller)?;
                // A trap below becomes this host function's error, here, not further up.
                Ok::<i32, kiln_loader::BoxError>(f.call(&mut caller, n)?)
            },
        )
        .unwrap();
    linker
}

#[test]
fn host_functions_call_back_into_the_guest_a_thousand_levels_deep() {
    let loaded = load_wat(PING_PONG);
    let linker = ping_pong_linker("ping");
    let mut store = Store::new(Counter { calls: 0 });
    // 1000 guest frames interleaved with 1000 host frames need more than the default budget.
    store.set_max_wasm_stack(48 << 20);
    let instance = linker.instantiate(&mut store, &loaded.artifact).unwrap();
    let ping = instance
        .get_typed_func::<i32, i32>(&mut store, "ping")
        .unwrap();
    let run = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let r = ping.call(&mut store, 1000).unwrap();
            (r, store.data().calls)
        })
        .unwrap();
    assert_eq!(run.join().unwrap(), (1000, 1000));
}

#[test]
fn a_trap_in_a_nested_call_unwinds_only_to_the_host_frame_that_made_it() {
    let loaded = load_wat(PING_PONG);
    let mut linker = Linker::new();
    linker
        .func_wrap("host", "down", |mut caller: Caller<'_, Counter>, n: i32| {
            let f = caller
                .get_export("trap_at")
                .and_then(|e| e.into_func())
                .unwrap();
            let f = f.typed::<i32, i32>(&caller).unwrap();
            match f.call(&mut caller, n) {
                Ok(v) => v,
                Err(Error::Trap(t)) => {
                    assert_eq!(t.kind, TrapKind::Unreachable);
                    caller.data_mut().calls += 1;
                    -7
                }
                Err(e) => panic!("{e}"),
            }
        })
        .unwrap();
    let mut store = Store::new(Counter { calls: 0 });
    let instance = linker.instantiate(&mut store, &loaded.artifact).unwrap();
    let trap_at = instance
        .get_typed_func::<i32, i32>(&mut store, "trap_at")
        .unwrap();
    // trap_at(3) → down(2) → trap_at(2) → down(1) → trap_at(1) → down(0) → trap_at(0) traps:
    // only the innermost host frame sees it, and every outer call returns normally.
    assert_eq!(trap_at.call(&mut store, 3).unwrap(), -7);
    assert_eq!(store.data().calls, 1);
    // The store is usable afterwards.
    assert_eq!(trap_at.call(&mut store, 1).unwrap(), -7);
}

#[test]
fn stack_overflow_in_nested_guest_code_is_a_trap() {
    let loaded = load_wat(PING_PONG);
    let linker = ping_pong_linker("deep");
    let mut store = Store::new(Counter { calls: 0 });
    let instance = linker.instantiate(&mut store, &loaded.artifact).unwrap();
    let ping = instance
        .get_typed_func::<i32, i32>(&mut store, "ping")
        .unwrap();
    // ping(1) → down(0) → deep(0), which recurses until the stack budget is used up.
    let err = ping.call(&mut store, 1).unwrap_err();
    let trap = err.as_trap().unwrap();
    // The overflow surfaces in the host function that called `deep`, as its error.
    assert_eq!(trap.kind, TrapKind::HostError);
    let inner = trap
        .downcast_ref::<Error>()
        .and_then(|e| e.as_trap())
        .unwrap();
    assert_eq!(inner.kind, TrapKind::StackOverflow);
    // And directly.
    let deep = instance
        .get_typed_func::<i32, i32>(&mut store, "deep")
        .unwrap();
    let err = deep.call(&mut store, 0).unwrap_err();
    assert_eq!(err.as_trap().unwrap().kind, TrapKind::StackOverflow);
    assert_eq!(ping.call(&mut store, 0).unwrap(), 0);
}

const TYPED: &str = r#"
(module
  (import "env" "sum16" (func $sum16 (param i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64) (result f64)))
  (import "env" "swap" (func $swap (param i32 i64) (result i64 i32)))
  (import "env" "fail" (func $fail (param i32) (result i32)))
  (func (export "call_sum") (result f64)
    (call $sum16 (i32.const 1) (i64.const 2) (f32.const 3) (f64.const 4)
                 (i32.const 5) (i64.const 6) (f32.const 7) (f64.const 8)
                 (i32.const 9) (i64.const 10) (f32.const 11) (f64.const 12)
                 (i32.const 13) (i64.const 14) (f32.const 15) (f64.const 16)))
  (func (export "call_swap") (param i32 i64) (result i64 i32)
    (call $swap (local.get 0) (local.get 1)))
  (func $caller_of_fail (export "call_fail") (param i32) (result i32)
    (call $fail (local.get 0))))
"#;

#[derive(Debug, thiserror::Error)]
#[error("refused {0}")]
struct Refused(i32);

fn typed_linker() -> Linker<()> {
    let mut linker = Linker::new();
    linker
        .func_wrap(
            "env",
            "sum16",
            |a: i32,
             b: i64,
             c: f32,
             d: f64,
             e: i32,
             f: i64,
             g: f32,
             h: f64,
             i: i32,
             j: i64,
             k: f32,
             l: f64,
             m: i32,
             n: i64,
             o: f32,
             p: f64| {
                a as f64
                    + b as f64
                    + c as f64
                    + d
                    + e as f64
                    + f as f64
                    + g as f64
                    + h
                    + i as f64
                    + j as f64
                    + k as f64
                    + l
                    + m as f64
                    + n as f64
                    + o as f64
                    + p
            },
        )
        .unwrap()
        .func_wrap("env", "swap", |a: i32, b: i64| (b, a))
        .unwrap()
        .func_wrap("env", "fail", |x: i32| -> Result<i32, Refused> {
            if x < 0 {
                Err(Refused(x))
            } else {
                Ok(x * 2)
            }
        })
        .unwrap();
    linker
}

#[test]
fn typed_host_functions_take_sixteen_parameters_and_return_several_results() {
    let loaded = load_wat(TYPED);
    let mut store = Store::new(());
    let instance = typed_linker()
        .instantiate(&mut store, &loaded.artifact)
        .unwrap();
    let sum = instance
        .get_typed_func::<(), f64>(&mut store, "call_sum")
        .unwrap();
    assert_eq!(sum.call(&mut store, ()).unwrap(), 136.0);
    let swap = instance
        .get_typed_func::<(i32, i64), (i64, i32)>(&mut store, "call_swap")
        .unwrap();
    assert_eq!(swap.call(&mut store, (3, -4)).unwrap(), (-4, 3));
    // Asking for the wrong type is a clear error, not a crash.
    let e = instance
        .get_typed_func::<i32, i32>(&mut store, "call_swap")
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .contains("(func (param i32 i64) (result i64 i32))"),
        "{e}"
    );
}

#[test]
fn host_errors_keep_their_value_and_name_the_function_and_the_guest_frames() {
    let loaded = load_wat(TYPED);
    let mut store = Store::new(());
    let instance = typed_linker()
        .instantiate(&mut store, &loaded.artifact)
        .unwrap();
    let call_fail = instance
        .get_typed_func::<i32, i32>(&mut store, "call_fail")
        .unwrap();
    assert_eq!(call_fail.call(&mut store, 21).unwrap(), 42);
    let err = call_fail.call(&mut store, -5).unwrap_err();
    assert_eq!(err.downcast_ref::<Refused>().map(|r| r.0), Some(-5));
    let trap = err.as_trap().unwrap();
    assert_eq!(trap.kind, TrapKind::HostError);
    assert_eq!(trap.host_function(), Some("env.fail"));
    assert_eq!(trap.func.as_deref(), Some("caller_of_fail"));
    assert!(trap
        .backtrace
        .iter()
        .any(|f| f.func_name == "caller_of_fail"));
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "host function `env.fail` failed (called from caller_of_fail at wasm offset 0x"
        ),
        "{msg}"
    );
    // `source()` chains to the host's error, which is not repeated in the message.
    let source = std::error::Error::source(&err).unwrap();
    assert_eq!(source.to_string(), "refused -5");
    assert!(!msg.contains("refused"), "{msg}");
    // A panic is caught at the host boundary and becomes an error too.
    let mut linker = Linker::new();
    linker
        .func_wrap("env", "fail", |_: i32| -> i32 { panic!("no") })
        .unwrap();
    linker
        .func_wrap(
            "env",
            "sum16",
            |_: i32,
             _: i64,
             _: f32,
             _: f64,
             _: i32,
             _: i64,
             _: f32,
             _: f64,
             _: i32,
             _: i64,
             _: f32,
             _: f64,
             _: i32,
             _: i64,
             _: f32,
             _: f64| 0.0f64,
        )
        .unwrap();
    linker
        .func_wrap("env", "swap", |a: i32, b: i64| (b, a))
        .unwrap();
    let instance = linker.instantiate(&mut store, &loaded.artifact).unwrap();
    let call_fail = instance
        .get_typed_func::<i32, i32>(&mut store, "call_fail")
        .unwrap();
    let err = call_fail.call(&mut store, 1).unwrap_err();
    let why = err
        .as_trap()
        .and_then(|t| t.host_error())
        .unwrap()
        .to_string();
    assert_eq!(why, "host function panicked: no");
}

#[test]
fn dynamic_host_functions_check_what_they_return() {
    let loaded = load_wat(
        r#"(module (import "env" "f" (func $f (result i32)))
             (func (export "run") (result i32) (call $f)))"#,
    );
    let mut linker = Linker::new();
    linker
        .func_new(
            "env",
            "f",
            FuncType::new([], [ValType::I32]),
            |_: Caller<'_, ()>, _, results| {
                results[0] = Val::I64(1);
                Ok(())
            },
        )
        .unwrap();
    let mut store = Store::new(());
    let instance = linker.instantiate(&mut store, &loaded.artifact).unwrap();
    let err = instance.call(&mut store, "run", &[]).unwrap_err();
    let why = err
        .as_trap()
        .and_then(|t| t.host_error())
        .unwrap()
        .to_string();
    assert!(why.contains("returned a i64"), "{why}");
}

#[test]
fn the_linker_links_by_name_once_and_instantiates_many_times() {
    let provider = load_wat(
        r#"(module
             (memory (export "mem") 1)
             (global (export "base") i32 (i32.const 100))
             (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))"#,
    );
    let user = load_wat(
        r#"(module
             (import "lib" "add" (func $add (param i32 i32) (result i32)))
             (import "lib" "base" (global $base i32))
             (import "lib" "mem" (memory 1))
             (import "host" "twice" (func $twice (param i32) (result i32)))
             (func (export "run") (param i32) (result i32)
               (i32.store (i32.const 0) (local.get 0))
               (call $twice (call $add (global.get $base) (i32.load (i32.const 0))))))"#,
    );
    let mut linker = Linker::<u32>::new();
    linker
        .func_wrap("host", "twice", |mut caller: Caller<'_, u32>, x: i32| {
            *caller.data_mut() += 1;
            x * 2
        })
        .unwrap();
    // A second definition of a name is an error unless shadowing is allowed.
    let e = linker.func_wrap("host", "twice", |x: i32| x).err().unwrap();
    assert!(e.to_string().contains("defined twice"), "{e}");
    for request in 0..3 {
        let mut store = Store::new(0u32);
        let mut per_store = linker.clone();
        let lib = per_store
            .instantiate(&mut store, &provider.artifact)
            .unwrap();
        per_store.instance(&mut store, "lib", lib).unwrap();
        let pre = per_store.instantiate_pre(&user.artifact).unwrap();
        let instance = pre.instantiate(&mut store).unwrap();
        let run = instance
            .get_typed_func::<i32, i32>(&mut store, "run")
            .unwrap();
        assert_eq!(run.call(&mut store, request).unwrap(), 2 * (100 + request));
        assert_eq!(*store.data(), 1);
        // The imported memory is the provider's.
        let mem = lib.get_memory(&mut store, "mem").unwrap();
        assert_eq!(mem.data(&store)[0] as i32, request);
    }
    // An unknown import is a clear error naming it.
    let e = linker.instantiate_pre(&user.artifact).err().unwrap();
    assert_eq!(
        e.to_string(),
        "unknown import: `lib::add` has not been defined"
    );
}

#[test]
fn unknown_imports_can_trap_or_return_defaults() {
    let loaded = load_wat(
        r#"(module (import "env" "missing" (func $m (param i32) (result i32 i64)))
             (func (export "run") (result i32 i64) (call $m (i32.const 1))))"#,
    );
    let mut linker = Linker::new();
    linker
        .define_unknown_imports_as_default_values(&loaded.artifact)
        .unwrap();
    let mut store = Store::new(());
    let i = linker.instantiate(&mut store, &loaded.artifact).unwrap();
    assert_eq!(
        i.call(&mut store, "run", &[]).unwrap(),
        vec![Val::I32(0), Val::I64(0)]
    );
    let mut linker = Linker::new();
    linker
        .define_unknown_imports_as_traps(&loaded.artifact)
        .unwrap();
    let i = linker.instantiate(&mut store, &loaded.artifact).unwrap();
    let e = i.call(&mut store, "run", &[]).unwrap_err();
    let why = e
        .as_trap()
        .and_then(|t| t.host_error())
        .unwrap()
        .to_string();
    assert_eq!(why, "unknown import `env::missing` was called");
}

/// Module A hands out function references; module B calls whatever reference it is given.
const GIVER: &str = r#"
(module
  (memory 1)
  (func $good (result i32) (i32.const 42))
  (func $bad (result i32) (i32.load (i32.const 100000)))
  (elem declare func $good $bad)
  (func (export "getf") (result funcref) (ref.func $good))
  (func (export "getbad") (result funcref) (ref.func $bad)))
"#;
const CALLER: &str = r#"
(module
  (type $t (func (result i32)))
  (table 1 funcref)
  (func (export "callref") (param funcref) (result i32)
    (table.set (i32.const 0) (local.get 0))
    (call_indirect (type $t) (i32.const 0))))
"#;

#[test]
fn function_references_are_checked_against_their_store() {
    let giver = load_wat(GIVER);
    let caller = load_wat(CALLER);
    let mut a = Store::new(());
    let ia = Instance::new(&mut a, &giver.artifact, &[]).unwrap();
    let good = ia.call(&mut a, "getf", &[]).unwrap()[0];
    let bad = ia.call(&mut a, "getbad", &[]).unwrap()[0];
    // Within its own store a reference is callable: by the guest, and by the host.
    let ib_a = Instance::new(&mut a, &caller.artifact, &[]).unwrap();
    assert_eq!(
        ib_a.call(&mut a, "callref", &[good]).unwrap(),
        vec![Val::I32(42)]
    );
    let f = good.func_ref().unwrap();
    let mut out = [Val::I32(0)];
    f.call(&mut a, &[], &mut out).unwrap();
    assert_eq!(out[0], Val::I32(42));
    assert_eq!(f.ty(&a), FuncType::new([], [ValType::I32]));
    let e = ib_a.call(&mut a, "callref", &[bad]).unwrap_err();
    assert_eq!(e.as_trap().unwrap().kind, TrapKind::MemoryOutOfBounds);

    // Passed to another store, it is refused before any code runs.
    let mut b = Store::new(());
    let ib = Instance::new(&mut b, &caller.artifact, &[]).unwrap();
    for r in [good, bad] {
        let e = ib.call(&mut b, "callref", &[r]).unwrap_err();
        assert!(matches!(e, Error::ForeignStore(_)), "{e}");
    }
    assert!(matches!(
        f.call(&mut b, &[], &mut out),
        Err(Error::ForeignStore(_))
    ));
    // And after its store is gone: still refused, never a call through freed memory.
    drop(a);
    for r in [good, bad] {
        let e = ib.call(&mut b, "callref", &[r]).unwrap_err();
        assert!(matches!(e, Error::ForeignStore(_)), "{e}");
    }
    // Handles of another store are refused by every fallible operation.
    let mut c = Store::new(());
    let g = Global::new(
        &mut c,
        GlobalType::new(ValType::I32, Mutability::Var),
        Val::I32(1),
    )
    .unwrap();
    assert!(matches!(
        g.set(&mut b, Val::I32(2)),
        Err(Error::ForeignStore(_))
    ));
    let m = Memory::new(&mut c, MemoryType::new(1, None)).unwrap();
    assert!(matches!(m.grow(&mut b, 1), Err(Error::ForeignStore(_))));
    assert!(matches!(
        m.write(&mut b, 0, &[1]),
        Err(Error::ForeignStore(_))
    ));
    let e = Instance::new(
        &mut b,
        &load_wat(r#"(module (import "m" "g" (global (mut i32))))"#).artifact,
        &[g.into()],
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("belongs to another store"), "{e}");
}

#[test]
#[should_panic(expected = "a memory was used with a store that does not own it")]
fn accessors_that_cannot_fail_panic_on_another_store_as_in_wasmtime() {
    let mut a = Store::new(());
    let b = Store::new(());
    let m = Memory::new(&mut a, MemoryType::new(1, None)).unwrap();
    let _ = m.data(&b);
}

#[test]
fn externrefs_hold_host_values_and_come_back_intact() {
    let (mut store, instance, _l) = instantiate(
        r#"(module
             (global $g (mut externref) (ref.null extern))
             (func (export "keep") (param externref) (global.set $g (local.get 0)))
             (func (export "give") (result externref) (global.get $g)))"#,
    );
    let r = ExternRef::new(&mut store, String::from("hello")).unwrap();
    instance
        .call(&mut store, "keep", &[Val::ExternRef(Some(r))])
        .unwrap();
    let back = instance.call(&mut store, "give", &[]).unwrap()[0]
        .extern_ref()
        .unwrap();
    assert_eq!(back, r);
    assert_eq!(
        back.data(&store).unwrap().downcast_ref::<String>().unwrap(),
        "hello"
    );
    // The largest value the old API lost as null: any host value round-trips.
    let big = ExternRef::new(&mut store, u64::MAX).unwrap();
    instance
        .call(&mut store, "keep", &[Val::ExternRef(Some(big))])
        .unwrap();
    let back = instance.call(&mut store, "give", &[]).unwrap()[0];
    let v = back.extern_ref().unwrap();
    assert_eq!(
        v.data(&store).unwrap().downcast_ref::<u64>(),
        Some(&u64::MAX)
    );
    let other = Store::new(());
    assert!(matches!(v.data(&other), Err(Error::ForeignStore(_))));
}

#[test]
fn globals_tables_and_memories_from_the_host() {
    let (mut store, instance, _l) = instantiate(
        r#"(module
             (global (export "var") (mut i64) (i64.const 5))
             (global (export "const") i32 (i32.const 7))
             (table (export "tab") 2 10 funcref)
             (memory (export "mem") 1 3)
             (func $seven (export "seven") (result i32) (i32.const 7))
             (func (export "get_var") (result i64) (global.get 0))
             (func (export "call0") (result i32) (call_indirect (result i32) (i32.const 0))))"#,
    );
    let var = instance.get_global(&mut store, "var").unwrap();
    assert_eq!(var.get(&mut store), Val::I64(5));
    var.set(&mut store, Val::I64(-9)).unwrap();
    assert_eq!(
        instance.call(&mut store, "get_var", &[]).unwrap(),
        vec![Val::I64(-9)]
    );
    assert!(matches!(
        var.set(&mut store, Val::I32(1)),
        Err(Error::Type(_))
    ));
    let konst = instance.get_global(&mut store, "const").unwrap();
    assert_eq!(
        konst.ty(&store),
        GlobalType::new(ValType::I32, Mutability::Const)
    );
    let e = konst.set(&mut store, Val::I32(1)).unwrap_err();
    assert_eq!(e.to_string(), "cannot set an immutable global");

    let tab = instance.get_table(&mut store, "tab").unwrap();
    assert_eq!(tab.size(&store), 2);
    let seven = instance.get_func(&mut store, "seven").unwrap();
    tab.set(&mut store, 0, Val::FuncRef(Some(seven))).unwrap();
    assert_eq!(
        instance.call(&mut store, "call0", &[]).unwrap(),
        vec![Val::I32(7)]
    );
    assert_eq!(tab.get(&mut store, 0).unwrap().func_ref(), Some(seven));
    assert_eq!(tab.get(&mut store, 1), Some(Val::FuncRef(None)));
    assert_eq!(tab.get(&mut store, 2), None);
    assert_eq!(
        tab.grow(&mut store, 3, Val::FuncRef(Some(seven))).unwrap(),
        2
    );
    assert_eq!(tab.size(&store), 5);
    assert_eq!(tab.get(&mut store, 4).unwrap().func_ref(), Some(seven));
    tab.fill(&mut store, 1, Val::FuncRef(None), 4).unwrap();
    assert_eq!(tab.get(&mut store, 4), Some(Val::FuncRef(None)));
    assert!(tab.grow(&mut store, 6, Val::FuncRef(None)).is_err());
    assert!(matches!(
        tab.set(&mut store, 0, Val::I32(0)),
        Err(Error::Type(_))
    ));
    assert!(tab.set(&mut store, 99, Val::FuncRef(None)).is_err());

    let mem = instance.get_memory(&mut store, "mem").unwrap();
    mem.write(&mut store, 10, b"kiln").unwrap();
    let mut buf = [0u8; 4];
    mem.read(&store, 10, &mut buf).unwrap();
    assert_eq!(&buf, b"kiln");
    assert!(mem.write(&mut store, 65535, b"xy").is_err());
    assert_eq!(mem.grow(&mut store, 2).unwrap(), 1);
    assert_eq!(mem.size(&store), 3);
    assert!(mem.grow(&mut store, 1).is_err());
    mem.data_mut(&mut store)[3 * 65536 - 1] = 9;
    assert_eq!(mem.data(&store)[3 * 65536 - 1], 9);

    // Host-made entities, imported by a module.
    let user = load_wat(
        r#"(module
             (import "h" "g" (global $g (mut i32)))
             (import "h" "t" (table 1 externref))
             (import "h" "m" (memory 1))
             (func (export "bump") (result i32)
               (global.set $g (i32.add (global.get $g) (i32.const 1)))
               (i32.store8 (i32.const 0) (global.get $g))
               (global.get $g)))"#,
    );
    let g = Global::new(
        &mut store,
        GlobalType::new(ValType::I32, Mutability::Var),
        Val::I32(41),
    )
    .unwrap();
    let t = Table::new(
        &mut store,
        TableType::new(ValType::EXTERNREF, 1, None),
        Val::ExternRef(None),
    )
    .unwrap();
    let m = Memory::new(&mut store, MemoryType::new(1, Some(1))).unwrap();
    let i = Instance::new(&mut store, &user.artifact, &[g.into(), t.into(), m.into()]).unwrap();
    assert_eq!(i.call(&mut store, "bump", &[]).unwrap(), vec![Val::I32(42)]);
    assert_eq!(g.get(&mut store), Val::I32(42));
    assert_eq!(m.data(&store)[0], 42);
    // Wrong kinds and types are link errors.
    let e = Instance::new(&mut store, &user.artifact, &[t.into(), g.into(), m.into()])
        .err()
        .unwrap();
    assert!(matches!(e, Error::Link(_)), "{e}");
    let e = Instance::new(&mut store, &user.artifact, &[g.into()])
        .err()
        .unwrap();
    assert!(e.to_string().contains("3 imports, but 1 were given"), "{e}");
}

#[test]
fn host_functions_become_function_references() {
    let loaded = load_wat(CALLER);
    let mut store = Store::new(());
    let answer = Func::wrap(&mut store, || 99i32);
    let instance = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    // No module of the store has an adapter of this type yet: a clear error.
    let e = instance
        .call(&mut store, "callref", &[Val::FuncRef(Some(answer))])
        .unwrap_err();
    assert!(e.to_string().contains("cannot become a funcref"), "{e}");
    // Once a module imports a function of that type, the host function can be passed around.
    let importer = load_wat(r#"(module (import "h" "f" (func (result i32))))"#);
    Instance::new(&mut store, &importer.artifact, &[answer.into()]).unwrap();
    assert_eq!(
        instance
            .call(&mut store, "callref", &[Val::FuncRef(Some(answer))])
            .unwrap(),
        vec![Val::I32(99)]
    );
    let mut out = [Val::I32(0)];
    answer.call(&mut store, &[], &mut out).unwrap();
    assert_eq!(out[0], Val::I32(99));
}

#[test]
fn artifacts_describe_their_imports_and_exports() {
    let loaded = load_wat(
        r#"(module
             (import "env" "f" (func (param i32 i64) (result f32)))
             (import "env" "m" (memory 1 4))
             (import "env" "g" (global (mut f64)))
             (table (export "t") 2 funcref)
             (func (export "h") (result i32) (i32.const 0)))"#,
    );
    let imports = loaded.artifact.imports().unwrap();
    let described: Vec<String> = imports
        .iter()
        .map(|i| format!("{}.{} {}", i.module(), i.name(), i.ty()))
        .collect();
    assert_eq!(
        described,
        [
            "env.f (func (param i32 i64) (result f32))",
            "env.m (memory 1 4)",
            "env.g (global (mut f64))"
        ]
    );
    let exports = loaded.artifact.exports().unwrap();
    assert_eq!(exports.len(), 2);
    assert_eq!(exports[0].name(), "h");
    assert!(matches!(exports[1].ty(), ExternType::Table(t) if t.minimum() == 2));
    assert!(!loaded.artifact.consumes_fuel().unwrap());
}

#[test]
fn instantiation_refuses_artifacts_not_in_this_store_only_with_a_clear_error() {
    // An artifact is shared between stores; each store instantiates it independently.
    let loaded = load_wat(r#"(module (func (export "f") (result i32) (i32.const 3)))"#);
    let artifact: Artifact = loaded.artifact.clone();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let artifact = artifact.clone();
            std::thread::spawn(move || {
                let mut store = Store::new(());
                let i = Instance::new(&mut store, &artifact, &[]).unwrap();
                let f = i.get_typed_func::<(), i32>(&mut store, "f").unwrap();
                (0..1000)
                    .map(|_| f.call(&mut store, ()).unwrap())
                    .sum::<i32>()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 3000);
    }
}
