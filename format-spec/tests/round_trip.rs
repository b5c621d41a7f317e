//! Write → read → equal: what the writer lays out, the reader finds, and the reader refuses what
//! the writer would never write, naming the place.

use kiln_format::header::{CodeSettings, FLAG_FRAME_POINTERS, FLAG_UNWIND_INFO, HEADER_OFFSET};
use kiln_format::tables::*;
use kiln_format::writer::{write_artifact, ArtifactParts, Placement, Symbol};
use kiln_format::{Arch, ArtifactHeader, ArtifactView, FormatError, Location, MetaView, TrapKind};
use zerocopy::little_endian::U32;
use zerocopy::FromBytes;

/// `funcref`'s word.
const FUNCREF: u32 = 0x7063;

/// A metadata region with at least one entry in every table.
fn sample_tables() -> (MetaTables, ModuleEntry) {
    let mut m = MetaTables::default();
    let valtypes = m.add_valtypes(&[0x7f, 0x7e, 0x7f]);
    m.types.push(TypeEntry {
        kind: type_kind::FUNC,
        flags: TYPE_FINAL,
        reserved: [0; 2],
        rec_group: 0.into(),
        rec_group_len: 1.into(),
        supertype: NO_TYPE.into(),
        valtypes: valtypes.into(),
        params: 2.into(),
        results: 1.into(),
        entry_trampoline: 64.into(),
        host_adapter: NO_CODE.into(),
    });
    let (module, name) = (m.string(b"env"), m.string(b"g"));
    m.imports.push(ImportEntry {
        module,
        name,
        kind: extern_kind::GLOBAL,
        reserved: [0; 3],
        index: 0.into(),
        type_index: 0.into(),
    });
    let name = m.string(b"add");
    m.functions.push(FunctionEntry {
        type_index: 0.into(),
        code_offset: 0.into(),
        code_len: 16.into(),
        name,
        wasm_offset: 40.into(),
        func_ref: 0.into(),
    });
    m.tables.push(TableEntry {
        elem_type: FUNCREF.into(),
        flags: LIMITS_HAS_MAX,
        reserved: [0; 3],
        min: 1.into(),
        max: 10.into(),
        init: ExprRef::default(),
    });
    m.memories.push(MemoryEntry {
        flags: 0,
        bounds_check: bounds_check::GUARD_PAGES,
        reserved: [0; 2],
        min_pages: 1.into(),
        max_pages: 0.into(),
    });
    let init = m.expr(&[0x41, 0x05, 0x0b]);
    m.globals.push(GlobalEntry {
        val_type: 0x7f.into(),
        mutable: 1,
        imported: 0,
        reserved: [0; 2],
        init,
    });
    // Out of order on purpose: the writer sorts exports by name and traps by offset.
    for name in [&b"zeta"[..], b"alpha"] {
        let name = m.string(name);
        m.exports.push(ExportEntry {
            name,
            kind: extern_kind::FUNC,
            reserved: [0; 3],
            index: 0.into(),
        });
    }
    let offset = m.expr(&[0x41, 0x00, 0x0b]);
    m.elements.push(ElementEntry {
        mode: segment_mode::ACTIVE,
        items_kind: ELEM_ITEMS_FUNCS,
        reserved: [0; 2],
        elem_type: FUNCREF.into(),
        table: 0.into(),
        offset,
        items_start: 0.into(),
        items_count: 1.into(),
    });
    m.elem_funcs.push(U32::new(1));
    let item = m.expr(&[0xd2, 0x01, 0x0b]);
    m.elem_exprs.push(item);
    m.data.push(DataEntry {
        mode: segment_mode::PASSIVE,
        reserved: [0; 3],
        memory: 0.into(),
        offset: ExprRef::default(),
        image_offset: 0.into(),
        len: 4.into(),
    });
    // Out of order on purpose: the code maps are sorted when they are set.
    m.set_traps(vec![
        (12, TrapKind::Unreachable),
        (4, TrapKind::Unreachable),
    ]);
    m.set_address_map(vec![(12, 112), (4, 104)]);
    m.memory_images.push(MemoryImageEntry {
        memory: 0.into(),
        reserved: 0.into(),
        memory_offset: 0.into(),
        image_offset: 4096.into(),
        len: 4096.into(),
    });
    m.tags.push(TagEntry {
        type_index: 0.into(),
        imported: 0,
        reserved: [0; 3],
    });
    m.call_sites.push(CallSiteEntry {
        ret_offset: 9.into(),
        frame_offset: 32.into(),
        vmctx_sp_offset: 8.into(),
        handlers_start: 0.into(),
        handlers_count: 2.into(),
    });
    for (tag, landing) in [(0, 20), (CATCH_ALL, 24)] {
        m.handlers.push(HandlerEntry {
            tag: tag.into(),
            landing_offset: landing.into(),
            flags: HANDLER_REF,
        });
    }
    let module = ModuleEntry {
        imported_funcs: 0.into(),
        imported_tables: 0.into(),
        imported_memories: 0.into(),
        imported_globals: 1.into(),
        start_func: NULL_FUNC.into(),
        func_refs: 1.into(),
        name: StrRef::default(),
    };
    (m, module)
}

/// What `finish` does to the tables: sort exports by name.
fn sorted(mut m: MetaTables) -> MetaTables {
    let strings = m.strings.clone();
    let name = |r: &StrRef| strings[r.offset.get() as usize..][..r.len.get() as usize].to_vec();
    m.exports.sort_by_key(|e| name(&e.name));
    m
}

#[test]
fn every_table_round_trips() {
    let (tables, module) = sample_tables();
    for id in TableId::ALL {
        let (_, count) = tables.parts()[id as usize];
        assert!(count > 0, "the sample fills table {}", id.name());
    }
    let bytes = tables.clone().finish(module);
    let view = MetaView::parse(&bytes).unwrap();
    assert_eq!(view.to_tables(), sorted(tables));
    assert_eq!(*view.module(), module);
    assert_eq!(view.str_lossy(view.exports()[0].name), "alpha");
    let words = |w: &[u32]| w.iter().map(|&w| U32::new(w)).collect::<Vec<_>>();
    let (p, r) = view.signature(0).unwrap();
    assert_eq!(
        (p.to_vec(), r.to_vec()),
        (words(&[0x7f, 0x7e]), words(&[0x7f]))
    );
    assert_eq!(view.trap_at(4), Some(6));
    assert_eq!(view.wasm_offset_at(13), Some(112));
    assert_eq!(view.function_at(15).map(|(i, _)| i), Some(0));
    assert_eq!(view.func_name(0), "add");
    let (site, handlers) = view.call_site_at(9).unwrap();
    assert_eq!((site.frame_offset.get(), handlers.len()), (32, 2));
    assert_eq!(handlers[1].tag.get(), CATCH_ALL);
    assert!(view.call_site_at(10).is_none());
    assert_eq!(view.segment_funcs(0).unwrap(), [U32::new(1)]);
    assert_eq!(
        view.expr(view.segment_exprs(0).unwrap()[0]).unwrap(),
        [0xd2, 1, 0x0b]
    );
}

#[test]
fn directory_errors_name_the_table() {
    let (tables, module) = sample_tables();
    let good = tables.finish(module);
    for id in TableId::ALL {
        for field in 0..3 {
            let mut b = good.clone();
            let t = &mut MetaDirectory::mut_from_prefix(&mut b).unwrap().0.tables[id as usize];
            match field {
                0 => t.offset = (good.len() as u32).into(),
                1 => t.count = 0x0fff_ffff.into(),
                _ => t.entry_size = (t.entry_size.get() + 1).into(),
            }
            match MetaView::parse(&b) {
                Err(FormatError::Corrupt {
                    at: Location::Table(at),
                    ..
                }) => assert_eq!(at, id),
                other => panic!("{} field {field}: {:?}", id.name(), other.err()),
            }
        }
    }
}

#[test]
fn references_inside_entries_are_checked_on_use() {
    let (mut tables, module) = sample_tables();
    tables.types[0].valtypes = 1000.into();
    tables.functions[0].name.len = 1000.into();
    tables.elements[0].items_count = 7.into();
    let bytes = tables.finish(module);
    let view = MetaView::parse(&bytes).unwrap();
    let e = view.signature(0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "corrupt artifact: Types[0].valtypes: signature outside the ValTypes blob"
    );
    assert!(view.str_bytes(view.functions()[0].name).is_err());
    assert_eq!(view.func_name(0), "<corrupt>");
    let e = view.segment_funcs(0).unwrap_err();
    assert!(e.to_string().contains("Elements[0].items_start"), "{e}");
    let e = view.type_entry(5).unwrap_err();
    assert_eq!(e.to_string(), "corrupt artifact: Types[5]: no such entry");
}

fn settings(arch: Arch, flags: u32) -> CodeSettings {
    CodeSettings {
        arch,
        cpu_features: 0b101,
        opt_level: 1,
        flags,
        vmctx_size: 96,
        num_functions: 1,
        wasm_sha256: [7; 32],
    }
}

#[test]
fn whole_artifacts_round_trip_on_every_target() {
    let (tables, module) = sample_tables();
    let meta = tables.clone().finish(module);
    let text: Vec<u8> = (0..100u8).collect();
    let data = vec![0xab; 5000];
    let symbols = [Symbol {
        name: b"add".to_vec(),
        offset: 0,
        size: 16,
    }];
    for arch in Arch::ALL {
        for unwind in [false, true] {
            let flags = FLAG_FRAME_POINTERS | if unwind { FLAG_UNWIND_INFO } else { 0 };
            let placement = Placement::new(arch, meta.len(), text.len(), unwind);
            let (eh_frame, eh_hdr) = if unwind {
                (vec![1u8; 24], vec![2u8; 12])
            } else {
                (Vec::new(), Vec::new())
            };
            let write = || {
                write_artifact(&ArtifactParts {
                    settings: settings(arch, flags),
                    meta: &meta,
                    text: &text,
                    eh_frame: &eh_frame,
                    eh_frame_hdr: &eh_hdr,
                    data: &data,
                    symbols: &symbols,
                })
                .unwrap()
            };
            let bytes = write();
            let view = ArtifactView::parse(&bytes).unwrap();
            let h = view.header();
            assert_eq!(h.format_major.get(), kiln_format::FORMAT_MAJOR);
            assert_eq!(h.arch.get(), arch as u16);
            assert_eq!(h.triple_str(), arch.triple());
            assert_eq!((h.cpu_features.get(), h.flags.get()), (0b101, flags));
            assert_eq!((h.vmctx_size.get(), h.wasm_sha256), (96, [7; 32]));
            assert_eq!(h.text.offset.get(), placement.text);
            assert_eq!(&bytes[view.text_range()], &text[..]);
            assert_eq!(&bytes[view.data_range()], &data[..]);
            assert_eq!(view.to_tables(), sorted(tables.clone()));
            if unwind {
                assert_eq!(h.eh_frame.offset.get(), placement.eh_frame);
                let hdr = placement.eh_frame_hdr(eh_frame.len()) as usize;
                assert_eq!(&bytes[hdr..hdr + eh_hdr.len()], &eh_hdr[..]);
            }
            view.verify_checksum().unwrap();
            // The checksum covers the code, and the headers that say where it is.
            let guard = HEADER_OFFSET as usize + std::mem::offset_of!(ArtifactHeader, memory_guard);
            for at in [
                view.text_range().start,
                0x12,
                guard,
                HEADER_OFFSET as usize + 40,
            ] {
                let mut damaged = bytes.clone();
                damaged[at] ^= 1;
                if let Ok(damaged) = ArtifactView::parse(&damaged) {
                    assert_eq!(
                        damaged.verify_checksum(),
                        Err(FormatError::Checksum),
                        "{at}"
                    );
                }
            }
            // Deterministic: the same parts give the same bytes.
            assert_eq!(bytes, write());
        }
    }
}

#[test]
fn header_errors_name_the_field() {
    let (tables, module) = sample_tables();
    let meta = tables.finish(module);
    let bytes = write_artifact(&ArtifactParts {
        settings: settings(Arch::X86_64, FLAG_FRAME_POINTERS),
        meta: &meta,
        text: &[0xc3; 16],
        eh_frame: &[],
        eh_frame_hdr: &[],
        data: &[],
        symbols: &[],
    })
    .unwrap();
    let at = HEADER_OFFSET as usize;
    let mutate = |f: &dyn Fn(&mut ArtifactHeader)| {
        let mut b = bytes.clone();
        f(ArtifactHeader::mut_from_prefix(&mut b[at..]).unwrap().0);
        // Resealed: the header checks behind the metadata checksum.
        if kiln_format::header::seal(&mut b).is_none() {
            return ArtifactView::parse(&b).err();
        }
        ArtifactView::parse(&b).err()
    };
    let field_of = |e: Option<FormatError>| match e {
        Some(FormatError::Corrupt {
            at: Location::Header(field),
            ..
        }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field_of(mutate(&|h| h.arch = 99.into())), "arch");
    assert_eq!(
        field_of(mutate(&|h| h.region_align = 512.into())),
        "region_align"
    );
    assert_eq!(
        field_of(mutate(&|h| h.header_size = 8.into())),
        "header_size"
    );
    assert_eq!(field_of(mutate(&|h| h.text.offset = 100.into())), "text");
    // Every header value this version defines is checked; none is ignored.
    assert_eq!(
        field_of(mutate(&|h| h.header_size = 400.into())),
        "header_size"
    );
    assert_eq!(field_of(mutate(&|h| h.reserved0 = 1)), "reserved0");
    assert_eq!(field_of(mutate(&|h| h.triple[0] = b'y')), "triple");
    assert_eq!(field_of(mutate(&|h| h.triple[31] = b'x')), "triple");
    assert_eq!(
        field_of(mutate(&|h| h.kiln_version[0] = 0xff)),
        "kiln_version"
    );
    assert_eq!(
        field_of(mutate(&|h| h.num_functions = 7.into())),
        "num_functions"
    );
    assert_eq!(
        field_of(mutate(&|h| h.eh_frame.size = 8.into())),
        "eh_frame"
    );
    // Regions may not overlap the headers or each other.
    assert_eq!(field_of(mutate(&|h| h.meta.offset = 64.into())), "meta");
    assert_eq!(
        field_of(mutate(&|h| {
            h.data.offset = h.text.offset;
            h.data.size = 16.into();
        })),
        "text"
    );
    assert_eq!(
        mutate(&|h| h.format_major = 1.into()),
        Some(FormatError::Version {
            found_major: 1,
            found_minor: kiln_format::FORMAT_MINOR
        })
    );
    assert_eq!(mutate(&|h| h.magic[0] = b'X'), Some(FormatError::BadMagic));
}
