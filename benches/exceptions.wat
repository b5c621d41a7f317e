;; Throw+catch cost (benches/README.md, "Exceptions"): `throw_catch n depth` throws n exceptions,
;; each from `depth` + 2 frames below its handler; `return_only n depth` makes the same calls
;; returning normally, inside the same try_table.
(module
  (tag $e (param i32))
  (func $thrower (param i32) (throw $e (local.get 0)))
  (func $deep (param i32 i32)
    (if (i32.eqz (local.get 1)) (then (call $thrower (local.get 0)) (return)))
    (call $deep (local.get 0) (i32.sub (local.get 1) (i32.const 1))))
  ;; n throws, each from `depth` frames down, caught by catch (no exnref).
  (func (export "throw_catch") (param $n i32) (param $depth i32) (result i32)
    (local $sum i32)
    (loop $l
      (block $h (result i32)
        (try_table (catch $e $h) (call $deep (local.get $n) (local.get $depth)))
        (unreachable))
      (local.set $sum (i32.add (local.get $sum)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $sum))
  ;; The same calls, returning normally: the cost without the throw.
  (func $deep_ret (param i32 i32) (result i32)
    (if (result i32) (i32.eqz (local.get 1)) (then (local.get 0))
      (else (call $deep_ret (local.get 0) (i32.sub (local.get 1) (i32.const 1))))))
  (func (export "return_only") (param $n i32) (param $depth i32) (result i32)
    (local $sum i32)
    (loop $l
      (block $h (result i32)
        (try_table (result i32) (catch $e $h) (call $deep_ret (local.get $n) (local.get $depth))))
      (local.set $sum (i32.add (local.get $sum)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $sum)))
