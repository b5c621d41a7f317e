//! Typed function references: `call_ref`, `br_on_null`/`br_on_non_null`, `ref.as_non_null`,
//! typed tables and globals, declared subtypes across instances, and what the host API checks
//! against typed signatures.

use super::*;
use crate::common::load_wat;
use kiln_loader::{
    Error, Func, FuncType, HeapType, Instance, Linker, RefType, Store, TrapKind, Val, ValType,
};

fn trap_kind(e: &Error) -> Option<TrapKind> {
    e.as_trap().map(|t| t.kind)
}

#[test]
fn call_ref_and_null_checks() {
    let (mut store, instance, _l) = crate::common::instantiate(
        r#"(module
          (type $binop (func (param i32 i32) (result i32)))
          (func $add (type $binop) (i32.add (local.get 0) (local.get 1)))
          (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))
          (elem declare func $add $sub)
          (table $ops 2 (ref null $binop))
          (elem (table $ops) (i32.const 0) (ref null $binop) (ref.func $add) (ref.func $sub))
          (func (export "apply") (param i32 i32 i32) (result i32)
            (call_ref $binop (local.get 1) (local.get 2) (table.get $ops (local.get 0))))
          (func (export "tail") (param i32) (result i32)
            (return_call_ref $binop (local.get 0) (i32.const 1) (ref.func $add)))
          (func (export "null") (result i32)
            (call_ref $binop (i32.const 1) (i32.const 2) (ref.null $binop)))
          (func (export "non_null") (param i32) (result i32)
            (ref.is_null (ref.as_non_null (table.get $ops (local.get 0)))))
          (func (export "on_null") (param i32) (result i32)
            (block $null
              (br_on_null $null (table.get $ops (local.get 0)))
              (drop)
              (return (i32.const 1)))
            (i32.const 0))
          (func (export "on_non_null") (param i32) (result i32)
            (local $r (ref null $binop))
            (block $some (result (ref $binop))
              (br_on_non_null $some (table.get $ops (local.get 0)))
              (return (i32.const -1)))
            (local.set $r)
            (call_ref $binop (i32.const 10) (i32.const 4) (local.get $r)))
          (func (export "grow_null") (result i32)
            (table.grow $ops (ref.null $binop) (i32.const 1))))"#,
    );
    check_in(
        &mut store,
        &instance,
        &[
            ("apply", &[i32v(0), i32v(7), i32v(5)], &[i32v(12)]),
            ("apply", &[i32v(1), i32v(7), i32v(5)], &[i32v(2)]),
            ("tail", &[i32v(41)], &[i32v(42)]),
            ("non_null", &[i32v(1)], &[i32v(0)]),
            ("on_null", &[i32v(0)], &[i32v(1)]),
            ("on_non_null", &[i32v(1)], &[i32v(6)]),
            ("grow_null", &[], &[i32v(2)]),
            ("on_null", &[i32v(2)], &[i32v(0)]),
            ("on_non_null", &[i32v(2)], &[i32v(-1)]),
        ],
    );
    let err = instance.call(&mut store, "null", &[]).unwrap_err();
    assert_eq!(
        trap_kind(&err),
        Some(TrapKind::NullFunctionReference),
        "{err}"
    );
    let err = instance
        .call(&mut store, "non_null", &[i32v(2)])
        .unwrap_err();
    assert_eq!(trap_kind(&err), Some(TrapKind::NullReference), "{err}");
    let err = instance.call(&mut store, "apply", &[i32v(2), i32v(1), i32v(1)]);
    assert_eq!(
        trap_kind(&err.unwrap_err()),
        Some(TrapKind::NullFunctionReference)
    );
}

/// Two modules declare the same non-final type and a subtype of it; a function of the subtype
/// made by one is called through `call_indirect` of the supertype by the other, which takes the
/// registry's subtype check, and a function of an unrelated type still traps.
#[test]
fn call_indirect_accepts_declared_subtypes_across_instances() {
    let provider = load_wat(
        r#"(module
          (type $base (sub (func (result i32))))
          (type $derived (sub $base (func (result i32))))
          (type $other (sub (func (param i32) (result i32))))
          (func $d (export "d") (type $derived) (i32.const 7))
          (func $b (export "b") (type $base) (i32.const 9))
          (func $o (export "o") (type $other) (local.get 0))
          (table (export "tab") 2 funcref)
          (elem (i32.const 0) $d $o))"#,
    );
    let user = load_wat(
        r#"(module
          (type $base (sub (func (result i32))))
          (type $derived (sub $base (func (result i32))))
          (import "p" "tab" (table 2 funcref))
          (import "p" "d" (func $d (type $base)))
          (func (export "base") (param i32) (result i32)
            (call_indirect (type $base) (local.get 0)))
          (func (export "derived") (param i32) (result i32)
            (call_indirect (type $derived) (local.get 0)))
          (func (export "imported") (result i32) (call $d)))"#,
    );
    let mut store = Store::new(());
    let p = Instance::new(&mut store, &provider.artifact, &[]).unwrap();
    let mut linker = Linker::new();
    for name in ["tab", "d"] {
        let export = p.get_export(&mut store, name).unwrap();
        linker.define(&store, "p", name, export).unwrap();
    }
    let u = linker.instantiate(&mut store, &user.artifact).unwrap();
    check_in(
        &mut store,
        &u,
        &[
            ("base", &[i32v(0)], &[i32v(7)]),
            ("derived", &[i32v(0)], &[i32v(7)]),
            ("imported", &[], &[i32v(7)]),
        ],
    );
    for export in ["base", "derived"] {
        let err = u.call(&mut store, export, &[i32v(1)]).unwrap_err();
        assert_eq!(
            trap_kind(&err),
            Some(TrapKind::BadSignature),
            "{export}: {err}"
        );
    }

    // Linking is covariant for functions: a supertype's function cannot stand for a subtype.
    let wants_derived = load_wat(
        r#"(module
          (type $base (sub (func (result i32))))
          (type $derived (sub $base (func (result i32))))
          (import "p" "b" (func (type $derived))))"#,
    );
    let mut linker = Linker::new();
    let b = p.get_export(&mut store, "b").unwrap();
    linker.define(&store, "p", "b", b).unwrap();
    let err = linker
        .instantiate(&mut store, &wants_derived.artifact)
        .unwrap_err();
    assert!(
        err.to_string().contains("incompatible import type"),
        "{err}"
    );
}

/// The host sees typed signatures, and what it passes is checked against them.
#[test]
fn host_calls_check_typed_references() {
    let (mut store, instance, _l) = crate::common::instantiate(
        r#"(module
          (type $t (func (result i32)))
          (type $u (func (result i64)))
          (func $f (export "f") (type $t) (i32.const 42))
          (func $g (export "g") (type $u) (i64.const 1))
          (func (export "call") (param (ref $t)) (result i32) (call_ref $t (local.get 0)))
          (func (export "maybe") (param (ref null $t)) (result i32)
            (if (result i32) (ref.is_null (local.get 0))
              (then (i32.const -1)) (else (call_ref $t (local.get 0)))))
          (global (export "gf") (ref $t) (ref.func $f)))"#,
    );
    let call = instance.get_func(&mut store, "call").unwrap();
    let ty = call.ty(&store);
    let ValType::Ref(param) = ty.params()[0] else {
        panic!("{ty}")
    };
    assert!(!param.is_nullable());
    let HeapType::Concrete(id) = param.heap_type() else {
        panic!("{ty}")
    };
    assert_eq!(
        id.func_type(),
        Some(FuncType::new([], [ValType::I32])),
        "the concrete type is the canonical (func (result i32))"
    );
    assert!(param.matches(RefType::FUNCREF));
    assert!(!RefType::FUNCREF.matches(param));

    let f = instance.get_func(&mut store, "f").unwrap();
    let g = instance.get_func(&mut store, "g").unwrap();
    assert_eq!(
        instance
            .call(&mut store, "call", &[Val::FuncRef(Some(f))])
            .unwrap(),
        [i32v(42)]
    );
    for bad in [Val::FuncRef(None), Val::FuncRef(Some(g)), i32v(1)] {
        let err = instance.call(&mut store, "call", &[bad]).unwrap_err();
        assert!(matches!(err, Error::Type(_)), "{bad}: {err}");
    }
    assert_eq!(
        instance
            .call(&mut store, "maybe", &[Val::FuncRef(None)])
            .unwrap(),
        [i32v(-1)]
    );
    // A host function of the same signature has the same canonical type: it is a `(ref $t)`.
    let host = Func::wrap(&mut store, || 5i32);
    assert!(Val::FuncRef(Some(host)).matches(&store, ty.params()[0]));
    let gf = instance.get_global(&mut store, "gf").unwrap();
    assert!(gf.get(&mut store).func_ref().is_some());
}

/// A table of non-nullable references needs an initializer, which every element gets.
#[test]
fn typed_table_initializers() {
    check(
        r#"(module
          (type $t (func (result i32)))
          (func $f (type $t) (i32.const 3))
          (elem declare func $f)
          (table $tab 4 (ref $t) (ref.func $f))
          (func (export "sum") (result i32)
            (i32.add
              (call_ref $t (table.get $tab (i32.const 0)))
              (call_ref $t (table.get $tab (i32.const 3))))))"#,
        &[("sum", &[], &[i32v(6)])],
    );
}

/// An immutable global import accepts a subtype; a mutable one only its own type.
#[test]
fn global_imports_follow_subtyping() {
    let provider = load_wat(
        r#"(module
          (type $t (func))
          (func $f (type $t))
          (global (export "c") (ref $t) (ref.func $f))
          (global (export "m") (mut (ref null $t)) (ref.null $t)))"#,
    );
    let mut store = Store::new(());
    let p = Instance::new(&mut store, &provider.artifact, &[]).unwrap();
    let link = |store: &mut Store<()>, wat: &str| {
        let user = load_wat(wat);
        let mut linker = Linker::new();
        for name in ["c", "m"] {
            let export = p.get_export(&mut *store, name).unwrap();
            linker.define(&*store, "p", name, export).unwrap();
        }
        linker.instantiate(store, &user.artifact).map(|_| ())
    };
    link(&mut store, r#"(module (import "p" "c" (global funcref)))"#).unwrap();
    link(
        &mut store,
        r#"(module (type $t (func)) (import "p" "m" (global (mut (ref null $t)))))"#,
    )
    .unwrap();
    let err = link(
        &mut store,
        r#"(module (import "p" "m" (global (mut funcref))))"#,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("incompatible import type"),
        "{err}"
    );
}
