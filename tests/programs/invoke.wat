;; A WASI reactor for `kiln run --invoke`: `_initialize` runs first, results are printed, and
;; proc_exit still sets the exit status.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (global $base (mut i64) (i64.const 0))
  (func (export "_initialize") (global.set $base (i64.const 1000)))
  (func (export "add") (param i32 i64) (result i64)
    (i64.add (global.get $base) (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1))))
  (func (export "quit") (param i32)
    (call $exit (local.get 0))))
