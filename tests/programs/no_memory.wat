;; A module without a memory calling WASI functions that take pointers: they fail with EFAULT
;; (21) instead of crashing; the errno becomes the exit status.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (func (export "_start")
    (if (i32.ne (call $random_get (i32.const 0) (i32.const 0)) (i32.const 0))
      (then (call $exit (i32.const 99))))
    (call $exit (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 0)))))
