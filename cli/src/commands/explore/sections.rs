//! The artifact file cut into its ELF sections and what lies between them, to draw to scale.

use anyhow::{Context, Result};
use object::read::elf::FileHeader;
use object::{elf, Endianness, Object, ObjectSection};

/// A byte range of the artifact file.
pub struct Part {
    /// A section's name, or what lies there when no section covers it.
    pub name: String,
    /// Whether an ELF section covers it (not the ELF tables or padding).
    pub section: bool,
    /// Its file offset.
    pub offset: u64,
    /// Its size in bytes.
    pub size: u64,
}

/// The ELF header, program headers and section headers of `file`, which no section covers.
fn elf_tables(file: &[u8]) -> Result<[(u64, u64, &'static str); 3]> {
    let header = elf::FileHeader64::<Endianness>::parse(file)?;
    let e = header.endian()?;
    let table = |offset: u64, count: u16, size: u16| (offset, u64::from(count) * u64::from(size));
    let (ph, ph_size) = table(header.e_phoff(e), header.e_phnum(e), header.e_phentsize(e));
    let (sh, sh_size) = table(header.e_shoff(e), header.e_shnum(e), header.e_shentsize(e));
    Ok([
        (0, u64::from(header.e_ehsize(e)), "ELF header"),
        (ph, ph_size, "program headers"),
        (sh, sh_size, "section headers"),
    ])
}

/// Every byte of `file` (an artifact) in exactly one part, in file order.
pub fn parts(file: &[u8]) -> Result<Vec<Part>> {
    let elf = object::File::parse(file).context("reading the artifact's ELF sections")?;
    let mut ranges: Vec<(u64, u64, String, bool)> = elf
        .sections()
        .filter_map(|s| {
            let (offset, size) = s.file_range()?;
            let name = s.name().unwrap_or("?").to_string();
            Some((offset, size, name, true))
        })
        .collect();
    let tables = elf_tables(file).context("reading the artifact's ELF header")?;
    ranges.extend(
        tables
            .iter()
            .map(|&(offset, size, name)| (offset, size, name.to_string(), false)),
    );
    ranges.retain(|r| r.1 > 0);
    ranges.sort();
    let len = file.len() as u64;
    let mut parts = Vec::new();
    let mut at = 0;
    let padding = |parts: &mut Vec<Part>, from: u64, to: u64| {
        if to > from {
            parts.push(Part {
                name: "padding".to_string(),
                section: false,
                offset: from,
                size: to - from,
            });
        }
    };
    for (offset, size, name, section) in ranges {
        let end = offset.saturating_add(size).min(len);
        if end <= at {
            continue;
        }
        let start = offset.max(at);
        padding(&mut parts, at, start);
        parts.push(Part {
            name,
            section,
            offset: start,
            size: end - start,
        });
        at = end;
    }
    padding(&mut parts, at, len);
    Ok(parts)
}
