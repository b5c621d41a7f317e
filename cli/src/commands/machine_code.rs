//! Machine code of an artifact's functions, decoded for `kiln disasm` and `kiln explore`: each
//! instruction with the wasm offset and trap site the artifact's tables give it.

use anyhow::{anyhow, Result};
use capstone::arch::{self, BuildsCapstone, BuildsCapstoneExtraMode};
use capstone::Capstone;
use kiln_format::EntityIndex;
use kiln_format::{Arch, ArtifactView, TrapKind};
use std::collections::BTreeSet;

fn disassembler(arch: Arch) -> Result<Capstone> {
    let cs = match arch {
        Arch::X86_64 => Capstone::new()
            .x86()
            .mode(arch::x86::ArchMode::Mode64)
            .build(),
        Arch::Aarch64 => Capstone::new()
            .arm64()
            .mode(arch::arm64::ArchMode::Arm)
            .build(),
        Arch::Riscv64 => Capstone::new()
            .riscv()
            .mode(arch::riscv::ArchMode::RiscV64)
            .extra_mode([arch::riscv::ArchExtraMode::RiscVC].into_iter())
            .build(),
        Arch::S390x => Capstone::new()
            .sysz()
            .mode(arch::sysz::ArchMode::Default)
            .build(),
    };
    cs.map_err(|e| anyhow!("disassembler for {}: {e}", arch.name()))
}

/// One machine instruction, with what the artifact's tables say about it.
pub struct Instruction {
    /// Its address: the file offset of its bytes, as `objdump` shows an artifact.
    pub address: u64,
    /// Its mnemonic.
    pub mnemonic: String,
    /// Its operands.
    pub operands: String,
    /// The wasm offset (in the module) of the instruction it was compiled from, from the
    /// address map, if the entry lies in this function.
    pub wasm: Option<u32>,
    /// The trap this instruction raises, if it is a trap site.
    pub trap: Option<TrapKind>,
}

/// The machine code of one defined function.
pub struct FunctionCode {
    /// Its index in the function index space.
    pub index: u32,
    /// Its display name.
    pub name: String,
    /// The address of its first byte.
    pub address: u64,
    /// The size of its code in bytes.
    pub size: u32,
    /// Its instructions.
    pub instructions: Vec<Instruction>,
}

/// The offsets in `[start, end)` of the text where the artifact's tables say an instruction
/// starts: address-map entries, trap sites, return addresses.
fn known_starts(view: &ArtifactView<'_>, start: u32, end: u32) -> Vec<u32> {
    fn within<T>(table: &[T], key: impl Fn(&T) -> u32, start: u32, end: u32) -> &[T] {
        let from = table.partition_point(|e| key(e) < start);
        let to = table.partition_point(|e| key(e) < end);
        &table[from..to.max(from)]
    }
    let mut starts: Vec<u32> = view
        .address_map()
        .within(start..end)
        .map(|e| e.code_offset)
        .chain(view.traps().within(start..end).map(|e| e.code_offset))
        .chain(
            within(view.call_sites(), |e| e.ret_offset.get(), start, end)
                .iter()
                .map(|e| e.ret_offset.get()),
        )
        .map(|o| o - start)
        .collect();
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// What stopped a run of decoded instructions.
enum Stop {
    /// Capstone decoded to the end, or stopped at bytes it cannot decode.
    Decoded,
    /// An instruction would run over a known instruction start.
    Overlap(usize),
    /// Decoding reached bytes that an instruction reads as data.
    Data,
}

/// The target of a RIP-relative operand (`[rip + 0x1c]`), as an offset in the code of which
/// `end` is the offset of the next instruction.
fn rip_target(operands: &str, end: usize) -> Option<usize> {
    let at = operands.find("[rip ")? + 5;
    let sign = operands.get(at..at + 1)?;
    let number = operands[at + 1..].trim_start();
    let number = &number[..number.find(']')?];
    // Capstone writes small displacements in decimal.
    let d = match number.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => number.parse().ok()?,
    };
    let d = if sign == "-" { -d } else { d };
    usize::try_from(end as i64 + d).ok()
}

/// The number of entries of the jump table at `at`: Cranelift's x86-64 tables hold 32-bit
/// offsets from the table's start to a target in the function, and no instruction starts in
/// them.
fn jump_table_len(code: &[u8], at: usize, starts: &BTreeSet<usize>) -> usize {
    let mut n = 0;
    while let Some(entry) = code.get(at + 4 * n..at + 4 * n + 4) {
        let offset = i32::from_le_bytes(entry.try_into().expect("4 bytes"));
        let target = at as i64 + i64::from(offset);
        let inside = (0..code.len() as i64).contains(&target);
        let overlaps = starts
            .range(at + 4 * n + 1..at + 4 * n + 4)
            .next()
            .is_some()
            || (n > 0 && starts.contains(&(at + 4 * n)));
        if !inside || overlaps {
            break;
        }
        n += 1;
    }
    n
}

/// Decodes `code` (at `address`) into (address, mnemonic, operands), keeping code and data
/// apart, since Cranelift puts data among the instructions:
/// - on x86-64, a jump table follows the `lea reg, [rip + d]` that points at it: its entries
///   become `.long` lines, and their targets known instruction starts;
/// - bytes another RIP-relative operand reads (constants), bytes that do not decode, and bytes
///   whose decoding would run over a known instruction start (`starts`: offsets in `code`)
///   become `.byte` lines up to the next known start.
fn decode(
    cs: &Capstone,
    arch: Arch,
    code: &[u8],
    address: u64,
    starts: &[u32],
) -> Vec<(u64, String, String)> {
    let mut starts: BTreeSet<usize> = starts.iter().map(|&s| s as usize).collect();
    let mut tables = BTreeSet::new();
    let mut constants = BTreeSet::new();
    let mut out = Vec::new();
    let data = |out: &mut Vec<(u64, String, String)>, mut from: usize, to: usize| {
        // Zero bytes before data are alignment padding, not `add byte ptr [rax], al`s.
        while out.last().is_some_and(|(at, m, o)| {
            m == "add" && o == "byte ptr [rax], al" && *at + 2 == address + from as u64
        }) {
            out.pop();
            from -= 2;
        }
        for (i, chunk) in code[from..to].chunks(8).enumerate() {
            let bytes: Vec<String> = chunk.iter().map(|b| format!("0x{b:02x}")).collect();
            let at = address + (from + 8 * i) as u64;
            out.push((at, ".byte".to_string(), bytes.join(", ")));
        }
    };
    // The next offset after `after` where code or data is known to start.
    let next_start = |sets: [&BTreeSet<usize>; 3], after: usize| {
        let next = sets.map(|s| s.range(after + 1..).next().copied().unwrap_or(code.len()));
        next.into_iter().min().unwrap_or(code.len())
    };
    let mut pos = 0;
    while pos < code.len() {
        if tables.remove(&pos) {
            let n = jump_table_len(code, pos, &starts);
            for k in 0..n {
                let at = pos + 4 * k;
                let entry = i32::from_le_bytes(code[at..at + 4].try_into().expect("4 bytes"));
                let target = (pos as i64 + i64::from(entry)) as usize;
                starts.insert(target);
                let note = format!("{entry:#x}  ; -> {:x}", address + target as u64);
                out.push((address + at as u64, ".long".to_string(), note));
            }
            if n > 0 {
                pos += 4 * n;
                continue;
            }
        }
        if constants.remove(&pos) {
            let next = next_start([&starts, &tables, &constants], pos);
            data(&mut out, pos, next);
            pos = next;
            continue;
        }
        // Capstone stops at bytes it cannot decode (or fails on them): they are data too.
        let decoded: Vec<(u64, usize, String, String)> = cs
            .disasm_all(&code[pos..], address + pos as u64)
            .map(|insns| {
                insns
                    .iter()
                    .map(|i| {
                        let mnemonic = i.mnemonic().unwrap_or("?").to_string();
                        (
                            i.address(),
                            i.len(),
                            mnemonic,
                            i.op_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut stop = Stop::Decoded;
        for (at, len, mnemonic, operands) in decoded {
            let offset = (at - address) as usize;
            if tables.contains(&offset) || constants.contains(&offset) {
                stop = Stop::Data;
                break;
            }
            let next = next_start([&starts, &tables, &constants], offset);
            if next < offset + len {
                stop = Stop::Overlap(next);
                break;
            }
            if arch == Arch::X86_64 {
                let target = rip_target(&operands, offset + len);
                if let Some(t) = target.filter(|&t| t > offset && t < code.len()) {
                    if mnemonic == "lea" {
                        tables.insert(t);
                    } else {
                        constants.insert(t);
                    }
                }
            }
            out.push((at, mnemonic, operands));
            pos = offset + len;
        }
        let known = |pos| tables.contains(&pos) || constants.contains(&pos);
        match stop {
            Stop::Overlap(next) => {
                data(&mut out, pos, next);
                pos = next;
            }
            // Decoding stopped before the end, not at data the code reads: data up to the next
            // known start.
            Stop::Decoded if pos < code.len() && !known(pos) => {
                let next = next_start([&starts, &tables, &constants], pos);
                data(&mut out, pos, next);
                pos = next;
            }
            Stop::Decoded | Stop::Data => {}
        }
    }
    out
}

/// Disassembles the defined functions of `view` that `filter` (a name or an index) selects.
pub fn functions(view: &ArtifactView<'_>, filter: Option<&str>) -> Result<Vec<FunctionCode>> {
    let cs = disassembler(view.arch())?;
    let text = &view.bytes()[view.text_range()];
    let text_addr = view.header().text.offset.get();
    let imported = view.module().imported_funcs.get();
    let mut out = Vec::new();
    for (i, f) in view.functions().iter().enumerate() {
        let index = EntityIndex::of_defined(i as u32, imported).unwrap_or(u32::MAX);
        let name = view.func_name(index);
        if filter.is_some_and(|w| w != name && w != index.to_string()) {
            continue;
        }
        let start = f.code_offset.get();
        let len = f.code_len.get();
        let code = text
            .get(start as usize..start as usize + len as usize)
            .ok_or_else(|| anyhow!("function {index} lies outside the text"))?;
        let starts = known_starts(view, start, start.saturating_add(len));
        let insns = decode(
            &cs,
            view.arch(),
            code,
            text_addr + u64::from(start),
            &starts,
        );
        let instructions = insns
            .into_iter()
            .map(|(address, mnemonic, operands)| {
                let offset = (address - text_addr) as u32;
                Instruction {
                    address,
                    mnemonic,
                    operands,
                    // Bodies lie in index order, like the code: an offset before this body is
                    // the previous function's last entry, which does not describe this code.
                    wasm: view
                        .wasm_offset_at(offset)
                        .filter(|&w| w >= f.wasm_offset.get()),
                    trap: view.trap_at(offset).and_then(TrapKind::from_code),
                }
            })
            .collect();
        out.push(FunctionCode {
            index,
            name,
            address: text_addr + u64::from(start),
            size: len,
            instructions,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rip_targets_in_hex_and_decimal() {
        assert_eq!(rip_target("r9, [rip + 0xa]", 100), Some(110));
        assert_eq!(rip_target("rdi, [rip + 9]", 100), Some(109));
        assert_eq!(rip_target("eax, dword ptr [rip - 0x10]", 100), Some(84));
        assert_eq!(rip_target("eax, dword ptr [rip - 0x100]", 100), None);
        assert_eq!(rip_target("rax, [rbx + 8]", 100), None);
        assert_eq!(rip_target("rax, [rip ", 100), None);
    }

    #[test]
    fn a_jump_table_ends_where_its_entries_leave_the_function() {
        // Two entries pointing into a 32-byte function, then code bytes read as a far offset.
        let mut code = vec![0u8; 32];
        code[8..12].copy_from_slice(&12i32.to_le_bytes());
        code[12..16].copy_from_slice(&(-8i32).to_le_bytes());
        code[16..20].copy_from_slice(&[0x48, 0x8b, 0x44, 0x24]);
        assert_eq!(jump_table_len(&code, 8, &BTreeSet::new()), 2);
        // A known instruction start ends it too.
        assert_eq!(jump_table_len(&code, 8, &BTreeSet::from([12])), 1);
    }
}
