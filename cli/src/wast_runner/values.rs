//! Conversions between `.wast` constants and [`Val`]s, and matching of results against expected
//! patterns (NaN classes, lane patterns, reference kinds).

use kiln_loader::{ExternRef, Store, Val};
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::token::{F32, F64};
use wast::{WastArg, WastRet};

/// Converts an `invoke` argument to a value of `store` (`ref.extern N` becomes a host value `N`).
pub fn arg_to_val(store: &mut Store<()>, arg: &WastArg<'_>) -> Result<Val, String> {
    let WastArg::Core(core) = arg else {
        return Err("component-model argument".into());
    };
    Ok(match core {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(ty) => match null_kind(ty) {
            Some(NullKind::Func) => Val::FuncRef(None),
            Some(NullKind::Extern) => Val::ExternRef(None),
            Some(NullKind::Any) => Val::AnyRef(None),
            Some(NullKind::Exn) => Val::ExnRef(None),
            None => return Err(format!("unsupported null reference type {ty:?}")),
        },
        WastArgCore::RefExtern(n) => {
            let r = ExternRef::new(store, *n).map_err(|e| e.to_string())?;
            Val::ExternRef(Some(r))
        }
        WastArgCore::RefHost(_) => return Err("`ref.host` arguments are not supported".into()),
    })
}

/// The reference hierarchies Kiln has values of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NullKind {
    Func,
    Extern,
    Any,
    Exn,
}

fn null_kind(ty: &HeapType<'_>) -> Option<NullKind> {
    match ty {
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Func | AbstractHeapType::NoFunc,
        } => Some(NullKind::Func),
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Extern | AbstractHeapType::NoExtern,
        } => Some(NullKind::Extern),
        HeapType::Abstract {
            shared: false,
            ty:
                AbstractHeapType::Any
                | AbstractHeapType::Eq
                | AbstractHeapType::I31
                | AbstractHeapType::Struct
                | AbstractHeapType::Array
                | AbstractHeapType::None,
        } => Some(NullKind::Any),
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Exn | AbstractHeapType::NoExn,
        } => Some(NullKind::Exn),
        // Why func: the only concrete types Kiln has values of are function types.
        HeapType::Concrete(_) => Some(NullKind::Func),
        _ => None,
    }
}

/// Checks `actual`, a value of `store`, against an expected result; `Err` says why it does not
/// match.
pub fn check_result(store: &Store<()>, expected: &WastRet<'_>, actual: &Val) -> Result<(), String> {
    let WastRet::Core(core) = expected else {
        return Err("component-model result patterns are not supported".into());
    };
    if matches(store, core, actual) {
        return Ok(());
    }
    let got = match (core, actual) {
        // Show the vector in the lane shape the script expects.
        (WastRetCore::V128(p), Val::V128(v)) => format!("{} (0x{v:032x})", v128_lanes(p, *v)),
        _ => show(actual),
    };
    Err(format!("expected {}, got {got}", describe(core)))
}

/// The host value of a `ref.extern N` the script passed in.
fn extern_value(store: &Store<()>, r: &ExternRef) -> Option<u32> {
    r.data(store).ok()?.downcast_ref::<u32>().copied()
}

/// Whether `actual`, a value of `store`, matches the pattern.
pub fn matches(store: &Store<()>, expected: &WastRetCore<'_>, actual: &Val) -> bool {
    match (expected, actual) {
        (WastRetCore::I32(e), Val::I32(a)) => e == a,
        (WastRetCore::I64(e), Val::I64(a)) => e == a,
        (WastRetCore::F32(p), Val::F32(a)) => f32_matches(p, *a),
        (WastRetCore::F64(p), Val::F64(a)) => f64_matches(p, *a),
        (WastRetCore::V128(p), Val::V128(a)) => v128_matches(p, *a),
        (WastRetCore::RefNull(ty), Val::FuncRef(None)) => ty
            .as_ref()
            .is_none_or(|t| null_kind(t) == Some(NullKind::Func)),
        (WastRetCore::RefNull(ty), Val::ExternRef(None)) => ty
            .as_ref()
            .is_none_or(|t| null_kind(t) == Some(NullKind::Extern)),
        (WastRetCore::RefNull(ty), Val::AnyRef(None)) => ty
            .as_ref()
            .is_none_or(|t| null_kind(t) == Some(NullKind::Any)),
        (WastRetCore::RefNull(ty), Val::ExnRef(None)) => ty
            .as_ref()
            .is_none_or(|t| null_kind(t) == Some(NullKind::Exn)),
        (WastRetCore::RefExtern(e), Val::ExternRef(Some(a))) => {
            e.is_none_or(|n| extern_value(store, a) == Some(n))
        }
        // Function references have no identity the script can name; any non-null one matches.
        (WastRetCore::RefFunc(_), Val::FuncRef(Some(_))) => true,
        (WastRetCore::Either(alts), a) => alts.iter().any(|p| matches(store, p, a)),
        _ => false,
    }
}

/// The canonical NaN payload: only the quiet bit set.
const F32_CANONICAL: u32 = 0x7fc0_0000;
const F64_CANONICAL: u64 = 0x7ff8_0000_0000_0000;

/// Matches f32 bits: exact bits for a value, quiet-bit patterns for NaN classes.
pub fn f32_matches(pattern: &NanPattern<F32>, bits: u32) -> bool {
    match pattern {
        NanPattern::Value(v) => v.bits == bits,
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == F32_CANONICAL,
        NanPattern::ArithmeticNan => bits & F32_CANONICAL == F32_CANONICAL,
    }
}

/// Matches f64 bits: exact bits for a value, quiet-bit patterns for NaN classes.
pub fn f64_matches(pattern: &NanPattern<F64>, bits: u64) -> bool {
    match pattern {
        NanPattern::Value(v) => v.bits == bits,
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == F64_CANONICAL,
        NanPattern::ArithmeticNan => bits & F64_CANONICAL == F64_CANONICAL,
    }
}

/// Matches a v128 lane by lane (lanes are little-endian, lane 0 in the low bits).
pub fn v128_matches(pattern: &V128Pattern, v: u128) -> bool {
    let b = v.to_le_bytes();
    match pattern {
        V128Pattern::I8x16(l) => l.iter().zip(b).all(|(e, a)| *e as u8 == a),
        V128Pattern::I16x8(l) => l
            .iter()
            .zip(b.chunks_exact(2))
            .all(|(e, a)| e.to_le_bytes() == a),
        V128Pattern::I32x4(l) => l
            .iter()
            .zip(b.chunks_exact(4))
            .all(|(e, a)| e.to_le_bytes() == a),
        V128Pattern::I64x2(l) => l
            .iter()
            .zip(b.chunks_exact(8))
            .all(|(e, a)| e.to_le_bytes() == a),
        V128Pattern::F32x4(l) => l.iter().zip(b.chunks_exact(4)).all(|(p, a)| {
            let mut lane = [0; 4];
            lane.copy_from_slice(a);
            f32_matches(p, u32::from_le_bytes(lane))
        }),
        V128Pattern::F64x2(l) => l.iter().zip(b.chunks_exact(8)).all(|(p, a)| {
            let mut lane = [0; 8];
            lane.copy_from_slice(a);
            f64_matches(p, u64::from_le_bytes(lane))
        }),
    }
}

fn shape(p: &V128Pattern) -> &'static str {
    match p {
        V128Pattern::I8x16(_) => "i8x16",
        V128Pattern::I16x8(_) => "i16x8",
        V128Pattern::I32x4(_) => "i32x4",
        V128Pattern::I64x2(_) => "i64x2",
        V128Pattern::F32x4(_) => "f32x4",
        V128Pattern::F64x2(_) => "f64x2",
    }
}

/// `v` split into the lanes of `p`'s shape, for messages.
fn v128_lanes(p: &V128Pattern, v: u128) -> String {
    let b = v.to_le_bytes();
    let lanes: Vec<String> = match p {
        V128Pattern::I8x16(_) => b.iter().map(|x| (*x as i8).to_string()).collect(),
        V128Pattern::I16x8(_) => b
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]).to_string())
            .collect(),
        V128Pattern::I32x4(_) | V128Pattern::F32x4(_) => b
            .chunks_exact(4)
            .map(|c| {
                let bits = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                match p {
                    V128Pattern::F32x4(_) => f32::from_bits(bits).to_string(),
                    _ => (bits as i32).to_string(),
                }
            })
            .collect(),
        V128Pattern::I64x2(_) | V128Pattern::F64x2(_) => b
            .chunks_exact(8)
            .map(|c| {
                let mut lane = [0; 8];
                lane.copy_from_slice(c);
                let bits = u64::from_le_bytes(lane);
                match p {
                    V128Pattern::F64x2(_) => f64::from_bits(bits).to_string(),
                    _ => (bits as i64).to_string(),
                }
            })
            .collect(),
    };
    format!("v128 {} {}", shape(p), lanes.join(" "))
}

/// A value for messages, with float bits so NaN payloads are visible.
pub fn show(v: &Val) -> String {
    match v {
        Val::F32(b) => format!("{}:f32 (0x{b:08x})", f32::from_bits(*b)),
        Val::F64(b) => format!("{}:f64 (0x{b:016x})", f64::from_bits(*b)),
        other => other.to_string(),
    }
}

/// An expected pattern for messages.
pub fn describe(p: &WastRetCore<'_>) -> String {
    fn nan32(p: &NanPattern<F32>) -> String {
        match p {
            NanPattern::Value(v) => format!("{} (0x{:08x})", f32::from_bits(v.bits), v.bits),
            NanPattern::CanonicalNan => "nan:canonical".into(),
            NanPattern::ArithmeticNan => "nan:arithmetic".into(),
        }
    }
    fn nan64(p: &NanPattern<F64>) -> String {
        match p {
            NanPattern::Value(v) => format!("{} (0x{:016x})", f64::from_bits(v.bits), v.bits),
            NanPattern::CanonicalNan => "nan:canonical".into(),
            NanPattern::ArithmeticNan => "nan:arithmetic".into(),
        }
    }
    match p {
        WastRetCore::I32(v) => format!("{v}:i32"),
        WastRetCore::I64(v) => format!("{v}:i64"),
        WastRetCore::F32(n) => format!("{}:f32", nan32(n)),
        WastRetCore::F64(n) => format!("{}:f64", nan64(n)),
        WastRetCore::V128(p) => {
            let lanes: Vec<String> = match p {
                V128Pattern::I8x16(l) => l.iter().map(|x| x.to_string()).collect(),
                V128Pattern::I16x8(l) => l.iter().map(|x| x.to_string()).collect(),
                V128Pattern::I32x4(l) => l.iter().map(|x| x.to_string()).collect(),
                V128Pattern::I64x2(l) => l.iter().map(|x| x.to_string()).collect(),
                V128Pattern::F32x4(l) => l.iter().map(nan32).collect(),
                V128Pattern::F64x2(l) => l.iter().map(nan64).collect(),
            };
            format!("v128 {} {}", shape(p), lanes.join(" "))
        }
        WastRetCore::RefNull(_) => "ref.null".into(),
        WastRetCore::RefExtern(Some(n)) => format!("{n}:externref"),
        WastRetCore::RefExtern(None) => "non-null externref".into(),
        WastRetCore::RefFunc(_) => "non-null funcref".into(),
        WastRetCore::Either(alts) => {
            let alts: Vec<String> = alts.iter().map(describe).collect();
            format!("either({})", alts.join(" | "))
        }
        other => format!("{other:?} (unsupported pattern)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32p(bits: u32) -> NanPattern<F32> {
        NanPattern::Value(F32 { bits })
    }

    #[test]
    fn f32_nan_classes() {
        let canon = NanPattern::CanonicalNan;
        let arith = NanPattern::ArithmeticNan;
        assert!(f32_matches(&canon, 0x7fc0_0000));
        assert!(f32_matches(&canon, 0xffc0_0000));
        assert!(!f32_matches(&canon, 0x7fc0_0001));
        assert!(!f32_matches(&canon, 0x7fa0_0000));
        assert!(f32_matches(&arith, 0x7fc0_0001));
        assert!(f32_matches(&arith, 0xffe0_0000));
        // A signalling NaN is not arithmetic; neither is infinity.
        assert!(!f32_matches(&arith, 0x7fa0_0000));
        assert!(!f32_matches(&arith, 0x7f80_0000));
        assert!(!f32_matches(&canon, 0x3f80_0000));
    }

    #[test]
    fn f64_nan_classes() {
        let canon = NanPattern::CanonicalNan;
        let arith = NanPattern::ArithmeticNan;
        assert!(f64_matches(&canon, 0x7ff8_0000_0000_0000));
        assert!(f64_matches(&canon, 0xfff8_0000_0000_0000));
        assert!(!f64_matches(&canon, 0x7ff8_0000_0000_0001));
        assert!(f64_matches(&arith, 0x7ffc_0000_0000_0001));
        assert!(!f64_matches(&arith, 0x7ff4_0000_0000_0000));
        assert!(!f64_matches(&arith, 0x7ff0_0000_0000_0000));
    }

    #[test]
    fn concrete_floats_compare_bits() {
        // -0.0 and 0.0 differ; a specific NaN payload must match exactly.
        assert!(f32_matches(&f32p(0x8000_0000), 0x8000_0000));
        assert!(!f32_matches(&f32p(0x8000_0000), 0));
        assert!(f32_matches(&f32p(0x7fa0_0000), 0x7fa0_0000));
        assert!(!f32_matches(&f32p(0x7fa0_0000), 0x7fc0_0000));
        let p = WastRetCore::F64(NanPattern::Value(F64 { bits: 1 }));
        let store = Store::new(());
        assert!(matches(&store, &p, &Val::F64(1)));
        assert!(!matches(&store, &p, &Val::F32(1)));
    }

    #[test]
    fn v128_lanes() {
        let v = u128::from_le_bytes([
            1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0xc0, 0x7f, 0, 0, 0x80, 0x3f,
        ]);
        assert!(v128_matches(
            &V128Pattern::I32x4([1, -1, 0x7fc0_0000, 0x3f80_0000]),
            v
        ));
        assert!(!v128_matches(&V128Pattern::I32x4([1, -1, 0, 0]), v));
        let f = V128Pattern::F32x4([
            f32p(1),
            NanPattern::ArithmeticNan,
            NanPattern::CanonicalNan,
            f32p(0x3f80_0000),
        ]);
        assert!(v128_matches(&f, v));
        let mut bytes = [0u8; 16];
        bytes[0] = 0xfe;
        bytes[15] = 7;
        let v = u128::from_le_bytes(bytes);
        let mut lanes = [0i8; 16];
        lanes[0] = -2;
        lanes[15] = 7;
        assert!(v128_matches(&V128Pattern::I8x16(lanes), v));
        assert!(v128_matches(&V128Pattern::I64x2([0xfe, 7 << 56]), v));
    }

    #[test]
    fn references() {
        let func_null = WastRetCore::RefNull(Some(HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Func,
        }));
        let mut store = Store::new(());
        let three = Val::ExternRef(Some(ExternRef::new(&mut store, 3u32).unwrap()));
        let four = Val::ExternRef(Some(ExternRef::new(&mut store, 4u32).unwrap()));
        let store = &store;
        assert!(matches(store, &func_null, &Val::FuncRef(None)));
        assert!(!matches(store, &func_null, &Val::ExternRef(None)));
        assert!(matches(
            store,
            &WastRetCore::RefNull(None),
            &Val::ExternRef(None)
        ));
        assert!(matches(store, &WastRetCore::RefExtern(Some(3)), &three));
        assert!(!matches(store, &WastRetCore::RefExtern(Some(3)), &four));
        assert!(!matches(
            store,
            &WastRetCore::RefExtern(Some(3)),
            &Val::ExternRef(None)
        ));
        assert!(!matches(
            store,
            &WastRetCore::RefFunc(None),
            &Val::FuncRef(None)
        ));
        let either = WastRetCore::Either(vec![WastRetCore::I32(1), WastRetCore::I32(2)]);
        assert!(matches(store, &either, &Val::I32(2)));
        assert!(!matches(store, &either, &Val::I32(3)));
    }

    #[test]
    fn arguments() {
        let mut store = Store::new(());
        let mut arg = |c| arg_to_val(&mut store, &WastArg::Core(c)).unwrap();
        let five = arg(WastArgCore::RefExtern(5)).extern_ref().unwrap();
        assert_eq!(
            arg(WastArgCore::F32(F32 { bits: 0x7fa0_0000 })),
            Val::F32(0x7fa0_0000)
        );
        let null = WastArgCore::RefNull(HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Extern,
        });
        assert_eq!(arg(null), Val::ExternRef(None));
        assert_eq!(extern_value(&store, &five), Some(5));
    }
}
