;; Reads far outside its memory.
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 0))
  (func $deref (param $p i32) (result i32) (i32.load (local.get $p)))
  (func (export "run") (result i32) (call $deref (i32.const 0x7fff0000))))
