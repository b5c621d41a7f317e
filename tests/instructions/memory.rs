//! Loads and stores of every width, alignment-free access, endianness, size and grow.

use super::*;

#[test]
fn loads_stores_and_growth() {
    check(
        r#"(module
          (memory 1 3)
          (data (i32.const 0) "\01\02\03\04\05\06\07\08\ff")
          (func (export "load32") (param i32) (result i32) (i32.load (local.get 0)))
          (func (export "load8_s") (param i32) (result i32) (i32.load8_s (local.get 0)))
          (func (export "load16_u") (param i32) (result i64) (i64.load16_u offset=7 (local.get 0)))
          (func (export "roundtrip") (param i32 f64) (result f64)
            (f64.store offset=3 (local.get 0) (local.get 1))
            (f64.load offset=3 (local.get 0)))
          (func (export "store8") (param i32 i32) (result i32)
            (i32.store8 (local.get 0) (local.get 1)) (i32.load (i32.const 0)))
          (func (export "size") (result i32) (memory.size))
          (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
          (func (export "last") (result i32) (i32.load (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4)))))"#,
        &[
            ("load32", &[i32v(0)], &[i32v(0x0403_0201)]),
            ("load32", &[i32v(1)], &[i32v(0x0504_0302)]),
            ("load8_s", &[i32v(8)], &[i32v(-1)]),
            ("load16_u", &[i32v(0)], &[i64v(0xff08)]),
            ("roundtrip", &[i32v(100), f64v(-1.25)], &[f64v(-1.25)]),
            ("store8", &[i32v(0), i32v(0x1ff)], &[i32v(0x0403_02ff)]),
            ("size", &[], &[i32v(1)]),
            ("grow", &[i32v(1)], &[i32v(1)]),
            ("size", &[], &[i32v(2)]),
            ("last", &[], &[i32v(0)]),
            ("grow", &[i32v(2)], &[i32v(-1)]),
            ("grow", &[i32v(1)], &[i32v(2)]),
            ("grow", &[i32v(0)], &[i32v(3)]),
        ],
    );
}
