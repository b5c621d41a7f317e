//! `kiln inspect`: everything a person needs to know about an artifact, for any target.

use anyhow::{Context, Result};
use kiln_format::header::{
    FLAG_EPOCH_INTERRUPTION, FLAG_FRAME_POINTERS, FLAG_FUEL, FLAG_STRIPPED, FLAG_UNWIND_INFO,
};
use kiln_format::tables::{
    bounds_check, extern_kind, LIMITS_64, LIMITS_HAS_MAX, LIMITS_IMPORTED, NULL_FUNC,
};
use kiln_format::target::feature_names;
use kiln_format::ArtifactView;
use kiln_format::EntityIndex;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `kiln inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// The artifact.
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Show where the file's bytes go instead: each section and its parts (code, trampolines,
    /// every metadata table, data images, symbols) with percentages, and the largest functions.
    #[arg(long)]
    sizes: bool,
    /// With `--sizes`: how many of the largest functions to list.
    #[arg(long, value_name = "N", default_value_t = 10, requires = "sizes")]
    top: usize,
}

fn kind_name(kind: u8) -> &'static str {
    match kind {
        extern_kind::FUNC => "func",
        extern_kind::TABLE => "table",
        extern_kind::MEMORY => "memory",
        extern_kind::GLOBAL => "global",
        _ => "tag",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds the report.
pub fn report(view: &ArtifactView<'_>) -> Value {
    let h = view.header();
    let arch = view.arch();
    let flags = h.flags.get();
    let compatible = match view.check_compatibility() {
        Ok(()) => json!({"ok": true}),
        Err(e) => json!({"ok": false, "reason": e.to_string()}),
    };
    let section = |name: &str, r: kiln_format::header::FileRange, perm: &str| json!({"name": name, "offset": r.offset.get(), "size": r.size.get(), "permissions": perm});
    let imports: Vec<Value> = view
        .imports()
        .iter()
        .map(|i| {
            json!({
                "module": view.str_lossy(i.module),
                "name": view.str_lossy(i.name),
                "kind": kind_name(i.kind),
                "index": i.index.get(),
            })
        })
        .collect();
    let exports: Vec<Value> = view
        .exports()
        .iter()
        .map(|e| json!({"name": view.str_lossy(e.name), "kind": kind_name(e.kind), "index": e.index.get()}))
        .collect();
    // Each memory's address type and the bounds checks its code makes (SPEC.md §6).
    let memories: Vec<Value> = view
        .memories()
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let strategy = match m.bounds_check {
                bounds_check::GUARD_PAGES => "guard pages",
                bounds_check::EXPLICIT => "explicit",
                _ => "unknown",
            };
            json!({
                "index": i,
                "imported": m.flags & LIMITS_IMPORTED != 0,
                "address_type": if m.flags & LIMITS_64 != 0 { "i64" } else { "i32" },
                "min_pages": m.min_pages.get(),
                "max_pages": (m.flags & LIMITS_HAS_MAX != 0).then(|| m.max_pages.get()),
                "bounds_check": strategy,
            })
        })
        .collect();
    let imported = view.module().imported_funcs.get();
    let functions: Vec<Value> = view
        .functions()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let index = EntityIndex::of_defined(i as u32, imported).unwrap_or(u32::MAX);
            json!({
                "index": index,
                "name": view.func_name(index),
                "type": f.type_index.get(),
                "code_offset": h.text.offset.get() + u64::from(f.code_offset.get()),
                "code_size": f.code_len.get(),
            })
        })
        .collect();
    let start = view.module().start_func.get();
    let opt_level = ["none", "speed", "size"]
        .get(h.opt_level as usize)
        .copied()
        .unwrap_or("?");
    json!({
        "format_version": format!("{}.{}", h.format_major.get(), h.format_minor.get()),
        "kiln_version": h.kiln_version_str(),
        "target": h.triple_str(),
        "cpu_features": feature_names(arch, h.cpu_features.get()),
        "compatible_with_this_machine": compatible,
        "compatibility_key": kiln_format::compat::compatibility_key(h),
        "opt_level": opt_level,
        "bounds_checks": format!("static: {} GiB reservation + {} GiB guard",
            h.memory_reservation.get() >> 30, h.memory_guard.get() >> 30),
        "unwind_info": flags & FLAG_UNWIND_INFO != 0,
        "frame_pointers": flags & FLAG_FRAME_POINTERS != 0,
        "stripped": flags & FLAG_STRIPPED != 0,
        "fuel": flags & FLAG_FUEL != 0,
        "epoch_interruption": flags & FLAG_EPOCH_INTERRUPTION != 0,
        "wasm_sha256": hex(&h.wasm_sha256),
        "vmctx_size": h.vmctx_size.get(),
        "sections": [
            section(".kiln.meta", h.meta, "r--"),
            section(".text", h.text, "r-x"),
            section(".kiln.data", h.data, "r--"),
            section(".eh_frame", h.eh_frame, "r--"),
        ],
        "address_map_entries": view.address_map().len(),
        "address_map_bytes": view.address_map().byte_len(),
        "trap_entries": view.traps().len(),
        "trap_table_bytes": view.traps().byte_len(),
        "start_function": if start == NULL_FUNC { Value::Null } else { json!(start) },
        "imports": imports,
        "exports": exports,
        "memories": memories,
        "functions": functions,
    })
}

fn print_text(r: &Value) {
    let s = |k: &str| {
        r[k].as_str()
            .map(str::to_string)
            .unwrap_or_else(|| r[k].to_string())
    };
    println!("format version   {}", s("format_version"));
    println!("written by       kiln {}", s("kiln_version"));
    println!("target           {}", s("target"));
    let features: Vec<&str> = r["cpu_features"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    println!(
        "cpu features     {}",
        if features.is_empty() {
            "(baseline)".to_string()
        } else {
            features.join(" ")
        }
    );
    let compat = &r["compatible_with_this_machine"];
    if compat["ok"].as_bool() == Some(true) {
        println!("this machine     compatible");
    } else {
        println!(
            "this machine     NOT compatible: {}",
            compat["reason"].as_str().unwrap_or("?")
        );
    }
    println!("compat key       {}", s("compatibility_key"));
    println!("opt level        {}", s("opt_level"));
    println!("bounds checks    {}", s("bounds_checks"));
    println!("unwind info      {}", s("unwind_info"));
    println!("fuel metering    {}", s("fuel"));
    println!("epoch checks     {}", s("epoch_interruption"));
    println!("stripped         {}", s("stripped"));
    println!("wasm sha256      {}", s("wasm_sha256"));
    println!("\nsections:");
    for sec in r["sections"].as_array().into_iter().flatten() {
        println!(
            "  {:<12} offset 0x{:08x} size {:>10} {}",
            sec["name"].as_str().unwrap_or(""),
            sec["offset"].as_u64().unwrap_or(0),
            sec["size"].as_u64().unwrap_or(0),
            sec["permissions"].as_str().unwrap_or("")
        );
    }
    println!(
        "  trap table entries {} ({} bytes), address map entries {} ({} bytes)",
        r["trap_entries"], r["trap_table_bytes"], r["address_map_entries"], r["address_map_bytes"]
    );
    println!(
        "\nimports ({}):",
        r["imports"].as_array().map_or(0, Vec::len)
    );
    for i in r["imports"].as_array().into_iter().flatten() {
        println!(
            "  {:<6} {}.{}",
            i["kind"].as_str().unwrap_or(""),
            i["module"].as_str().unwrap_or(""),
            i["name"].as_str().unwrap_or("")
        );
    }
    println!(
        "\nexports ({}):",
        r["exports"].as_array().map_or(0, Vec::len)
    );
    for e in r["exports"].as_array().into_iter().flatten() {
        println!(
            "  {:<6} {} (index {})",
            e["kind"].as_str().unwrap_or(""),
            e["name"].as_str().unwrap_or(""),
            e["index"]
        );
    }
    println!(
        "\nmemories ({}):",
        r["memories"].as_array().map_or(0, Vec::len)
    );
    for m in r["memories"].as_array().into_iter().flatten() {
        let max = m["max_pages"]
            .as_u64()
            .map_or("none".to_string(), |p| p.to_string());
        println!(
            "  {} {}{} pages {}..{max}, bounds checks: {}",
            m["index"],
            m["address_type"].as_str().unwrap_or(""),
            if m["imported"].as_bool() == Some(true) {
                " imported,"
            } else {
                ","
            },
            m["min_pages"],
            m["bounds_check"].as_str().unwrap_or("")
        );
    }
    println!(
        "\nfunctions ({}):",
        r["functions"].as_array().map_or(0, Vec::len)
    );
    for f in r["functions"].as_array().into_iter().flatten() {
        println!(
            "  {:>5} {:<32} offset 0x{:08x} size {:>7}",
            f["index"],
            f["name"].as_str().unwrap_or(""),
            f["code_offset"].as_u64().unwrap_or(0),
            f["code_size"]
        );
    }
}

/// Runs `kiln inspect`.
pub fn run(args: Args) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let view = ArtifactView::parse(&bytes).with_context(|| args.file.display().to_string())?;
    let r = if args.sizes {
        super::sizes::report(&view, args.top).with_context(|| args.file.display().to_string())?
    } else {
        report(&view)
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else if args.sizes {
        super::sizes::print_text(&r);
    } else {
        print_text(&r);
    }
    Ok(ExitCode::SUCCESS)
}
