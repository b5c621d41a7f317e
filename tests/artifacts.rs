//! The artifact as a file: determinism, cross-target output, and refusal of anything damaged,
//! foreign or incompatible with a clear error, never a crash.

mod common;

use kiln_compiler::{compile, CompileOptions};
use kiln_format::header::HEADER_OFFSET;
use kiln_format::{Arch, ArtifactHeader, ArtifactView, FormatError, FORMAT_MAJOR, FORMAT_MINOR};
use kiln_loader::{
    Artifact, Extern, Func, FuncType, Global, GlobalType, Instance, LoadError, LoadOptions,
    Mutability, Store, Val, ValType,
};
use std::path::Path;

const MODULE: &str = r#"
(module
  (import "env" "g" (global i32))
  (memory (export "mem") 1 2)
  (table (export "tab") 3 funcref)
  (global $c (mut i64) (i64.const 5))
  (elem (i32.const 0) $add $fac)
  (data (i32.const 16) "kiln")
  (func $add (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func $fac (export "fac") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))
  (func (export "trap") unreachable))
"#;

fn wasm() -> Vec<u8> {
    wat::parse_str(MODULE).unwrap()
}

fn artifact_bytes() -> Vec<u8> {
    compile(&wasm(), &CompileOptions::default()).unwrap()
}

/// Writes `bytes` to a file and loads it twice: validated at load (`check_now`, from a `pread`)
/// and validated at first use (`check`, through the mapping). Both must agree, and loading the
/// same bytes from a buffer (`from_bytes`) and from an open file (`from_file`) must give the same
/// result (the same error, but for the name).
fn open_bytes(bytes: &[u8], options: &LoadOptions) -> Result<Artifact, LoadError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.kiln");
    std::fs::write(&path, bytes).unwrap();
    let inner = |r: &Result<Artifact, LoadError>| match r {
        Ok(_) => None,
        Err(LoadError::Format { error, .. }) => Some(error.to_string()),
        Err(e) => Some(e.to_string()),
    };
    let from_bytes = Artifact::from_bytes_with(bytes, options).and_then(|a| a.check().map(|()| a));
    let file = std::fs::File::open(&path).unwrap();
    let from_file = Artifact::from_file_with(file, options).and_then(|a| a.check().map(|()| a));
    assert_eq!(inner(&from_bytes), inner(&from_file));
    let eager = Artifact::open_with(
        &path,
        &LoadOptions {
            check_now: true,
            ..options.clone()
        },
    );
    let lazy = Artifact::open_with(&path, options).and_then(|a| a.check().map(|()| a));
    assert_eq!(
        inner(&lazy),
        inner(&from_bytes),
        "a file and a buffer disagree"
    );
    match (&eager, &lazy) {
        (Ok(_), Ok(_)) => {}
        (Err(e), Err(l)) => assert_eq!(e.to_string(), l.to_string()),
        _ => panic!(
            "validation at load and at first use disagree: {:?} vs {:?}",
            eager.as_ref().err().map(ToString::to_string),
            lazy.as_ref().err().map(ToString::to_string)
        ),
    }
    lazy
}

fn format_error(bytes: &[u8], options: &LoadOptions) -> FormatError {
    match open_bytes(bytes, options) {
        Err(LoadError::Format { error, .. }) => error,
        Err(e) => panic!("expected a format error, got {e}"),
        Ok(_) => panic!("a damaged artifact loaded"),
    }
}

/// A store and the imports MODULE needs (`env.g`), in its import order.
fn store_with_env() -> (Store<()>, Vec<Extern>) {
    let mut store = Store::new(());
    let g = Global::new(
        &mut store,
        GlobalType::new(ValType::I32, Mutability::Const),
        Val::I32(1),
    )
    .unwrap();
    (store, vec![Extern::Global(g)])
}

/// File offset of the metadata region.
fn meta_offset(artifact: &[u8]) -> usize {
    ArtifactView::parse(artifact)
        .unwrap()
        .header()
        .meta
        .offset
        .get() as usize
}

fn header_mut(bytes: &mut [u8]) -> &mut ArtifactHeader {
    use zerocopy::FromBytes;
    ArtifactHeader::mut_from_prefix(&mut bytes[HEADER_OFFSET as usize..])
        .unwrap()
        .0
}

#[test]
fn output_is_byte_identical_whatever_the_thread_count() {
    let with_threads = |n| {
        let options = CompileOptions {
            threads: Some(n),
            ..Default::default()
        };
        compile(&wasm(), &options).unwrap()
    };
    let one = with_threads(1);
    let four = with_threads(4);
    assert_eq!(one, four);
    assert_eq!(four, with_threads(4));
}

#[test]
fn the_artifact_works_end_to_end() {
    let loaded = common::load_bytes(&artifact_bytes());
    let (mut store, imports) = store_with_env();
    let inst = Instance::new(&mut store, &loaded.artifact, &imports).unwrap();
    assert_eq!(
        inst.call(&mut store, "add", &[Val::I32(2), Val::I32(3)])
            .unwrap(),
        [Val::I32(5)]
    );
    assert_eq!(
        inst.call(&mut store, "fac", &[Val::I64(10)]).unwrap(),
        [Val::I64(3628800)]
    );
    let mem = inst.get_memory(&mut store, "mem").unwrap();
    assert_eq!(&mem.data(&store)[16..20], b"kiln");
}

/// A buffer (`from_bytes`: one copy into a sealed in-memory file, mapped read+exec) and an open
/// file (`from_file`) work as a path does, data images included.
#[test]
fn artifacts_load_from_a_buffer_and_from_an_open_file() {
    let bytes = artifact_bytes();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.kiln");
    std::fs::write(&path, &bytes).unwrap();
    let from_file = Artifact::from_file(std::fs::File::open(&path).unwrap()).unwrap();
    let from_bytes = Artifact::from_bytes(&bytes).unwrap();
    assert_eq!(from_bytes.path(), Path::new("<bytes>"));
    assert_eq!(from_file.path(), Path::new("<file>"));
    // The file can go: the artifact holds its descriptor.
    drop(dir);
    for artifact in [from_bytes, from_file] {
        let (mut store, imports) = store_with_env();
        let inst = Instance::new(&mut store, &artifact, &imports).unwrap();
        assert_eq!(
            inst.call(&mut store, "add", &[Val::I32(2), Val::I32(3)])
                .unwrap(),
            [Val::I32(5)]
        );
        let mem = inst.get_memory(&mut store, "mem").unwrap();
        assert_eq!(&mem.data(&store)[16..20], b"kiln");
        // The code runs from a read+exec mapping that is not writable.
        let code = artifact.code_range().unwrap();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let line = maps
            .lines()
            .find(|l| {
                let (range, _) = l.split_once(' ').unwrap();
                let (lo, hi) = range.split_once('-').unwrap();
                let (lo, hi) = (
                    usize::from_str_radix(lo, 16).unwrap(),
                    usize::from_str_radix(hi, 16).unwrap(),
                );
                lo <= code.start && code.end <= hi
            })
            .unwrap();
        assert!(line.split(' ').nth(1).unwrap().starts_with("r-x"), "{line}");
    }
    let e = Artifact::from_bytes(&bytes[..10]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "<bytes>: artifact is truncated: shorter than an ELF header"
    );
}

#[test]
fn only_functions_that_can_be_referenced_get_a_function_reference() {
    // 40 functions: one imported, 39 defined; of those, one exported, two in an element segment
    // (one of them also exported), one named by a global's `ref.func`.
    let mut wat = String::from(
        r#"(module
          (import "env" "twice" (func $twice (param i32) (result i32)))
          (type $t (func (param i32) (result i32)))
          (table 2 funcref)
          (elem (i32.const 0) $f1 $f2)
          (global $g funcref (ref.func $f3))
          (func (export "via_table") (param i32 i32) (result i32)
            (call_indirect (type $t) (local.get 1) (local.get 0)))
          (func (export "via_global") (param i32) (result i32)
            (table.set (i32.const 1) (global.get $g))
            (call_indirect (type $t) (local.get 0) (i32.const 1)))
          (func $f1 (export "f1") (param i32) (result i32) (call $twice (local.get 0)))
          (func $f2 (param i32) (result i32) (i32.add (local.get 0) (i32.const 2)))
          (func $f3 (param i32) (result i32) (i32.add (local.get 0) (i32.const 3)))"#,
    );
    for i in 0..34 {
        wat.push_str(&format!("(func $unref{i} (result i32) (i32.const {i}))"));
    }
    wat.push(')');
    let bytes = compile(&wat::parse_str(&wat).unwrap(), &CompileOptions::default()).unwrap();
    let view = ArtifactView::parse(&bytes).unwrap();
    // Slots: the import (0), then via_table, via_global (exported), f1, f2, f3.
    assert_eq!(view.module().func_refs.get(), 6);
    let slots: Vec<u32> = view.functions().iter().map(|f| f.func_ref.get()).collect();
    assert_eq!(slots[..5], [1, 2, 3, 4, 5]);
    assert!(slots[5..]
        .iter()
        .all(|&s| s == kiln_format::tables::NO_FUNC_REF));

    let loaded = common::load_bytes(&bytes);
    let mut store = Store::new(());
    let ty = FuncType::new([ValType::I32], [ValType::I32]);
    let twice = Func::new(&mut store, ty, |_, args, results| match args {
        [Val::I32(x)] => {
            results[0] = Val::I32(x * 2);
            Ok(())
        }
        _ => Err("bad arguments".into()),
    });
    let inst = Instance::new(&mut store, &loaded.artifact, &[Extern::Func(twice)]).unwrap();
    let mut call = |name: &str, args: &[Val]| inst.call(&mut store, name, args).unwrap();
    assert_eq!(
        call("via_table", &[Val::I32(0), Val::I32(5)]),
        [Val::I32(10)]
    );
    assert_eq!(
        call("via_table", &[Val::I32(1), Val::I32(5)]),
        [Val::I32(7)]
    );
    assert_eq!(call("via_global", &[Val::I32(5)]), [Val::I32(8)]);
    assert_eq!(call("f1", &[Val::I32(21)]), [Val::I32(42)]);
}

#[test]
fn foreign_targets_compile_are_inspectable_and_refused() {
    let host = Arch::host().unwrap();
    for arch in Arch::ALL {
        let options = CompileOptions {
            target: Some(arch),
            ..Default::default()
        };
        let bytes = compile(&wasm(), &options).unwrap_or_else(|e| panic!("{arch:?}: {e}"));
        let view = ArtifactView::parse(&bytes).unwrap();
        assert_eq!(view.arch(), arch);
        assert_eq!(view.functions().len(), 3);
        assert!(view.find_export("fac").is_some());
        let same = compile(&wasm(), &options).unwrap();
        assert_eq!(bytes, same, "{arch:?} output is deterministic");
        if arch != host {
            match format_error(&bytes, &LoadOptions::default()) {
                FormatError::WrongTarget { found, .. } => assert_eq!(found, arch.triple()),
                e => panic!("{arch:?}: expected WrongTarget, got {e}"),
            }
        }
    }
}

#[test]
fn missing_cpu_features_are_refused_by_name() {
    let mut bytes = artifact_bytes();
    let h = header_mut(&mut bytes);
    h.cpu_features = (h.cpu_features.get() | 1 << 63).into();
    match format_error(&bytes, &LoadOptions::default()) {
        FormatError::MissingCpuFeatures(names) => assert_eq!(names, ["bit 63"]),
        e => panic!("expected MissingCpuFeatures, got {e}"),
    }
}

#[test]
fn wrong_magic_and_versions_are_refused() {
    let good = artifact_bytes();
    let mut b = good.clone();
    b[0] = b'X';
    assert!(matches!(
        format_error(&b, &Default::default()),
        FormatError::NotElf(_)
    ));
    let mut b = good.clone();
    b[HEADER_OFFSET as usize] = b'X';
    assert_eq!(format_error(&b, &Default::default()), FormatError::BadMagic);
    // The next major version, the previous one (artifacts of an older Kiln), none, and a newer
    // minor version.
    for (major, minor) in [
        (FORMAT_MAJOR + 1, 0u16),
        (FORMAT_MAJOR - 1, 0),
        (0, 0),
        (FORMAT_MAJOR, FORMAT_MINOR + 1),
    ] {
        let mut b = good.clone();
        let h = header_mut(&mut b);
        h.format_major = major.into();
        h.format_minor = minor.into();
        let e = format_error(&b, &Default::default());
        assert_eq!(
            e,
            FormatError::Version {
                found_major: major,
                found_minor: minor
            }
        );
        assert!(e.to_string().contains("recompile"), "{e}");
    }
}

#[test]
fn an_artifact_validated_at_first_use_is_refused_by_instantiation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.kiln");
    let mut b = artifact_bytes();
    header_mut(&mut b).format_major = (FORMAT_MAJOR + 1).into();
    std::fs::write(&path, &b).unwrap();
    // Loading reads nothing; the first use validates, and every later use gives the same answer.
    let artifact = Artifact::open(&path).unwrap();
    let (mut store, imports) = store_with_env();
    for _ in 0..2 {
        let Err(e) = Instance::new(&mut store, &artifact, &imports) else {
            panic!("instantiated an artifact of a future format");
        };
        let msg = e.to_string();
        assert!(
            msg.contains("old.kiln")
                && msg.contains(&format!(
                    "format version {}.{FORMAT_MINOR}",
                    FORMAT_MAJOR + 1
                )),
            "{msg}"
        );
        assert!(artifact.view().is_err() && artifact.code_range().is_err());
    }
    assert!(artifact
        .symbolize(artifact.bytes().as_ptr() as usize + 4096)
        .is_none());
}

#[test]
fn a_file_rewritten_in_place_after_a_checked_load_is_refused_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.kiln");
    let good = artifact_bytes();
    std::fs::write(&path, &good).unwrap();
    let eager = LoadOptions {
        check_now: true,
        ..LoadOptions::default()
    };
    let artifact = Artifact::open_with(&path, &eager).unwrap();
    // Same inode, same length, another magic: the private mapping shows the new bytes, since
    // the checked load read the header with `pread` and touched no page of the mapping.
    let mut other = good.clone();
    other[HEADER_OFFSET as usize] ^= 0xff;
    std::fs::write(&path, &other).unwrap();
    let (mut store, imports) = store_with_env();
    let Err(e) = Instance::new(&mut store, &artifact, &imports) else {
        panic!("instantiated a file that changed after it was checked");
    };
    assert!(e.to_string().contains("bad magic"), "{e}");
}

#[test]
fn truncation_anywhere_is_refused() {
    let good = artifact_bytes();
    let view = ArtifactView::parse(&good).unwrap();
    let h = view.header();
    let mut cuts = vec![
        0,
        10,
        63,
        64,
        70,
        HEADER_OFFSET as usize + ArtifactHeader::SIZE - 1,
    ];
    for r in [h.meta, h.text, h.data] {
        let (o, s) = (r.offset.get() as usize, r.size.get() as usize);
        cuts.extend([o, o + 1, o + s / 2, (o + s).saturating_sub(1)]);
    }
    cuts.extend([good.len() - 1, good.len() - 64]);
    for cut in cuts {
        let e = open_bytes(&good[..cut], &Default::default());
        assert!(e.is_err(), "a file cut at {cut} of {} loaded", good.len());
        let msg = e.unwrap_err().to_string();
        assert!(msg.contains("a.kiln"), "the error names the file: {msg}");
    }
}

#[test]
fn out_of_range_tables_are_refused() {
    use kiln_format::tables::{MetaDirectory, TableId, TABLE_COUNT};
    use kiln_format::Location;
    use zerocopy::FromBytes;
    let good = artifact_bytes();
    let meta = meta_offset(&good);
    for table in 0..TABLE_COUNT {
        for field in 0..3 {
            let mut b = good.clone();
            let dir = MetaDirectory::mut_from_prefix(&mut b[meta..]).unwrap().0;
            let t = &mut dir.tables[table];
            match field {
                0 => t.offset = 0xffff_fff0.into(),
                1 => t.count = 0x0fff_ffff.into(),
                _ => t.entry_size = (t.entry_size.get() + 1).into(),
            }
            let e = format_error(&b, &Default::default());
            // The error says which table.
            assert!(
                matches!(e, FormatError::Corrupt { at: Location::Table(id), .. } if id == TableId::ALL[table]),
                "table {table} field {field}: {e}"
            );
        }
    }
    for field in ["text", "meta", "data"] {
        let mut b = good.clone();
        let h = header_mut(&mut b);
        let r = match field {
            "text" => &mut h.text,
            "meta" => &mut h.meta,
            _ => &mut h.data,
        };
        r.size = (u64::MAX / 2).into();
        assert!(matches!(
            format_error(&b, &Default::default()),
            FormatError::Truncated(_)
        ));
    }
}

#[test]
fn corrupt_references_inside_tables_fail_at_instantiation_not_crash() {
    use kiln_format::tables::{FunctionEntry, MetaDirectory, TableId};
    use zerocopy::FromBytes;
    let good = artifact_bytes();
    let meta = meta_offset(&good);
    let dir = MetaDirectory::ref_from_prefix(&good[meta..]).unwrap().0;
    let funcs_at = meta + dir.tables[TableId::Functions as usize].offset.get() as usize;
    for field in ["type", "code"] {
        let mut b = good.clone();
        let f = FunctionEntry::mut_from_prefix(&mut b[funcs_at..])
            .unwrap()
            .0;
        match field {
            "type" => f.type_index = 999.into(),
            _ => f.code_offset = 0x7fff_0000.into(),
        }
        // As a faulty compiler would write it: past the metadata checksum, to the checks behind.
        kiln_format::header::seal(&mut b).unwrap();
        let artifact = open_bytes(&b, &Default::default()).unwrap();
        let (mut store, imports) = store_with_env();
        let e = Instance::new(&mut store, &artifact, &imports).expect_err("refused");
        // The error says which entry and field.
        let place = match field {
            "type" => "Functions[0].type_index",
            _ => "Functions[0].code_offset",
        };
        let msg = e.to_string();
        assert!(
            msg.contains("corrupt") && msg.contains(place),
            "{field}: {msg}"
        );
    }
}

#[test]
fn flipped_bytes_are_caught_by_the_checksum() {
    let good = artifact_bytes();
    let view = ArtifactView::parse(&good).unwrap();
    let verify = LoadOptions {
        verify_checksum: true,
        ..Default::default()
    };
    assert!(open_bytes(&good, &verify).is_ok());
    let h = view.header();
    let start = HEADER_OFFSET as usize + ArtifactHeader::SIZE;
    let end = (h.data.offset.get() + h.data.size.get()) as usize;
    for at in (start..end).step_by(97) {
        let mut b = good.clone();
        b[at] ^= 0x5a;
        match open_bytes(&b, &verify) {
            Err(LoadError::Format {
                error: FormatError::Checksum,
                ..
            }) => {}
            // A flip in a region header field may be caught earlier, by the structure checks.
            Err(LoadError::Format { .. }) => {}
            other => panic!("flip at {at}: {other:?}"),
        }
    }
}

#[test]
fn a_missing_file_names_the_path() {
    let e = Artifact::open(Path::new("/nonexistent/x.kiln")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.kiln"), "{e}");
}

#[test]
fn what_is_not_a_regular_file_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.kiln");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path in a fresh directory.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // A writer, so that opening the pipe for reading does not block.
    let _writer = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    for path in [dir.path(), fifo.as_path(), Path::new("/dev/null")] {
        let e = Artifact::open(path).expect_err("loaded");
        assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
    }
}

#[test]
fn every_flipped_metadata_byte_is_refused_or_harmless_before_running_code() {
    // A flipped byte in the metadata is refused by its checksum, at load (`check_now`) and at
    // first use alike. Resealed (as a faulty compiler would write it), it must still never make
    // loading, inspecting or instantiating crash or read out of bounds: every offset, length and
    // index is checked where it is used.
    let good = artifact_bytes();
    let view = ArtifactView::parse(&good).unwrap();
    let meta = view.header().meta;
    let (start, end) = (
        meta.offset.get() as usize,
        (meta.offset.get() + meta.size.get()) as usize,
    );
    // The tables the metadata checksum leaves to the whole-file one.
    let uncovered: Vec<std::ops::Range<usize>> = {
        use kiln_format::tables::{MetaDirectory, TableId};
        use zerocopy::FromBytes;
        let dir = MetaDirectory::ref_from_prefix(&good[start..]).unwrap().0;
        TableId::ALL
            .into_iter()
            .filter(|id| !id.in_meta_checksum())
            .map(|id| {
                let r = &dir.tables[id as usize];
                let at = start + r.offset.get() as usize;
                at..at + (r.count.get() * r.entry_size.get()) as usize
            })
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut refused, mut accepted) = (0, 0);
    for at in start..end {
        for mask in [0xffu8, 0x80] {
            let mut b = good.clone();
            b[at] ^= mask;
            if at % 7 == 0 && uncovered.iter().any(|r| r.contains(&at)) {
                // Left to the whole-file checksum, which `kiln run` verifies.
                assert!(open_bytes(&b, &LoadOptions::default()).is_ok());
                let verify = LoadOptions {
                    verify_checksum: true,
                    ..LoadOptions::default()
                };
                assert_eq!(format_error(&b, &verify), FormatError::Checksum);
            } else if at % 7 == 0 {
                // A sample: each check writes two more files.
                // The directory is checked with the headers, before the checksum.
                let e = format_error(&b, &LoadOptions::default());
                assert!(
                    matches!(e, FormatError::MetaChecksum | FormatError::Corrupt { .. }),
                    "byte {at} ^ {mask}: {e}"
                );
            }
            kiln_format::header::seal(&mut b).unwrap();
            let path = dir.path().join(format!("flip{at}_{mask}.kiln"));
            std::fs::write(&path, &b).unwrap();
            let artifact = Artifact::open(&path).expect("loading reads nothing of the file");
            let eager = LoadOptions {
                check_now: true,
                ..LoadOptions::default()
            };
            let checked_at_load = Artifact::open_with(&path, &eager).is_ok();
            let Ok(view) = artifact.view() else {
                assert!(
                    !checked_at_load,
                    "byte {at} ^ {mask}: refused only at first use"
                );
                refused += 1;
                continue;
            };
            assert!(checked_at_load, "byte {at} ^ {mask}: refused only at load");
            let _ = kiln_cli::commands::inspect::report(&view);
            let (mut store, imports) = store_with_env();
            match Instance::new(&mut store, &artifact, &imports) {
                Ok(_) => accepted += 1,
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    refused += 1;
                }
            }
            std::fs::remove_file(&path).unwrap();
        }
    }
    assert!(
        refused > 0 && accepted > 0,
        "refused {refused}, accepted {accepted}"
    );
}

/// The defect a corruption probe found in format 2: the checksum skipped the Kiln header, so a
/// flipped bit in the code region's offset ran data or ELF bytes as code.
#[test]
fn the_checksum_covers_every_header_byte_and_regions_cannot_overlap() {
    let good = artifact_bytes();
    let verify = LoadOptions {
        verify_checksum: true,
        ..Default::default()
    };
    let start = HEADER_OFFSET as usize;
    for at in start..start + ArtifactHeader::SIZE {
        for bit in [0, 5] {
            let mut b = good.clone();
            b[at] ^= 1 << bit;
            assert!(
                open_bytes(&b, &verify).is_err(),
                "a flip of bit {bit} at header byte {} loaded",
                at - start
            );
        }
    }
    // Without the checksum, the structure checks still refuse code over the headers, and
    // regions over each other.
    for offset in [0u64, 64] {
        let mut b = good.clone();
        header_mut(&mut b).text.offset = offset.into();
        let e = format_error(&b, &Default::default());
        assert!(e.to_string().contains("text"), "{e}");
    }
    let mut b = good.clone();
    let h = header_mut(&mut b);
    h.data.offset = h.text.offset;
    h.data.size = 64.into();
    let e = format_error(&b, &Default::default());
    assert!(e.to_string().contains("overlaps"), "{e}");
}
