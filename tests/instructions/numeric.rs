//! Integer and float arithmetic, comparisons, conversions, sign extension, saturating truncation.

use super::*;

#[test]
fn i32_arithmetic_and_bits() {
    check(
        r#"(module
          (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
          (func (export "div_u") (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1)))
          (func (export "rem_s") (param i32 i32) (result i32) (i32.rem_s (local.get 0) (local.get 1)))
          (func (export "shl") (param i32 i32) (result i32) (i32.shl (local.get 0) (local.get 1)))
          (func (export "rotr") (param i32 i32) (result i32) (i32.rotr (local.get 0) (local.get 1)))
          (func (export "clz") (param i32) (result i32) (i32.clz (local.get 0)))
          (func (export "popcnt") (param i32) (result i32) (i32.popcnt (local.get 0)))
          (func (export "lt_s") (param i32 i32) (result i32) (i32.lt_s (local.get 0) (local.get 1)))
          (func (export "lt_u") (param i32 i32) (result i32) (i32.lt_u (local.get 0) (local.get 1))))"#,
        &[
            ("add", &[i32v(i32::MAX), i32v(1)], &[i32v(i32::MIN)]),
            ("div_u", &[i32v(-1), i32v(2)], &[i32v(0x7fff_ffff)]),
            ("rem_s", &[i32v(i32::MIN), i32v(-1)], &[i32v(0)]),
            ("rem_s", &[i32v(-7), i32v(2)], &[i32v(-1)]),
            ("shl", &[i32v(1), i32v(33)], &[i32v(2)]),
            ("rotr", &[i32v(1), i32v(1)], &[i32v(i32::MIN)]),
            ("clz", &[i32v(1)], &[i32v(31)]),
            ("popcnt", &[i32v(-1)], &[i32v(32)]),
            ("lt_s", &[i32v(-1), i32v(0)], &[i32v(1)]),
            ("lt_u", &[i32v(-1), i32v(0)], &[i32v(0)]),
        ],
    );
}

#[test]
fn i64_arithmetic_and_sign_extension() {
    check(
        r#"(module
          (func (export "mul") (param i64 i64) (result i64) (i64.mul (local.get 0) (local.get 1)))
          (func (export "shr_s") (param i64 i64) (result i64) (i64.shr_s (local.get 0) (local.get 1)))
          (func (export "ctz") (param i64) (result i64) (i64.ctz (local.get 0)))
          (func (export "ext8") (param i64) (result i64) (i64.extend8_s (local.get 0)))
          (func (export "ext32") (param i64) (result i64) (i64.extend32_s (local.get 0)))
          (func (export "wrap") (param i64) (result i32) (i32.wrap_i64 (local.get 0)))
          (func (export "extend_u") (param i32) (result i64) (i64.extend_i32_u (local.get 0))))"#,
        &[
            ("mul", &[i64v(1 << 62), i64v(4)], &[i64v(0)]),
            ("shr_s", &[i64v(-16), i64v(66)], &[i64v(-4)]),
            ("ctz", &[i64v(0)], &[i64v(64)]),
            ("ext8", &[i64v(0x80)], &[i64v(-128)]),
            ("ext32", &[i64v(0xffff_ffff)], &[i64v(-1)]),
            ("wrap", &[i64v(0x1_0000_0005)], &[i32v(5)]),
            ("extend_u", &[i32v(-1)], &[i64v(0xffff_ffff)]),
        ],
    );
}

#[test]
fn floats_follow_ieee_and_wasm_rules() {
    check(
        r#"(module
          (func (export "min") (param f32 f32) (result f32) (f32.min (local.get 0) (local.get 1)))
          (func (export "nearest") (param f64) (result f64) (f64.nearest (local.get 0)))
          (func (export "copysign") (param f64 f64) (result f64) (f64.copysign (local.get 0) (local.get 1)))
          (func (export "sqrt") (param f64) (result f64) (f64.sqrt (local.get 0)))
          (func (export "floor") (param f32) (result f32) (f32.floor (local.get 0)))
          (func (export "promote") (param f32) (result f64) (f64.promote_f32 (local.get 0)))
          (func (export "convert") (param i64) (result f32) (f32.convert_i64_u (local.get 0)))
          (func (export "reinterpret") (param f32) (result i32) (i32.reinterpret_f32 (local.get 0))))"#,
        &[
            ("min", &[f32v(0.0), f32v(-0.0)], &[f32v(-0.0)]),
            ("nearest", &[f64v(2.5)], &[f64v(2.0)]),
            ("nearest", &[f64v(-3.5)], &[f64v(-4.0)]),
            ("copysign", &[f64v(1.5), f64v(-0.0)], &[f64v(-1.5)]),
            ("sqrt", &[f64v(2.25)], &[f64v(1.5)]),
            ("floor", &[f32v(-1.5)], &[f32v(-2.0)]),
            ("promote", &[f32v(0.5)], &[f64v(0.5)]),
            ("convert", &[i64v(-1)], &[f32v(18446744073709551615.0)]),
            ("reinterpret", &[f32v(-0.0)], &[i32v(i32::MIN)]),
        ],
    );
    // NaN results are NaN (payload may vary as the spec allows).
    let (mut store, instance, _l) = crate::common::instantiate(
        r#"(module (func (export "div") (param f32 f32) (result f32) (f32.div (local.get 0) (local.get 1))))"#,
    );
    match instance
        .call(&mut store, "div", &[f32v(0.0), f32v(0.0)])
        .unwrap()[..]
    {
        [Val::F32(bits)] => assert!(f32::from_bits(bits).is_nan()),
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn saturating_truncation_never_traps() {
    check(
        r#"(module
          (func (export "sat_s") (param f32) (result i32) (i32.trunc_sat_f32_s (local.get 0)))
          (func (export "sat_u") (param f64) (result i64) (i64.trunc_sat_f64_u (local.get 0)))
          (func (export "trunc") (param f64) (result i32) (i32.trunc_f64_s (local.get 0))))"#,
        &[
            ("sat_s", &[f32v(f32::NAN)], &[i32v(0)]),
            ("sat_s", &[f32v(1e10)], &[i32v(i32::MAX)]),
            ("sat_s", &[f32v(-1e10)], &[i32v(i32::MIN)]),
            ("sat_u", &[f64v(-5.0)], &[i64v(0)]),
            ("sat_u", &[f64v(1e30)], &[i64v(-1)]),
            ("trunc", &[f64v(-2.9)], &[i32v(-2)]),
        ],
    );
}

/// Relaxed SIMD's one target-dependent choice (see `compiler/src/translate/ops_simd_relaxed.rs`):
/// `relaxed_madd` rounds once where the target has fused multiply-add and twice on x86_64
/// without it. `x·x - fl(x·x)` tells them apart: exactly 2⁻²⁴ fused, 0 unfused. Everything else
/// relaxed gives the same result on every target.
#[test]
fn relaxed_madd_is_fused_exactly_where_the_target_has_fma() {
    let x = f32::from_bits(0x3f80_0800); // 1 + 2⁻¹²
    let product = x * x; // rounded: 1 + 2⁻¹¹
    let fused = x.mul_add(x, -product);
    assert_eq!(fused, 2f32.powi(-24));
    let wat = format!(
        r#"(module
          (func (export "madd") (result f32)
            (f32x4.extract_lane 0
              (f32x4.relaxed_madd (f32x4.splat (f32.const {x:e})) (f32x4.splat (f32.const {x:e}))
                                  (f32x4.splat (f32.const {neg:e})))))
          (func (export "swizzle") (result i32)
            (i8x16.extract_lane_u 0
              (i8x16.relaxed_swizzle (v128.const i8x16 7 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0)
                                     (v128.const i8x16 200 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0))))
          (func (export "trunc") (result i32)
            (i32x4.extract_lane 0 (i32x4.relaxed_trunc_f32x4_s (f32x4.splat (f32.const nan))))))"#,
        neg = -product
    );
    let run = |options: &kiln_compiler::CompileOptions| {
        let loaded = common::load_wat_with(&wat, options);
        let mut store = Store::new(());
        let inst = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
        let call = |store: &mut Store<()>, name| inst.call(store, name, &[]).unwrap()[0];
        (
            call(&mut store, "madd").f32().unwrap(),
            call(&mut store, "swizzle"),
            call(&mut store, "trunc"),
        )
    };
    let host = run(&Default::default());
    // Out-of-range swizzle indices give 0, NaN truncates to 0, on every target.
    assert_eq!((host.1, host.2), (i32v(0), i32v(0)));
    let host_has_fma = !cfg!(target_arch = "x86_64") || std::is_x86_feature_detected!("fma");
    assert_eq!(host.0, if host_has_fma { fused } else { 0.0 });
    #[cfg(target_arch = "x86_64")]
    {
        // The x86_64 baseline (x86-64-v2) has no FMA: two roundings, on any x86_64 machine.
        let baseline = run(&kiln_compiler::CompileOptions {
            target: Some(kiln_format::Arch::X86_64),
            ..Default::default()
        });
        assert_eq!(baseline.0, 0.0);
        assert_eq!((baseline.1, baseline.2), (i32v(0), i32v(0)));
    }
}
