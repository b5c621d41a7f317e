//! Direct and indirect calls, recursion, and functions, memories and globals shared between
//! instances.

use super::*;
use kiln_loader::{Error, Extern, Instance, Linker, Store};

#[test]
fn recursion_and_mutual_calls() {
    check(
        r#"(module
          (func $fac (export "fac") (param i64) (result i64)
            (if (result i64) (i64.le_u (local.get 0) (i64.const 1))
              (then (i64.const 1))
              (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))
          (func $even (export "even") (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 1))
              (else (call $odd (i32.sub (local.get 0) (i32.const 1))))))
          (func $odd (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
              (else (call $even (i32.sub (local.get 0) (i32.const 1)))))))"#,
        &[
            ("fac", &[i64v(20)], &[i64v(2432902008176640000)]),
            ("even", &[i32v(1000)], &[i32v(1)]),
            ("even", &[i32v(77)], &[i32v(0)]),
        ],
    );
}

#[test]
fn instances_import_each_others_exports() {
    let provider = crate::common::load_wat(
        r#"(module
          (memory (export "mem") 1)
          (global (export "g") (mut i32) (i32.const 5))
          (table (export "tab") 2 funcref)
          (elem (i32.const 0) $f)
          (func $f (export "f") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
          (func (export "read") (result i32) (i32.load (i32.const 0))))"#,
    );
    let user = crate::common::load_wat(
        r#"(module
          (import "p" "f" (func $f (param i32) (result i32)))
          (import "p" "mem" (memory 1))
          (import "p" "g" (global $g (mut i32)))
          (import "p" "tab" (table 2 funcref))
          (type $t (func (param i32) (result i32)))
          (func (export "go") (param i32) (result i32)
            (i32.store (i32.const 0) (call $f (local.get 0)))
            (global.set $g (i32.add (global.get $g) (i32.const 1)))
            (call_indirect (type $t) (global.get $g) (i32.const 0))))"#,
    );
    let mut store = Store::new(());
    let p = Instance::new(&mut store, &provider.artifact, &[]).unwrap();
    let mut linker = Linker::new();
    for name in ["f", "mem", "g", "tab"] {
        let export = p.get_export(&mut store, name).unwrap();
        linker.define(&store, "p", name, export).unwrap();
    }
    let u = linker.instantiate(&mut store, &user.artifact).unwrap();
    assert_eq!(u.call(&mut store, "go", &[i32v(7)]).unwrap(), [i32v(18)]);
    assert_eq!(p.call(&mut store, "read", &[]).unwrap(), [i32v(21)]);
    let g = p.get_global(&mut store, "g").unwrap();
    assert_eq!(g.get(&mut store), i32v(6));
    // A missing import and a mistyped one are clear link errors.
    let e = Linker::new()
        .instantiate(&mut store, &user.artifact)
        .err()
        .unwrap();
    assert!(matches!(e, Error::Link(_)), "{e:?}");
    assert!(e.to_string().contains("unknown import: `p::f`"), "{e}");
    let mut bad = linker.clone();
    let mem = p.get_export(&mut store, "mem").unwrap();
    bad.allow_shadowing(true)
        .define(&store, "p", "f", mem)
        .unwrap();
    let e = bad.instantiate(&mut store, &user.artifact).err().unwrap();
    assert!(matches!(e, Error::Link(_)), "{e:?}");
    assert!(e.to_string().contains("incompatible import type"), "{e}");
    assert!(matches!(
        p.get_export(&mut store, "mem"),
        Some(Extern::Memory(_))
    ));
}

#[test]
fn typed_functions() {
    let (mut store, instance, _l) = crate::common::instantiate(
        r#"(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
                   (func (export "pair") (param f64) (result f64 i64) (local.get 0) (i64.const 9)))"#,
    );
    let add = instance
        .get_typed_func::<(i32, i32), i32>(&mut store, "add")
        .unwrap();
    assert_eq!(add.call(&mut store, (2, 40)).unwrap(), 42);
    let pair = instance
        .get_typed_func::<f64, (f64, i64)>(&mut store, "pair")
        .unwrap();
    assert_eq!(pair.call(&mut store, 0.5).unwrap(), (0.5, 9));
    assert!(instance
        .get_typed_func::<i32, i32>(&mut store, "add")
        .is_err());
}

#[test]
fn host_memories_tables_and_globals_can_be_imported() {
    use kiln_loader::{
        Global, GlobalType, Memory, MemoryType, Mutability, Table, TableType, Val, ValType,
    };
    let loaded = crate::common::load_wat(
        r#"(module
          (import "host" "mem" (memory 1 4))
          (import "host" "tab" (table 2 funcref))
          (import "host" "g" (global i64))
          (func $f (result i64) (global.get 0))
          (elem declare func $f)
          (func (export "go") (result i32)
            (i64.store (i32.const 8) (global.get 0))
            (table.set 0 (i32.const 1) (ref.func $f))
            (memory.grow (i32.const 2))))"#,
    );
    let mut store = Store::new(());
    let mem = Memory::new(&mut store, MemoryType::new(1, Some(4))).unwrap();
    let tab = Table::new(
        &mut store,
        TableType::new(ValType::FUNCREF, 2, None),
        Val::FuncRef(None),
    )
    .unwrap();
    let g = Global::new(
        &mut store,
        GlobalType::new(ValType::I64, Mutability::Const),
        i64v(-9),
    )
    .unwrap();
    // In the artifact's import order: mem, tab, g.
    let imports = [Extern::Memory(mem), Extern::Table(tab), Extern::Global(g)];
    let inst = Instance::new(&mut store, &loaded.artifact, &imports).unwrap();
    assert_eq!(inst.call(&mut store, "go", &[]).unwrap(), [i32v(1)]);
    assert_eq!(mem.size(&store), 3);
    assert_eq!(&mem.data(&store)[8..16], &(-9i64).to_le_bytes());
    assert_eq!(tab.size(&store), 2);
    // Only reference types make tables.
    assert!(Table::new(
        &mut store,
        TableType::new(ValType::I32, 1, None),
        Val::I32(0)
    )
    .is_err());
    assert!(Memory::new(&mut store, MemoryType::new(70000, None)).is_err());
}

/// Tail calls (`return_call`, `return_call_indirect`) replace the caller's frame: 10⁸ mutual tail
/// calls in a loop run in the stack of one call, which plain calls could not.
#[test]
fn tail_calls_run_in_constant_stack() {
    check(
        r#"(module
          (type $t (func (param i64 i64) (result i64)))
          (table funcref (elem $ping_indirect $pong_indirect))
          (func $ping (export "ping") (param $n i64) (param $acc i64) (result i64)
            (if (result i64) (i64.eqz (local.get $n)) (then (local.get $acc))
              (else (return_call $pong (i64.sub (local.get $n) (i64.const 1))
                                       (i64.add (local.get $acc) (i64.const 1))))))
          (func $pong (param $n i64) (param $acc i64) (result i64)
            (if (result i64) (i64.eqz (local.get $n)) (then (local.get $acc))
              (else (return_call $ping (i64.sub (local.get $n) (i64.const 1))
                                       (i64.add (local.get $acc) (i64.const 2))))))
          (func $ping_indirect (export "ping_indirect") (param $n i64) (param $acc i64) (result i64)
            (if (result i64) (i64.eqz (local.get $n)) (then (local.get $acc))
              (else (return_call_indirect (type $t)
                      (i64.sub (local.get $n) (i64.const 1))
                      (i64.add (local.get $acc) (i64.const 1))
                      (i32.const 1)))))
          (func $pong_indirect (param $n i64) (param $acc i64) (result i64)
            (if (result i64) (i64.eqz (local.get $n)) (then (local.get $acc))
              (else (return_call_indirect (type $t)
                      (i64.sub (local.get $n) (i64.const 1))
                      (i64.add (local.get $acc) (i64.const 2))
                      (i32.const 0)))))
          ;; More parameters than its callers have: the callee's stack arguments grow the
          ;; frame it replaces.
          (func $many (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
            (i64.add (local.get 0) (local.get 9)))
          (func $few (export "few") (param $n i64) (result i64)
            (if (result i64) (i64.eqz (local.get $n))
              (then (return_call $many (i64.const 1) (i64.const 0) (i64.const 0) (i64.const 0)
                      (i64.const 0) (i64.const 0) (i64.const 0) (i64.const 0) (i64.const 0)
                      (i64.const 41)))
              (else (return_call $few (i64.sub (local.get $n) (i64.const 1)))))))"#,
        &[
            // 5·10⁷ pings and 5·10⁷ pongs.
            ("ping", &[i64v(100_000_000), i64v(0)], &[i64v(150_000_000)]),
            (
                "ping_indirect",
                &[i64v(10_000_000), i64v(0)],
                &[i64v(15_000_000)],
            ),
            ("few", &[i64v(1_000_000)], &[i64v(42)]),
        ],
    );
}

/// A tail call reaches whatever a plain call reaches: a host function (which may call back into
/// the guest), another instance's function, a host function through a table; a trap in the
/// callee names it, and the caller's frame is gone from the backtrace.
#[test]
fn tail_calls_to_host_functions_and_other_instances() {
    let provider = crate::common::load_wat(
        r#"(module
          (func (export "triple") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
          (func (export "boom") (param i32) (result i32) (unreachable)))"#,
    );
    let user = crate::common::load_wat(
        r#"(module
          (import "host" "double" (func $double (param i32) (result i32)))
          (import "host" "call_back" (func $call_back (param i32) (result i32)))
          (import "p" "triple" (func $triple (param i32) (result i32)))
          (import "p" "boom" (func $boom (param i32) (result i32)))
          (type $t (func (param i32) (result i32)))
          (table funcref (elem $double $triple))
          (func (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
          (func (export "to_host") (param i32) (result i32) (return_call $double (local.get 0)))
          (func (export "to_host_and_back") (param i32) (result i32)
            (return_call $call_back (local.get 0)))
          (func (export "to_other") (param i32) (result i32) (return_call $triple (local.get 0)))
          (func (export "via_table") (param i32) (param i32) (result i32)
            (return_call_indirect (type $t) (local.get 0) (local.get 1)))
          (func (export "to_trap") (param i32) (result i32) (return_call $boom (local.get 0))))"#,
    );
    let mut store = Store::new(());
    let p = Instance::new(&mut store, &provider.artifact, &[]).unwrap();
    let mut linker = Linker::new();
    linker.func_wrap("host", "double", |x: i32| x * 2).unwrap();
    linker
        .func_wrap(
            "host",
            "call_back",
            |mut caller: kiln_loader::Caller<'_, ()>,
             x: i32|
             -> Result<i32, kiln_loader::BoxError> {
                let inc = caller.get_export("inc").unwrap().into_func().unwrap();
                let mut out = [Val::I32(0)];
                inc.call(&mut caller, &[Val::I32(x)], &mut out)?;
                Ok(out[0].i32().unwrap() * 10)
            },
        )
        .unwrap();
    linker.instance(&mut store, "p", p).unwrap();
    let u = linker.instantiate(&mut store, &user.artifact).unwrap();
    let call = |store: &mut Store<()>, name: &str, args: &[Val]| u.call(store, name, args);
    assert_eq!(
        call(&mut store, "to_host", &[i32v(21)]).unwrap(),
        [i32v(42)]
    );
    assert_eq!(
        call(&mut store, "to_host_and_back", &[i32v(4)]).unwrap(),
        [i32v(50)]
    );
    assert_eq!(
        call(&mut store, "to_other", &[i32v(5)]).unwrap(),
        [i32v(15)]
    );
    assert_eq!(
        call(&mut store, "via_table", &[i32v(5), i32v(0)]).unwrap(),
        [i32v(10)]
    );
    assert_eq!(
        call(&mut store, "via_table", &[i32v(5), i32v(1)]).unwrap(),
        [i32v(15)]
    );
    let err = call(&mut store, "to_trap", &[i32v(1)]).unwrap_err();
    let trap = err.as_trap().unwrap();
    assert_eq!(trap.kind, kiln_loader::TrapKind::Unreachable, "{err}");
    assert_eq!(trap.func.as_deref(), Some("boom"), "{err}");
    let guest_frames: Vec<&str> = trap
        .backtrace
        .iter()
        .filter(|f| f.func_index.is_some())
        .map(|f| f.func_name.as_str())
        .collect();
    assert_eq!(guest_frames, ["boom"], "{:?}", trap.backtrace);
    // The store is fine afterwards.
    assert_eq!(call(&mut store, "to_host", &[i32v(1)]).unwrap(), [i32v(2)]);
}
