//! The metadata region, read in place: the directory check and the accessors that follow
//! references between tables. The per-table accessors (`types()`, `functions()`, ...) are
//! generated from the one list of tables in [`crate::tables`].

use super::code_map::CodeMap;
use super::entry_missing;
use crate::error::{FormatError, Location};
use crate::index::EntityIndex;
use crate::tables::*;
use zerocopy::little_endian::U32;
use zerocopy::{FromBytes, Immutable, KnownLayout};

/// A checked view of a metadata region: the directory has been checked (every table lies inside
/// the region, with the entry size this crate expects).
#[derive(Clone, Copy)]
pub struct MetaView<'a> {
    meta: &'a [u8],
    dir: &'a MetaDirectory,
}

impl<'a> MetaView<'a> {
    /// Checks the directory at the start of `bytes` against a region of `meta_len` bytes.
    pub(crate) fn check_directory(
        bytes: &'a [u8],
        meta_len: u64,
    ) -> Result<&'a MetaDirectory, FormatError> {
        let (dir, _) = MetaDirectory::ref_from_prefix(bytes)
            .map_err(|_| FormatError::Truncated("metadata directory"))?;
        for (id, t) in TableId::ALL.into_iter().zip(&dir.tables) {
            let size = id.entry_size();
            if t.entry_size.get() as usize != size {
                return Err(FormatError::corrupt(
                    Location::Table(id),
                    format_args!("entry size {} instead of {size}", t.entry_size),
                ));
            }
            let end = u64::from(t.offset.get()) + u64::from(t.count.get()) * size as u64;
            if end > meta_len {
                return Err(FormatError::corrupt(
                    Location::Table(id),
                    format_args!("ends at {end}, past the {meta_len}-byte metadata region"),
                ));
            }
        }
        Ok(dir)
    }

    /// Checks a whole metadata region.
    pub fn parse(meta: &'a [u8]) -> Result<MetaView<'a>, FormatError> {
        let dir = MetaView::check_directory(meta, meta.len() as u64)?;
        Ok(MetaView { meta, dir })
    }

    /// The entries of table `id`, in place.
    pub(crate) fn table<T: FromBytes + Immutable + KnownLayout>(&self, id: TableId) -> &'a [T] {
        let t = &self.dir.tables[id as usize];
        let start = t.offset.get() as usize;
        let len = t.count.get() as usize * size_of::<T>();
        // Bounds and entry size were checked in `check_directory`: never empty by mistake.
        self.meta
            .get(start..start + len)
            .and_then(|b| <[T]>::ref_from_bytes(b).ok())
            .unwrap_or(&[])
    }

    /// Where table `id` lies in the region and how many entries it has (checked to lie inside
    /// the region): what size reports (`kiln inspect --sizes`) read.
    pub fn table_ref(&self, id: TableId) -> TableRef {
        self.dir.tables[id as usize]
    }

    /// Module-level facts.
    pub fn module(&self) -> &'a ModuleEntry {
        &self.dir.module
    }

    /// Total number of functions, imported and defined.
    pub fn num_funcs(&self) -> u32 {
        let defined = self.functions().len() as u32;
        self.module().imported_funcs.get().saturating_add(defined)
    }

    /// Function `index` split into imported or defined.
    pub fn func_index(&self, index: u32) -> EntityIndex {
        EntityIndex::split(index, self.module().imported_funcs.get())
    }

    /// Global `index` split into imported or defined.
    pub fn global_index(&self, index: u32) -> EntityIndex {
        EntityIndex::split(index, self.module().imported_globals.get())
    }

    /// A string's bytes.
    pub fn str_bytes(&self, r: StrRef) -> Result<&'a [u8], FormatError> {
        slice_of(self.strings(), r).ok_or_else(|| {
            FormatError::corrupt(
                Location::Table(TableId::Strings),
                format_args!("string at {}+{} out of range", r.offset, r.len),
            )
        })
    }

    /// A string, lossily decoded for display.
    pub fn str_lossy(&self, r: StrRef) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(self.str_bytes(r).unwrap_or(b"<corrupt>"))
    }

    /// A constant expression's bytes.
    pub fn expr(&self, r: ExprRef) -> Result<&'a [u8], FormatError> {
        slice_of(self.exprs(), r).ok_or_else(|| {
            FormatError::corrupt(
                Location::Table(TableId::Exprs),
                format_args!("expression at {}+{} out of range", r.offset, r.len),
            )
        })
    }

    /// Type `index`.
    pub fn type_entry(&self, index: u32) -> Result<&'a TypeEntry, FormatError> {
        self.types()
            .get(index as usize)
            .ok_or_else(|| entry_missing(TableId::Types, index))
    }

    /// The words of type `index`, parameters then results (a struct's or an array's fields, and
    /// no results), and the number of parameters.
    pub fn type_words(&self, index: u32) -> Result<(&'a [U32], usize), FormatError> {
        let ty = self.type_entry(index)?;
        let start = ty.valtypes.get() as usize;
        let p = ty.params.get() as usize;
        let r = ty.results.get() as usize;
        let all = self
            .valtypes()
            .get(start..start.saturating_add(p).saturating_add(r))
            .ok_or_else(|| {
                FormatError::corrupt(
                    Location::entry(TableId::Types, index, "valtypes"),
                    "signature outside the ValTypes blob",
                )
            })?;
        Ok((all, p))
    }

    /// The words of type `index`: parameters and results of a function type, or fields and none
    /// of a struct or array type.
    pub fn signature(&self, index: u32) -> Result<(&'a [U32], &'a [U32]), FormatError> {
        let (all, p) = self.type_words(index)?;
        Ok(all.split_at(p))
    }

    /// Type index of function `func` (imported or defined).
    pub fn func_type_index(&self, func: u32) -> Result<u32, FormatError> {
        match self.func_index(func) {
            EntityIndex::Imported(i) => self
                .imports()
                .iter()
                .filter(|imp| imp.kind == extern_kind::FUNC)
                .nth(i as usize)
                .map(|imp| imp.type_index.get())
                .ok_or_else(|| {
                    FormatError::corrupt(
                        Location::Module("imported_funcs"),
                        format_args!("imported function {i} is not in the import table"),
                    )
                }),
            EntityIndex::Defined(d) => self
                .functions()
                .get(d as usize)
                .map(|f| f.type_index.get())
                .ok_or_else(|| entry_missing(TableId::Functions, d)),
        }
    }

    /// The function-index items of element segment `index`.
    pub fn segment_funcs(&self, index: usize) -> Result<&'a [U32], FormatError> {
        let e = self.element(index)?;
        items(self.elem_funcs(), e).ok_or_else(|| elem_items_error(index))
    }

    /// The expression items of element segment `index`.
    pub fn segment_exprs(&self, index: usize) -> Result<&'a [ExprRef], FormatError> {
        let e = self.element(index)?;
        items(self.elem_exprs(), e).ok_or_else(|| elem_items_error(index))
    }

    /// Element segment `index`.
    pub fn element(&self, index: usize) -> Result<&'a ElementEntry, FormatError> {
        self.elements()
            .get(index)
            .ok_or_else(|| entry_missing(TableId::Elements, index))
    }

    /// Looks an export up by name (binary search).
    pub fn find_export(&self, name: &str) -> Option<&'a ExportEntry> {
        let exports = self.exports();
        exports
            .binary_search_by(|e| self.str_bytes(e.name).unwrap_or(&[]).cmp(name.as_bytes()))
            .ok()
            .map(|i| &exports[i])
    }

    /// The defined function whose code contains text offset `offset`, with its index in the
    /// function index space.
    pub fn function_at(&self, offset: u32) -> Option<(u32, &'a FunctionEntry)> {
        let funcs = self.functions();
        let i = funcs.partition_point(|f| f.code_offset.get() <= offset);
        let f = funcs.get(i.checked_sub(1)?)?;
        let end = f.code_offset.get().checked_add(f.code_len.get())?;
        let imported = self.module().imported_funcs.get();
        let index = EntityIndex::of_defined((i - 1) as u32, imported)?;
        (offset < end).then_some((index, f))
    }

    /// The call site whose return address is at text offset `offset`, with its handlers, if it
    /// has any (and its handler range lies in the `Handlers` table).
    pub fn call_site_at(
        &self,
        offset: u32,
    ) -> Option<(
        &'a crate::tables::CallSiteEntry,
        &'a [crate::tables::HandlerEntry],
    )> {
        let sites = self.call_sites();
        let site = &sites[sites
            .binary_search_by_key(&offset, |s| s.ret_offset.get())
            .ok()?];
        let start = site.handlers_start.get() as usize;
        let end = start.checked_add(site.handlers_count.get() as usize)?;
        Some((site, self.handlers().get(start..end)?))
    }

    /// The trap table, in place.
    pub fn traps(&self) -> CodeMap<'a> {
        CodeMap::new(self.trap_blocks(), self.trap_runs())
    }

    /// The address map, in place.
    pub fn address_map(&self) -> CodeMap<'a> {
        CodeMap::new(self.address_map_blocks(), self.address_map_runs())
    }

    /// The trap kind recorded for the instruction at text offset `offset`.
    pub fn trap_at(&self, offset: u32) -> Option<u8> {
        self.traps()
            .get(offset)
            .and_then(|kind| u8::try_from(kind).ok())
    }

    /// The wasm offset recorded for the text offset, from the address map.
    pub fn wasm_offset_at(&self, offset: u32) -> Option<u32> {
        self.address_map().at_or_before(offset).map(|e| e.value)
    }

    /// A function's display name: its name-section name or `func[N]`.
    pub fn func_name(&self, index: u32) -> String {
        let named = self
            .func_index(index)
            .defined()
            .and_then(|d| self.functions().get(d as usize))
            .filter(|f| f.name.len.get() > 0)
            .map(|f| self.str_lossy(f.name).into_owned());
        named.unwrap_or_else(|| format!("func[{index}]"))
    }
}

fn elem_items_error(index: usize) -> FormatError {
    FormatError::corrupt(
        Location::entry(TableId::Elements, index, "items_start"),
        "items outside their table",
    )
}

/// The items of segment `e` in the item table `all`.
fn items<'a, T>(all: &'a [T], e: &ElementEntry) -> Option<&'a [T]> {
    let start = e.items_start.get() as usize;
    all.get(start..start.checked_add(e.items_count.get() as usize)?)
}

fn slice_of(blob: &[u8], r: StrRef) -> Option<&[u8]> {
    let start = r.offset.get() as usize;
    blob.get(start..start.checked_add(r.len.get() as usize)?)
}
