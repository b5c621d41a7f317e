//! Blocks, loops, branches, br_table, multi-value blocks, select, early return.

use super::*;

#[test]
fn loops_branches_and_tables() {
    check(
        r#"(module
          (func (export "sum") (param i32) (result i32) (local i32)
            (block $done
              (loop $next
                (br_if $done (i32.eqz (local.get 0)))
                (local.set 1 (i32.add (local.get 1) (local.get 0)))
                (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                (br $next)))
            (local.get 1))
          (func (export "switch") (param i32) (result i32)
            (block $d (block $c (block $b (block $a
              (br_table $a $b $c $d (local.get 0)))
              (return (i32.const 10)))
              (return (i32.const 20)))
              (return (i32.const 30)))
            (i32.const 99))
          (func (export "select") (param i32) (result i64)
            (select (i64.const 1) (i64.const 2) (local.get 0)))
          (func (export "early") (param i32) (result i32)
            (if (local.get 0) (then (return (i32.const 1))))
            (i32.const 0)))"#,
        &[
            ("sum", &[i32v(100)], &[i32v(5050)]),
            ("switch", &[i32v(0)], &[i32v(10)]),
            ("switch", &[i32v(2)], &[i32v(30)]),
            ("switch", &[i32v(3)], &[i32v(99)]),
            ("switch", &[i32v(1000)], &[i32v(99)]),
            ("select", &[i32v(0)], &[i64v(2)]),
            ("early", &[i32v(1)], &[i32v(1)]),
            ("early", &[i32v(0)], &[i32v(0)]),
        ],
    );
}

#[test]
fn multi_value_blocks_and_functions() {
    check(
        r#"(module
          (func $swap (param i32 i32) (result i32 i32) (local.get 1) (local.get 0))
          (func (export "swap") (param i32 i32) (result i32 i32) (call $swap (local.get 0) (local.get 1)))
          (func (export "block") (param i32) (result i32)
            (local.get 0) (local.get 0)
            (block (param i32) (result i32 i32) (i32.mul (i32.const 2)) (i32.const 1))
            (i32.add) (i32.add))
          (func (export "many") (result i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
            (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4) (i64.const 5)
            (i64.const 6) (i64.const 7) (i64.const 8) (i64.const 9) (i64.const 10)))"#,
        &[
            ("swap", &[i32v(1), i32v(2)], &[i32v(2), i32v(1)]),
            ("block", &[i32v(5)], &[i32v(16)]),
            (
                "many",
                &[],
                &[
                    i64v(1),
                    i64v(2),
                    i64v(3),
                    i64v(4),
                    i64v(5),
                    i64v(6),
                    i64v(7),
                    i64v(8),
                    i64v(9),
                    i64v(10),
                ],
            ),
        ],
    );
}
