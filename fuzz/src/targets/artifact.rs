//! Artifact corruption: real artifacts, damaged (bits flipped, truncated, boundary values written
//! into header fields, table entries and the table directory, tables swapped, ranges copied over
//! others) and sometimes resealed (both checksums recomputed, as a faulty compiler would write
//! them), go through the library's default path (`Artifact::open`, validation, inspection,
//! instantiation, calls: no whole-file checksum) and through `kiln run`'s (`kiln_cli`'s `load`,
//! which verifies it). What must happen is what `format-spec/SPEC.md` §2 promises:
//!
//! - damage to anything the metadata checksum covers is refused with an error, or changes nothing
//!   (a byte the loader never reads, such as the program headers or the symbol table): then every
//!   call gives exactly the undamaged artifact's results;
//! - damage to the data images may change what the guest sees, never crash the host;
//! - damage to what only the whole-file checksum covers (code, trap table, address map,
//!   `.eh_frame`) is refused by `kiln run`; on the default path such an artifact is only validated
//!   and inspected here, since running damaged native code may crash by design;
//! - resealed damage meets only bounds-checked reads: validation, inspection, reflection,
//!   linking and (for modules without a start function) instantiation give an error or succeed,
//!   never crash or read out of bounds; no code runs.

use crate::kiln::CaseFile;
use crate::values::Outcome;
use crate::{stats, Finding};
use arbitrary::{Result as ArbResult, Unstructured};
use kiln_compiler::{CompileOptions, OptLevel};
use kiln_format::header::{seal, ArtifactHeader, HEADER_OFFSET};
use kiln_format::tables::{MetaDirectory, TableId, TABLE_COUNT};
use kiln_format::ArtifactView;
use kiln_loader::{Artifact, Error, Linker, LoadOptions, Store, Val, ValType};
use std::ops::Range;
use std::sync::OnceLock;
use zerocopy::FromBytes;

/// A module with something in every part of an artifact: an import, memory with a page-aligned
/// data image and a small segment, a table with elements, globals, a start function, traps.
const FULL: &str = r#"(module
  (import "env" "f" (func $f (param i32) (result i32)))
  (type $t (func (param i32) (result i32)))
  (memory (export "mem") 2 4)
  (data (i32.const 65536) "IMAGE")
  (data (i32.const 16) "hello")
  (table (export "tab") 4 funcref)
  (elem (i32.const 0) $f $double $inc)
  (global $g (export "g") (mut i32) (i32.const 7))
  (global $h (export "h") i64 (i64.const -3))
  (func $double (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "run") (param i32) (result i32)
    (call_indirect (type $t) (local.get 0) (i32.rem_u (local.get 0) (i32.const 3))))
  (func (export "sum") (result i32) (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load8_u offset=65536 (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 4096))))
    (i32.add (local.get $s) (i32.load8_u (i32.const 17))))
  (func (export "trap") (unreachable))
  (func (export "oob") (result i32) (i32.load (i32.const 0x7ffffff0)))
  (func (export "grow") (result i32) (memory.grow (i32.const 1)))
  (func (export "root") (param f64) (result f64) (f64.sqrt (local.get 0)))
  (func (export "bump") (result i32)
    (global.set $g (i32.add (global.get $g) (i32.const 1))) (global.get $g))
  (func $start (global.set $g (i32.add (global.get $g) (call $f (i32.const 1)))))
  (start $start))"#;

/// One artifact the target damages, and what it does undamaged.
struct Base {
    bytes: Vec<u8>,
    /// Whether instantiating it runs code (a start function).
    has_start: bool,
    /// Whether it meters fuel.
    fuel: bool,
    /// Regions only the whole-file checksum covers (code, trap table, address map, `.eh_frame`).
    code_side: Vec<Range<usize>>,
    /// The data images.
    data: Range<usize>,
    /// The end of what the whole-file checksum covers.
    checksum_end: usize,
    /// Each export's call outcome, undamaged.
    expected: Vec<(String, Outcome)>,
}

fn full_module(image_len: usize, start: bool) -> String {
    let image: String = (0..image_len)
        .map(|i| format!("\\{:02x}", (i * 7 + 3) % 251))
        .collect();
    let module = FULL.replace("\"IMAGE\"", &format!("\"{image}\""));
    if start {
        module
    } else {
        module.replace("  (start $start))", ")")
    }
}

fn bases() -> &'static [Base] {
    static BASES: OnceLock<Vec<Base>> = OnceLock::new();
    BASES.get_or_init(|| {
        let variants = [
            (4096, true, CompileOptions::default()),
            (
                4096,
                true,
                CompileOptions {
                    fuel: true,
                    epoch_interruption: true,
                    ..CompileOptions::default()
                },
            ),
            (
                100,
                false,
                CompileOptions {
                    strip: true,
                    opt_level: OptLevel::None,
                    ..CompileOptions::default()
                },
            ),
            (
                8192,
                false,
                CompileOptions {
                    unwind_info: true,
                    ..CompileOptions::default()
                },
            ),
        ];
        variants
            .into_iter()
            .map(|(image, start, options)| {
                let wasm = wat::parse_str(full_module(image, start)).expect("the base module");
                let bytes = kiln_compiler::compile(&wasm, &options).expect("the base compiles");
                base(bytes, start, options.fuel)
            })
            .collect()
    })
}

fn base(bytes: Vec<u8>, has_start: bool, fuel: bool) -> Base {
    let view = ArtifactView::parse(&bytes).expect("the base is valid");
    let h = *view.header();
    let range = |r: kiln_format::header::FileRange| r.offset.get() as usize..r.end() as usize;
    let meta = range(h.meta);
    let dir = MetaDirectory::ref_from_prefix(&bytes[meta.start..])
        .expect("directory")
        .0;
    let mut code_side = vec![range(h.text), range(h.eh_frame)];
    for id in TableId::ALL.into_iter().filter(|id| !id.in_meta_checksum()) {
        let t = &dir.tables[id as usize];
        let start = meta.start + t.offset.get() as usize;
        code_side.push(start..start + (t.count.get() * t.entry_size.get()) as usize);
    }
    let checksum_end = h.checksum_range().end;
    let file = CaseFile::write(&bytes);
    let artifact = Artifact::open(file.path()).expect("the base loads");
    let expected = run_all(&artifact, fuel).expect("the base runs");
    Base {
        data: range(h.data),
        bytes,
        has_start,
        fuel,
        code_side,
        checksum_end,
        expected,
    }
}

/// Instantiates `artifact` (its import a host function adding one) and calls every export with
/// fixed arguments.
fn run_all(artifact: &Artifact, fuel: bool) -> Result<Vec<(String, Outcome)>, Error> {
    let mut store = Store::new(());
    if fuel {
        store.set_fuel(1_000_000)?;
        store.set_epoch_deadline(1 << 40)?;
    }
    let mut linker = Linker::<()>::new();
    linker.func_wrap("env", "f", |x: i32| x.wrapping_add(1))?;
    linker.allow_shadowing(true);
    linker.define_unknown_imports_as_traps(artifact)?;
    let instance = linker.instantiate(&mut store, artifact)?;
    let mut outcomes = Vec::new();
    for (name, export) in instance.exports(&mut store) {
        let Some(func) = export.into_func() else {
            continue;
        };
        let ty = func.ty(&store);
        let args: Vec<Val> = ty
            .params()
            .iter()
            .map(|t| match t {
                ValType::I32 => Val::I32(5),
                ValType::F64 => Val::F64(2f64.to_bits()),
                t => Val::default_for(*t),
            })
            .collect();
        let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default_for(*t)).collect();
        let outcome = match func.call(&mut store, &args, &mut results) {
            Ok(()) => Outcome::Returned(results.iter().map(crate::kiln::from_kiln).collect()),
            Err(e) => crate::kiln::outcome_of(&e),
        };
        outcomes.push((name, outcome));
    }
    Ok(outcomes)
}

fn same(a: &[(String, Outcome)], b: &[(String, Outcome)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((n, x), (m, y))| n == m && crate::targets::diff::agree(x, y).unwrap_or(true))
}

/// The Kiln header's fields: (offset in the file, width).
fn header_fields() -> Vec<(usize, usize)> {
    use std::mem::offset_of;
    let at = |off: usize| HEADER_OFFSET as usize + off;
    let mut fields = vec![
        (at(offset_of!(ArtifactHeader, format_major)), 2),
        (at(offset_of!(ArtifactHeader, format_minor)), 2),
        (at(offset_of!(ArtifactHeader, header_size)), 4),
        (at(offset_of!(ArtifactHeader, arch)), 2),
        (at(offset_of!(ArtifactHeader, os)), 2),
        (at(offset_of!(ArtifactHeader, region_align)), 4),
        (at(offset_of!(ArtifactHeader, cpu_features)), 8),
        (at(offset_of!(ArtifactHeader, bounds_checks)), 1),
        (at(offset_of!(ArtifactHeader, stack_limit_scheme)), 1),
        (at(offset_of!(ArtifactHeader, opt_level)), 1),
        (at(offset_of!(ArtifactHeader, reserved0)), 1),
        (at(offset_of!(ArtifactHeader, flags)), 4),
        (at(offset_of!(ArtifactHeader, memory_reservation)), 8),
        (at(offset_of!(ArtifactHeader, memory_guard)), 8),
        (at(offset_of!(ArtifactHeader, vmctx_size)), 4),
        (at(offset_of!(ArtifactHeader, num_functions)), 4),
        (at(offset_of!(ArtifactHeader, checksum)), 8),
        (at(offset_of!(ArtifactHeader, meta_checksum)), 8),
    ];
    for region in [
        offset_of!(ArtifactHeader, text),
        offset_of!(ArtifactHeader, meta),
        offset_of!(ArtifactHeader, data),
        offset_of!(ArtifactHeader, eh_frame),
    ] {
        fields.push((at(region), 8));
        fields.push((at(region + 8), 8));
    }
    // The ELF header's section-table fields (e_shoff, e_shentsize, e_shnum).
    fields.extend([(0x28, 8), (0x3a, 2), (0x3c, 2)]);
    fields
}

/// A value where checks change their mind.
fn boundary(u: &mut Unstructured<'_>, width: usize, file_len: usize) -> ArbResult<u64> {
    let max = if width == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * width)) - 1
    };
    let random: u64 = u.arbitrary()?;
    let v = *u.choose(&[
        0,
        1,
        2,
        max,
        max - 1,
        max / 2,
        max / 2 + 1,
        file_len as u64,
        file_len as u64 - 1,
        file_len as u64 + 1,
        4096,
        65536,
        random,
    ])?;
    Ok(v & max)
}

fn write_le(bytes: &mut [u8], at: usize, width: usize, v: u64) {
    let end = (at + width).min(bytes.len());
    if at >= end {
        return;
    }
    bytes[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
}

/// Damages `bytes` (a copy of `base`'s).
fn damage(bytes: &mut Vec<u8>, base: &Base, u: &mut Unstructured<'_>) -> ArbResult<()> {
    let len = bytes.len();
    let meta_at = {
        let h = ArtifactHeader::ref_from_prefix(&base.bytes[HEADER_OFFSET as usize..])
            .expect("header")
            .0;
        h.meta.offset.get() as usize
    };
    let dir_entry = std::mem::size_of::<kiln_format::tables::TableRef>();
    for _ in 0..u.int_in_range(1..=3)? {
        match u.int_in_range(0..=7)? {
            0 => {
                for _ in 0..u.int_in_range(1..=8)? {
                    let at = u.choose_index(len)?;
                    bytes[at] ^= 1 << u.int_in_range(0..=7)?;
                }
            }
            1 => {
                let keep = u.choose_index(len)?;
                bytes.truncate(keep);
                return Ok(());
            }
            2 => {
                let (at, width) = *u.choose(&header_fields())?;
                let v = boundary(u, width, len)?;
                write_le(bytes, at, width, v);
            }
            3 => {
                // A table entry's field: a random offset inside a random entry.
                let dir = MetaDirectory::ref_from_prefix(&base.bytes[meta_at..])
                    .expect("dir")
                    .0;
                let t = &dir.tables[u.choose_index(TABLE_COUNT)?];
                let (count, size) = (t.count.get() as usize, t.entry_size.get() as usize);
                if count == 0 {
                    continue;
                }
                let entry = meta_at + t.offset.get() as usize + u.choose_index(count)? * size;
                let width = *u.choose(&[1usize, 2, 4, 8])?;
                let at = entry + u.choose_index(size)?;
                let v = boundary(u, width, len)?;
                write_le(bytes, at, width, v);
            }
            4 => {
                // A directory field: a table's offset, count or entry size.
                let at = meta_at
                    + u.choose_index(TABLE_COUNT)? * dir_entry
                    + 4 * u.int_in_range(0..=2)?;
                let v = boundary(u, 4, len)?;
                write_le(bytes, at, 4, v);
            }
            5 => {
                // Two tables swapped in the directory.
                let (a, b) = (u.choose_index(TABLE_COUNT)?, u.choose_index(TABLE_COUNT)?);
                let (a, b) = (meta_at + a * dir_entry, meta_at + b * dir_entry);
                let entry_a: Vec<u8> = bytes[a..a + dir_entry].to_vec();
                bytes.copy_within(b..b + dir_entry, a);
                bytes[b..b + dir_entry].copy_from_slice(&entry_a);
            }
            6 => {
                // A range copied over another.
                let n = u.int_in_range(1..=256)?.min(len);
                let (from, to) = (u.choose_index(len - n + 1)?, u.choose_index(len - n + 1)?);
                bytes.copy_within(from..from + n, to);
            }
            _ => {
                let n = u.int_in_range(1..=64)?;
                let extra: Vec<u8> = u.bytes(n)?.to_vec();
                bytes.extend_from_slice(&extra);
            }
        }
    }
    Ok(())
}

/// The ranges where `b` differs from `a`, a length change included.
fn changed(a: &[u8], b: &[u8]) -> Vec<Range<usize>> {
    let mut ranges: Vec<Range<usize>> = Vec::new();
    for (i, _) in a.iter().zip(b).enumerate().filter(|(_, (x, y))| x != y) {
        match ranges.last_mut() {
            Some(r) if r.end == i => r.end = i + 1,
            _ => ranges.push(i..i + 1),
        }
    }
    if a.len() != b.len() {
        ranges.push(a.len().min(b.len())..a.len().max(b.len()));
    }
    ranges
}

/// What the damage touched, by what covers it.
#[derive(Debug, PartialEq, Eq)]
enum Touched {
    /// Something only the whole-file checksum covers, that runs as code or steers traps.
    CodeSide,
    /// Data images (and maybe what nothing reads).
    Data,
    /// Only what the metadata checksum covers, or what nothing reads.
    Other,
}

fn classify(base: &Base, touched: &[Range<usize>]) -> Touched {
    let overlaps = |a: &Range<usize>, b: &Range<usize>| a.start < b.end && b.start < a.end;
    if touched
        .iter()
        .any(|t| base.code_side.iter().any(|c| overlaps(t, c)))
    {
        Touched::CodeSide
    } else if touched.iter().any(|t| overlaps(t, &base.data)) {
        Touched::Data
    } else {
        Touched::Other
    }
}

/// Validation, inspection and reflection; the artifact if it validated.
fn validate(path: &std::path::Path, options: &LoadOptions) -> Option<Artifact> {
    let artifact = match Artifact::open_with(path, options) {
        Ok(a) => a,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return None;
        }
    };
    let view = match artifact.view() {
        Ok(v) => v,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return None;
        }
    };
    let report = kiln_cli::commands::inspect::report(&view);
    let _ = report.to_string();
    let _ = artifact.imports();
    let _ = artifact.exports();
    let _ = Linker::<()>::new().instantiate_pre(&artifact);
    Some(artifact)
}

/// Runs one case.
pub fn run(data: &[u8]) -> Result<(), Finding> {
    let mut u = Unstructured::new(data);
    let Ok(base) = u.choose(bases()) else {
        return Ok(());
    };
    let mut bytes = base.bytes.clone();
    let (Ok(()), Ok(reseal)) = (damage(&mut bytes, base, &mut u), u.ratio(1, 4)) else {
        stats::REFUSED.bump();
        return Ok(());
    };
    if bytes == base.bytes || (reseal && seal(&mut bytes).is_none()) {
        stats::REFUSED.bump();
        return Ok(());
    }
    // What really changed (a write may leave a byte as it was).
    let touched = changed(&base.bytes, &bytes);
    let file = CaseFile::write(&bytes);
    let class = classify(base, &touched);
    let changed_under_checksum = touched.iter().any(|t| t.start < base.checksum_end);

    // The library's default path.
    let artifact = validate(file.path(), &LoadOptions::default());
    match (&artifact, reseal, &class) {
        (None, _, _) => stats::ERRORS.bump(),
        (Some(_), true, _) => {
            if !base.has_start {
                if let Some(a) = &artifact {
                    let mut store = Store::new(());
                    let mut linker = Linker::<()>::new();
                    let _ = linker.define_unknown_imports_as_traps(a);
                    let _ = linker.instantiate(&mut store, a);
                }
            }
            stats::ACCEPTED.bump();
        }
        (Some(_), false, Touched::CodeSide) => stats::ACCEPTED.bump(),
        (Some(a), false, Touched::Data) => {
            let _ = run_all(a, base.fuel);
            stats::ACCEPTED.bump();
        }
        (Some(a), false, Touched::Other) => {
            stats::ACCEPTED.bump();
            match run_all(a, base.fuel) {
                Ok(got) if same(&got, &base.expected) => {}
                Ok(got) => {
                    return Err(Finding::new(format!(
                        "damage at {touched:?} passed validation and changed results: {:?} instead of {:?}",
                        got, base.expected
                    )))
                }
                Err(e) => {
                    return Err(Finding::new(format!(
                        "damage at {touched:?} passed validation, then instantiation failed: {e}"
                    )))
                }
            }
        }
    }

    // `kiln run`'s path: the whole-file checksum, verified at load.
    match kiln_cli::commands::run::load(file.path(), &CompileOptions::default()) {
        Err(e) => assert!(!e.to_string().is_empty()),
        Ok(a) if !reseal && changed_under_checksum => {
            drop(a);
            return Err(Finding::new(format!(
                "damage at {touched:?} passed the whole-file checksum"
            )));
        }
        Ok(a) if !reseal => {
            let got = run_all(&a, base.fuel).map_err(|e| {
                Finding::new(format!("damage past the checksummed range broke {e}"))
            })?;
            if !same(&got, &base.expected) {
                return Err(Finding::new(format!(
                    "damage at {touched:?}, past the checksummed range, changed results"
                )));
            }
        }
        Ok(_) => {}
    }
    // The unwinder is given `.eh_frame` only after the whole-file checksum.
    let register = LoadOptions {
        register_unwind_info: true,
        ..LoadOptions::default()
    };
    if let Ok(a) = Artifact::open_with(file.path(), &register) {
        if !reseal && changed_under_checksum {
            drop(a);
            return Err(Finding::new(format!(
                "damage at {touched:?} was registered with the unwinder"
            )));
        }
    }
    Ok(())
}
