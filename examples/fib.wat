;; A small module for the README's first command: recursion, a loop, memory and a trap.
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "Kiln")
  ;; Naive recursion: exercises direct calls.
  (func $fib (export "fib") (param $n i32) (result i64)
    (if (result i64) (i32.lt_u (local.get $n) (i32.const 2))
      (then (i64.extend_i32_u (local.get $n)))
      (else (i64.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  ;; Sum of the bytes in [ptr, ptr + len): exercises loads and a loop.
  (func (export "checksum") (param $ptr i32) (param $len i32) (result i32) (local $sum i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $len)))
        (local.set $sum (i32.add (local.get $sum) (i32.load8_u (local.get $ptr))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (local.set $len (i32.sub (local.get $len) (i32.const 1)))
        (br $next)))
    (local.get $sum))
  ;; Out-of-bounds read: traps, and kiln reports where.
  (func (export "oops") (result i32) (i32.load (i32.const 70000))))
