//! `kiln inspect --sizes`: where an artifact's bytes go, from the ELF sections down to each
//! metadata table, and its largest functions.

use anyhow::{Context, Result};
use kiln_format::tables::{MetaDirectory, TableId};
use kiln_format::{ArtifactView, EntityIndex};
use object::read::elf::{ElfFile64, FileHeader};
use object::{Endianness, Object, ObjectSection, ObjectSymbol};
use serde_json::{json, Value};

/// One share of the file: a section, or a part of one.
struct Part {
    name: String,
    size: u64,
    parts: Vec<Part>,
}

impl Part {
    fn new(name: impl Into<String>, size: u64) -> Part {
        Part {
            name: name.into(),
            size,
            parts: Vec::new(),
        }
    }

    /// `self` with `parts` below it, and what they leave of `self.size` as `rest`.
    fn split(mut self, mut parts: Vec<Part>, rest: &str) -> Part {
        parts.retain(|p| p.size > 0);
        let used: u64 = parts.iter().map(|p| p.size).sum();
        let left = self.size.saturating_sub(used);
        if left > 0 && !parts.is_empty() {
            parts.push(Part::new(rest, left));
        }
        self.parts = parts;
        self
    }

    fn to_json(&self, file_size: u64) -> Value {
        let mut v = json!({
            "name": self.name,
            "size": self.size,
            "percent": percent(self.size, file_size),
        });
        if !self.parts.is_empty() {
            v["parts"] = self.parts.iter().map(|p| p.to_json(file_size)).collect();
        }
        v
    }
}

/// `part` of `whole` in percent, to a tenth.
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (part as f64 * 1000.0 / whole as f64).round() / 10.0
}

/// The parts of `.text`: the functions, the trampolines (from their symbols, when the artifact is
/// not stripped) and what alignment leaves between them.
fn text_parts(view: &ArtifactView<'_>, elf: &ElfFile64<'_, Endianness>, size: u64) -> Part {
    let functions = view.functions();
    let code: u64 = functions.iter().map(|f| u64::from(f.code_len.get())).sum();
    let trampolines: Vec<u64> = elf
        .symbols()
        .filter(|s| {
            s.name().is_ok_and(|n| {
                n.starts_with("kiln_entry_trampoline_") || n.starts_with("kiln_host_adapter_")
            })
        })
        .map(|s| s.size())
        .collect();
    let mut parts = vec![Part::new(format!("functions ({})", functions.len()), code)];
    let rest = if trampolines.is_empty() {
        "trampolines and alignment"
    } else {
        parts.push(Part::new(
            format!("trampolines ({})", trampolines.len()),
            trampolines.iter().sum(),
        ));
        "alignment"
    };
    Part::new(".text", size).split(parts, rest)
}

/// The parts of `.kiln.meta`: the directory, each table (the strings split into function names
/// and the rest), and the alignment between tables.
fn meta_parts(view: &ArtifactView<'_>, size: u64) -> Part {
    let mut parts = vec![Part::new(
        "directory and module entry",
        size_of::<MetaDirectory>() as u64,
    )];
    for id in TableId::ALL {
        let t = view.table_ref(id);
        let bytes = u64::from(t.count.get()) * u64::from(t.entry_size.get());
        if id == TableId::Strings {
            let names: u64 = view
                .functions()
                .iter()
                .map(|f| u64::from(f.name.len.get()))
                .sum::<u64>()
                .min(bytes);
            parts.push(Part::new("Strings: function names", names));
            parts.push(Part::new("Strings: other", bytes - names));
        } else {
            parts.push(Part::new(id.name(), bytes));
        }
    }
    Part::new(".kiln.meta", size).split(parts, "alignment")
}

/// The parts of `.kiln.data`: data segments kept for `memory.init`/instantiation and whole
/// memory images, and the alignment that keeps images page-aligned.
fn data_parts(view: &ArtifactView<'_>, size: u64) -> Part {
    let segments: u64 = view.data().iter().map(|d| d.len.get()).sum();
    let images: u64 = view.memory_images().iter().map(|m| m.len.get()).sum();
    let parts = vec![
        Part::new(format!("data segments ({})", view.data().len()), segments),
        Part::new(
            format!("memory images ({})", view.memory_images().len()),
            images,
        ),
    ];
    Part::new(".kiln.data", size).split(parts, "alignment")
}

/// The size report of the artifact `bytes`: its sections and their parts, with the `top`
/// largest functions.
pub fn report(view: &ArtifactView<'_>, top: usize) -> Result<Value> {
    let bytes = view.bytes();
    let file_size = bytes.len() as u64;
    let elf = ElfFile64::<Endianness>::parse(bytes).context("not a readable ELF file")?;
    let endian = elf.endian();
    let header = elf.elf_header();
    let headers = u64::from(header.e_ehsize(endian))
        + u64::from(header.e_phnum(endian)) * u64::from(header.e_phentsize(endian))
        + u64::from(header.e_shnum(endian)) * u64::from(header.e_shentsize(endian));
    let mut sections = vec![Part::new("ELF headers", headers)];
    for section in elf.sections() {
        let Some((_, size)) = section.file_range() else {
            continue;
        };
        let name = section.name().unwrap_or("?");
        sections.push(match name {
            ".text" => text_parts(view, &elf, size),
            ".kiln.meta" => meta_parts(view, size),
            ".kiln.data" => data_parts(view, size),
            _ => Part::new(name, size),
        });
    }
    let all = Part::new("file", file_size).split(sections, "alignment between sections");

    let imported = view.module().imported_funcs.get();
    let mut functions: Vec<(u32, u64)> = (0..view.functions().len() as u32)
        .map(|i| {
            let index = EntityIndex::of_defined(i, imported).unwrap_or(u32::MAX);
            (
                index,
                u64::from(view.functions()[i as usize].code_len.get()),
            )
        })
        .collect();
    // Largest first; equal sizes in index order, so that the list is the same every time.
    functions.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let code: u64 = functions.iter().map(|f| f.1).sum();
    let largest: Vec<Value> = functions
        .iter()
        .take(top)
        .map(|&(index, size)| {
            json!({
                "index": index,
                "name": view.func_name(index),
                "size": size,
                "percent_of_code": percent(size, code),
            })
        })
        .collect();
    Ok(json!({
        "file_size": file_size,
        "sections": all.parts.iter().map(|p| p.to_json(file_size)).collect::<Value>(),
        "functions": functions.len(),
        "function_code": code,
        "largest_functions": largest,
    }))
}

/// Prints `report` as text: a tree of sizes, then the largest functions.
pub fn print_text(r: &Value) {
    let file_size = r["file_size"].as_u64().unwrap_or(0);
    println!("{file_size} bytes in all\n");
    println!("{:>10} {:>6}  part", "bytes", "%");
    fn print_part(p: &Value, depth: usize) {
        println!(
            "{:>10} {:>6.1}  {}{}",
            p["size"].as_u64().unwrap_or(0),
            p["percent"].as_f64().unwrap_or(0.0),
            "  ".repeat(depth),
            p["name"].as_str().unwrap_or("")
        );
        for sub in p["parts"].as_array().into_iter().flatten() {
            print_part(sub, depth + 1);
        }
    }
    for p in r["sections"].as_array().into_iter().flatten() {
        print_part(p, 0);
    }
    let largest = r["largest_functions"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    println!(
        "\nlargest functions ({} of {}, {} bytes of code):",
        largest.len(),
        r["functions"],
        r["function_code"]
    );
    println!("{:>10} {:>6}  {:>6}  name", "bytes", "%", "index");
    for f in largest {
        println!(
            "{:>10} {:>6.1}  {:>6}  {}",
            f["size"].as_u64().unwrap_or(0),
            f["percent_of_code"].as_f64().unwrap_or(0.0),
            f["index"].as_u64().unwrap_or(0),
            f["name"].as_str().unwrap_or("")
        );
    }
}
