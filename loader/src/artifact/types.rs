//! Reflection on an artifact before instantiating it: what it imports and exports, with types,
//! and the settings it was compiled with.

use super::{Artifact, LoadError};
use crate::types::{
    ExportType, ExternType, FuncType, GlobalType, ImportType, MemoryType, Mutability, TableType,
    ValType,
};
use kiln_format::header::{FLAG_EPOCH_INTERRUPTION, FLAG_FUEL};
use kiln_format::tables::{extern_kind, TableId, LIMITS_64, LIMITS_HAS_MAX};
use kiln_format::{ArtifactView, FormatError, Location};

impl Artifact {
    /// Every import, in the order [`Instance::new`](crate::Instance::new) takes them.
    pub fn imports(&self) -> Result<Vec<ImportType>, LoadError> {
        let view = self.view()?;
        let ids = self.type_ids().map_err(|e| self.format_error(e))?;
        view.imports()
            .iter()
            .enumerate()
            .map(|(k, imp)| {
                let ty = if imp.kind == extern_kind::FUNC {
                    ExternType::Func(func_type(&view, ids, imp.type_index.get())?)
                } else {
                    extern_type(&view, ids, imp.kind, imp.index.get(), TableId::Imports, k)?
                };
                Ok(ImportType {
                    module: view.str_lossy(imp.module).into_owned(),
                    name: view.str_lossy(imp.name).into_owned(),
                    ty,
                })
            })
            .collect::<Result<Vec<_>, FormatError>>()
            .map_err(|source| self.format_error(source))
    }

    /// Every export, in name order.
    pub fn exports(&self) -> Result<Vec<ExportType>, LoadError> {
        let view = self.view()?;
        let ids = self.type_ids().map_err(|e| self.format_error(e))?;
        view.exports()
            .iter()
            .enumerate()
            .map(|(k, e)| {
                let index = e.index.get();
                let ty = if e.kind == extern_kind::FUNC {
                    ExternType::Func(func_type(&view, ids, view.func_type_index(index)?)?)
                } else {
                    extern_type(&view, ids, e.kind, index, TableId::Exports, k)?
                };
                Ok(ExportType {
                    name: view.str_lossy(e.name).into_owned(),
                    ty,
                })
            })
            .collect::<Result<Vec<_>, FormatError>>()
            .map_err(|source| self.format_error(source))
    }

    /// Whether the code meters fuel (`kiln compile --fuel`).
    pub fn consumes_fuel(&self) -> Result<bool, LoadError> {
        Ok(self.view()?.header().flags.get() & FLAG_FUEL != 0)
    }

    /// Whether the code checks epoch deadlines (`kiln compile --epoch-interruption`).
    pub fn epoch_interruption(&self) -> Result<bool, LoadError> {
        Ok(self.view()?.header().flags.get() & FLAG_EPOCH_INTERRUPTION != 0)
    }

    fn format_error(&self, error: FormatError) -> LoadError {
        LoadError::Format {
            path: self.path().to_owned(),
            error,
        }
    }
}

/// Function type `index` of the module.
pub(crate) fn func_type(
    view: &ArtifactView<'_>,
    type_ids: &[u32],
    index: u32,
) -> Result<FuncType, FormatError> {
    let (p, r) = view.signature(index)?;
    FuncType::from_words(p, r, type_ids).ok_or_else(|| {
        FormatError::corrupt(
            Location::entry(TableId::Types, index, "valtypes"),
            "unknown value type",
        )
    })
}

/// The type of table, memory or global `index`; `at` is the import or export naming it.
fn extern_type(
    view: &ArtifactView<'_>,
    type_ids: &[u32],
    kind: u8,
    index: u32,
    table: TableId,
    at: usize,
) -> Result<ExternType, FormatError> {
    let missing = || FormatError::corrupt(Location::entry(table, at, "index"), "no such entity");
    let i = index as usize;
    Ok(match kind {
        extern_kind::TABLE => {
            let t = view.tables().get(i).ok_or_else(missing)?;
            let element = ValType::from_word(t.elem_type.get(), type_ids).ok_or_else(missing)?;
            let max = (t.flags & LIMITS_HAS_MAX != 0).then(|| t.max.get());
            let is_64 = t.flags & LIMITS_64 != 0;
            ExternType::Table(TableType::from_limits(element, t.min.get(), max, is_64))
        }
        extern_kind::MEMORY => {
            let m = view.memories().get(i).ok_or_else(missing)?;
            let max = (m.flags & LIMITS_HAS_MAX != 0).then(|| m.max_pages.get());
            let is_64 = m.flags & LIMITS_64 != 0;
            ExternType::Memory(MemoryType::from_limits(m.min_pages.get(), max, is_64))
        }
        extern_kind::GLOBAL => {
            let g = view.globals().get(i).ok_or_else(missing)?;
            let content = ValType::from_word(g.val_type.get(), type_ids).ok_or_else(missing)?;
            let m = if g.mutable != 0 {
                Mutability::Var
            } else {
                Mutability::Const
            };
            ExternType::Global(GlobalType::new(content, m))
        }
        extern_kind::TAG => {
            let t = view.tags().get(i).ok_or_else(missing)?;
            let ty = func_type(view, type_ids, t.type_index.get())?;
            ExternType::Tag(crate::exn::TagType::from_func_type(ty))
        }
        _ => {
            return Err(FormatError::corrupt(
                Location::entry(table, at, "kind"),
                format_args!("unsupported kind {kind}"),
            ))
        }
    })
}
