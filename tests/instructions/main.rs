//! Per instruction group: small modules in WAT that compile, load from a real artifact file, and
//! compute what the specification says.

#[path = "../common/mod.rs"]
mod common;

mod bulk_and_tables;
mod calls_and_linking;
mod control;
mod memory;
mod numeric;
mod typed_refs;
mod variables;

use kiln_loader::{Instance, Store, Val};

/// Instantiates `wat` and checks each `(export, args, expected results)`.
pub fn check(wat: &str, cases: &[(&str, &[Val], &[Val])]) {
    let (mut store, instance, _loaded) = common::instantiate(wat);
    check_in(&mut store, &instance, cases);
}

/// Checks each `(export, args, expected results)` of an instance, in order.
pub fn check_in(store: &mut Store<()>, instance: &Instance, cases: &[(&str, &[Val], &[Val])]) {
    for (name, args, expected) in cases {
        let got = instance
            .call(&mut *store, name, args)
            .unwrap_or_else(|e| panic!("{name}{args:?}: {e}"));
        assert_eq!(&got, expected, "{name}{args:?}");
    }
}

/// Shorthands for values.
pub fn i32v(v: i32) -> Val {
    Val::I32(v)
}
/// An i64 value.
pub fn i64v(v: i64) -> Val {
    Val::I64(v)
}
/// An f32 value.
pub fn f32v(v: f32) -> Val {
    Val::F32(v.to_bits())
}
/// An f64 value.
pub fn f64v(v: f64) -> Val {
    Val::F64(v.to_bits())
}
