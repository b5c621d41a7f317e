;; The guest: a little state in memory, and a data segment (copied into memory: a static image has
;; no file to map it from).
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "built in")
  (global $calls (mut i32) (i32.const 0))
  (func (export "answer") (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.add (i32.const 41) (global.get $calls))))
