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
        TableType::new(ValType::FuncRef, 2, None),
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
