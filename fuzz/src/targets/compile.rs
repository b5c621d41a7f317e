//! Compiler robustness: arbitrary bytes, and generated modules with a few bytes changed, go into
//! the compiler, which must give an artifact exactly when `wasmparser`'s validator (with the
//! features Kiln supports) accepts the module, and an error otherwise: never a panic or a hang
//! (the driver catches both). For generated modules left intact it also checks that the output is
//! byte-identical whatever the thread count, and that code compiled without optimization
//! (`-O none`) and with (`-O speed`) behaves the same: the same results, traps, exported state and
//! fuel consumed, call after call (both metered with the same fuel, so that loops end).

use crate::generate::{self, Shape};
use crate::kiln::{self, KilnInstance};
use crate::targets::diff::agree;
use crate::values::{snapshot_difference, Value};
use crate::{stats, Finding};
use arbitrary::Unstructured;
use kiln_compiler::{compile, parse::supported_features, CompileOptions, OptLevel};

/// Fuel per call in the `-O none` / `-O speed` comparison.
const FUEL: u64 = 100_000;
/// Calls made per module, at most.
const MAX_CALLS: usize = 16;

/// Compiles `wasm`, checking the outcome against validation; the artifact if it compiled.
fn checked_compile(wasm: &[u8], options: &CompileOptions) -> Result<Option<Vec<u8>>, Finding> {
    let valid = wasmparser::Validator::new_with_features(supported_features())
        .validate_all(wasm)
        .map_err(|e| e.to_string());
    let compiled = std::panic::catch_unwind(|| compile(wasm, options))
        .map_err(|_| Finding::new("the compiler panicked"))?;
    match (valid, compiled) {
        (Ok(_), Ok(artifact)) => Ok(Some(artifact)),
        (Err(_), Err(_)) => Ok(None),
        (Ok(_), Err(e)) => Err(Finding::new(format!(
            "a valid module was refused ({options:?}): {e}"
        ))),
        (Err(why), Ok(_)) => Err(Finding::new(format!("an invalid module compiled ({why})"))),
    }
}

/// A few edits of `wasm`: bytes flipped, set, inserted or removed.
fn mutate(wasm: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    for _ in 0..u.int_in_range(1..=4)? {
        if wasm.is_empty() {
            break;
        }
        let at = u.choose_index(wasm.len())?;
        match u.int_in_range(0..=3)? {
            0 => wasm[at] ^= 1 << u.int_in_range(0..=7)?,
            1 => wasm[at] = u.arbitrary()?,
            2 => wasm.insert(at, u.arbitrary()?),
            _ => {
                wasm.remove(at);
            }
        }
    }
    Ok(())
}

/// Runs one case.
pub fn run(data: &[u8]) -> Result<(), Finding> {
    let mut u = Unstructured::new(data);
    let Ok(kind) = u.int_in_range(0..=3u8) else {
        return Ok(());
    };
    let options = CompileOptions {
        threads: Some(1),
        ..CompileOptions::default()
    };
    if kind == 0 {
        // Arbitrary bytes, half of them behind a valid preamble.
        let mut wasm = Vec::new();
        if u.arbitrary().unwrap_or(false) {
            wasm.extend_from_slice(b"\0asm\x01\0\0\0");
        }
        wasm.extend_from_slice(u.take_rest());
        checked_compile(&wasm, &options)?;
        return Ok(());
    }
    let shape = Shape {
        canonical_nans: true,
        export_everything: true,
        imports: false,
        relaxed_simd: true,
    };
    let Ok(mut wasm) = generate::module(&mut u, shape) else {
        stats::REFUSED.bump();
        return Ok(());
    };
    if kind == 1 {
        if mutate(&mut wasm, &mut u).is_err() {
            return Ok(());
        }
        checked_compile(&wasm, &options)?;
        return Ok(());
    }
    stats::MODULES.bump();
    let metered = |opt_level, threads| CompileOptions {
        opt_level,
        threads: Some(threads),
        fuel: true,
        ..CompileOptions::default()
    };
    let Some(fast) = checked_compile(&wasm, &metered(OptLevel::Speed, 1))? else {
        return Err(Finding::new("a generated module did not validate"));
    };
    let again = compile(&wasm, &metered(OptLevel::Speed, 2))
        .map_err(|e| Finding::new(format!("the second compilation failed: {e}")))?;
    if again != fast {
        return Err(Finding::new(
            "one and two compiler threads wrote different artifacts",
        ));
    }
    let Some(plain) = checked_compile(&wasm, &metered(OptLevel::None, 1))? else {
        return Err(Finding::new("a generated module did not validate"));
    };
    compare_levels(&plain, &fast, &mut u)
}

/// Runs the `-O none` and `-O speed` artifacts side by side.
fn compare_levels(plain: &[u8], fast: &[u8], u: &mut Unstructured<'_>) -> Result<(), Finding> {
    let options = CompileOptions {
        fuel: true,
        ..CompileOptions::default()
    };
    let (plain_start, plain) = kiln::instantiate(plain, &options, Some(FUEL));
    let (fast_start, fast) = kiln::instantiate(fast, &options, Some(FUEL));
    let (mut plain, mut fast) = match (plain, fast) {
        (Some(p), Some(f)) => (p, f),
        (None, None) => return Ok(()),
        _ if agree(&plain_start, &fast_start).is_none() => return Ok(()),
        _ => {
            return Err(Finding::new(format!(
                "instantiation: -O none {plain_start}, -O speed {fast_start}"
            )))
        }
    };
    stats::INSTANTIATED.bump();
    same_state(&mut plain, &mut fast, "after instantiation")?;
    let funcs = plain.funcs();
    for call in 0..MAX_CALLS {
        let Ok(f) = u.choose(&funcs) else { break };
        let Ok(args) = f
            .params
            .iter()
            .map(|t| Value::arbitrary_of(*t, u))
            .collect::<arbitrary::Result<Vec<_>>>()
        else {
            break;
        };
        plain.set_fuel(FUEL);
        fast.set_fuel(FUEL);
        let (a, b) = (plain.call(&f.name, &args), fast.call(&f.name, &args));
        match agree(&a, &b) {
            None => {
                stats::STOPPED.bump();
                return Ok(());
            }
            Some(true) => stats::CALLS.bump(),
            Some(false) => {
                return Err(Finding::new(format!(
                    "call {call} of {}: -O none {a}, -O speed {b}",
                    f.name
                )))
            }
        }
        if plain.fuel() != fast.fuel() {
            return Err(Finding::new(format!(
                "call {call} of {}: -O none left {} fuel, -O speed {}",
                f.name,
                plain.fuel(),
                fast.fuel()
            )));
        }
        same_state(
            &mut plain,
            &mut fast,
            &format!("after call {call} of {}", f.name),
        )?;
    }
    Ok(())
}

fn same_state(a: &mut KilnInstance, b: &mut KilnInstance, when: &str) -> Result<(), Finding> {
    match snapshot_difference(&a.snapshot(), &b.snapshot()) {
        None => Ok(()),
        Some(d) => Err(Finding::new(format!(
            "{when}: {}",
            d.replace("the oracle", "-O none")
                .replace("Kiln", "-O speed")
        ))),
    }
}
