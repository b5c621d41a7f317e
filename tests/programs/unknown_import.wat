;; Imports a function nothing defines: `kiln run` refuses it unless told to define it as
;; returning zeros (exit status 0 + 4) or as trapping.
(module
  (import "env" "missing" (func $missing (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $exit (i32.add (call $missing (i32.const 5)) (i32.const 4)))))
