;; Asks the host for a greeting (the host calls back into `alloc` to place it in this plugin's
;; memory), upper-cases it in place and hands it back to the host's log.
(module
  (import "host" "greeting" (func $greeting (result i32 i32)))
  (import "host" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (func (export "alloc") (param $size i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $size)))
    (local.get $at))
  (func (export "run") (result i32)
    (local $ptr i32) (local $len i32) (local $i i32) (local $c i32)
    (call $greeting)
    (local.set $len)
    (local.set $ptr)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
          (then (i32.store8 (i32.add (local.get $ptr) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (call $log (local.get $ptr) (local.get $len))
    (i32.const 0)))
