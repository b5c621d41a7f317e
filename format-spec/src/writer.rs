//! Building the metadata region. The compiler fills a [`MetaBuilder`] and places the bytes it
//! returns in the artifact; the ELF container itself is written by the compiler's emitter.

use crate::tables::*;
use zerocopy::little_endian::U32;
use zerocopy::IntoBytes;

/// Collects the metadata tables of one module.
#[derive(Default)]
pub struct MetaBuilder {
    /// Function types.
    pub types: Vec<FuncTypeEntry>,
    /// Imports in module order.
    pub imports: Vec<ImportEntry>,
    /// Defined functions.
    pub functions: Vec<FunctionEntry>,
    /// Tables, imported first.
    pub tables: Vec<TableEntry>,
    /// Memories, imported first.
    pub memories: Vec<MemoryEntry>,
    /// Globals, imported first.
    pub globals: Vec<GlobalEntry>,
    /// Exports in any order; sorted by [`MetaBuilder::finish`].
    pub exports: Vec<ExportEntry>,
    /// Element segments.
    pub elements: Vec<ElementEntry>,
    /// Data segments.
    pub data: Vec<DataEntry>,
    /// Trap entries in any order; sorted by [`MetaBuilder::finish`].
    pub traps: Vec<TrapEntry>,
    /// Address map in any order; sorted by [`MetaBuilder::finish`].
    pub address_map: Vec<AddressMapEntry>,
    /// Memory images.
    pub memory_images: Vec<MemoryImageEntry>,
    /// Element function items.
    pub elem_funcs: Vec<U32>,
    /// Element expression items.
    pub elem_exprs: Vec<ExprRef>,
    /// Module facts.
    pub module: Option<ModuleEntry>,
    strings: Vec<u8>,
    valtypes: Vec<u8>,
    exprs: Vec<u8>,
}

impl MetaBuilder {
    /// Adds a string (deduplicating nothing: names are rarely repeated) and returns its reference.
    pub fn string(&mut self, s: &[u8]) -> StrRef {
        push_blob(&mut self.strings, s)
    }

    /// Adds a value-type list and returns its offset.
    pub fn valtypes(&mut self, types: &[u8]) -> u32 {
        push_blob(&mut self.valtypes, types).offset.get()
    }

    /// Adds a constant expression (including its final `end`).
    pub fn expr(&mut self, bytes: &[u8]) -> ExprRef {
        push_blob(&mut self.exprs, bytes)
    }

    /// Sorts what must be sorted and lays the region out: the directory, then each table in
    /// [`TableId`] order, each 8-byte aligned.
    pub fn finish(mut self) -> Vec<u8> {
        let strings = std::mem::take(&mut self.strings);
        self.exports
            .sort_by(|a, b| str_of(&strings, a.name).cmp(str_of(&strings, b.name)));
        self.traps.sort_by_key(|t| t.code_offset.get());
        self.address_map.sort_by_key(|e| e.code_offset.get());
        let parts: [(&[u8], usize, usize); TABLE_COUNT] = [
            (
                self.types.as_bytes(),
                self.types.len(),
                size_of::<FuncTypeEntry>(),
            ),
            (
                self.imports.as_bytes(),
                self.imports.len(),
                size_of::<ImportEntry>(),
            ),
            (
                self.functions.as_bytes(),
                self.functions.len(),
                size_of::<FunctionEntry>(),
            ),
            (
                self.tables.as_bytes(),
                self.tables.len(),
                size_of::<TableEntry>(),
            ),
            (
                self.memories.as_bytes(),
                self.memories.len(),
                size_of::<MemoryEntry>(),
            ),
            (
                self.globals.as_bytes(),
                self.globals.len(),
                size_of::<GlobalEntry>(),
            ),
            (
                self.exports.as_bytes(),
                self.exports.len(),
                size_of::<ExportEntry>(),
            ),
            (
                self.elements.as_bytes(),
                self.elements.len(),
                size_of::<ElementEntry>(),
            ),
            (
                self.data.as_bytes(),
                self.data.len(),
                size_of::<DataEntry>(),
            ),
            (
                self.traps.as_bytes(),
                self.traps.len(),
                size_of::<TrapEntry>(),
            ),
            (&strings, strings.len(), 1),
            (&self.valtypes, self.valtypes.len(), 1),
            (&self.exprs, self.exprs.len(), 1),
            (self.elem_funcs.as_bytes(), self.elem_funcs.len(), 4),
            (
                self.elem_exprs.as_bytes(),
                self.elem_exprs.len(),
                size_of::<StrRef>(),
            ),
            (
                self.address_map.as_bytes(),
                self.address_map.len(),
                size_of::<AddressMapEntry>(),
            ),
            (
                self.memory_images.as_bytes(),
                self.memory_images.len(),
                size_of::<MemoryImageEntry>(),
            ),
        ];
        let mut out = vec![0u8; size_of::<MetaDirectory>()];
        let mut dir_tables = [TableRef::default(); TABLE_COUNT];
        for (slot, (bytes, count, size)) in dir_tables.iter_mut().zip(parts) {
            out.resize(out.len().next_multiple_of(8), 0);
            *slot = TableRef {
                offset: (out.len() as u32).into(),
                count: (count as u32).into(),
                entry_size: (size as u32).into(),
            };
            out.extend_from_slice(bytes);
        }
        let dir = MetaDirectory {
            tables: dir_tables,
            module: self.module.expect("module entry set"),
        };
        out[..size_of::<MetaDirectory>()].copy_from_slice(dir.as_bytes());
        out
    }
}

fn push_blob(blob: &mut Vec<u8>, bytes: &[u8]) -> StrRef {
    let r = StrRef {
        offset: (blob.len() as u32).into(),
        len: (bytes.len() as u32).into(),
    };
    blob.extend_from_slice(bytes);
    r
}

fn str_of(blob: &[u8], r: StrRef) -> &[u8] {
    let s = r.offset.get() as usize;
    &blob[s..s + r.len.get() as usize]
}
