//! Locals, globals (mutable, imported, exported) and reference values.

use super::*;

#[test]
fn locals_and_globals() {
    check(
        r#"(module
          (global $g (mut i32) (i32.const 10))
          (global $f (mut f64) (f64.const 1.5))
          (global $c i64 (i64.const -7))
          (func (export "bump") (result i32)
            (global.set $g (i32.add (global.get $g) (i32.const 1))) (global.get $g))
          (func (export "tee") (param i32) (result i32) (local i32)
            (i32.add (local.tee 1 (local.get 0)) (local.get 1)))
          (func (export "f") (result f64) (global.set $f (f64.mul (global.get $f) (f64.const 2))) (global.get $f))
          (func (export "c") (result i64) (global.get $c))
          (func (export "zero") (result i64 f32 funcref) (local i64 f32 funcref)
            (local.get 0) (local.get 1) (local.get 2)))"#,
        &[
            ("bump", &[], &[i32v(11)]),
            ("bump", &[], &[i32v(12)]),
            ("tee", &[i32v(21)], &[i32v(42)]),
            ("f", &[], &[f64v(3.0)]),
            ("c", &[], &[i64v(-7)]),
            ("zero", &[], &[i64v(0), f32v(0.0), Val::FuncRef(None)]),
        ],
    );
}
