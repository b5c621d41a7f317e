//! What instantiation and calls derive from an artifact's metadata, computed once per artifact
//! and kept with it: canonical type ids, and the defined functions with their code addresses and
//! `VMFuncRef` slots checked.

use super::Artifact;
use kiln_format::tables::{TableId, NO_FUNC_REF, NULL_FUNC};
use kiln_format::{EntityIndex, FormatError, Location};
use std::sync::OnceLock;

/// The derived tables of one artifact.
#[derive(Default)]
pub(super) struct Derived {
    /// Canonical type ids of the module's types, computed at the first instantiation.
    type_ids: OnceLock<Box<[u32]>>,
    /// The defined functions, checked once.
    defined_funcs: OnceLock<DefinedFuncs>,
}

/// A defined function, as instantiation and calls need it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DefinedFunc {
    /// Offset of its code in the text region, checked to lie inside it.
    pub offset: usize,
    /// Its `VMFuncRef` slot, or `NO_FUNC_REF`.
    pub slot: u32,
}

/// The defined functions of an artifact.
pub(crate) struct DefinedFuncs {
    /// In index order.
    pub all: Box<[DefinedFunc]>,
    /// `(text offset, canonical type id)` of those with a `VMFuncRef`, in slot order: what each
    /// instantiation writes into its VMContext.
    pub referenceable: Box<[(usize, u32)]>,
    /// For each item of the `ElemFuncs` table: its function's `VMFuncRef` slot, or `NULL_FUNC`
    /// for a null item. Every slot is below `ModuleEntry::func_refs`. Filling a table from a
    /// segment then reads this array in order instead of looking up each function.
    pub elem_slots: Box<[u32]>,
}

impl Artifact {
    /// The defined functions, with code offsets, type indices and `VMFuncRef` slots checked,
    /// computed once: what instantiation and calls need of them.
    pub(crate) fn defined_funcs(&self) -> Result<&DefinedFuncs, FormatError> {
        let derived = &self.inner.derived;
        if let Some(funcs) = derived.defined_funcs.get() {
            return Ok(funcs);
        }
        let view = self.checked_view();
        let ids = self.type_ids()?;
        let code = self.code();
        let module = view.module();
        let at = |i: usize, field| Location::entry(TableId::Functions, i, field);
        // Slots are assigned in function order after the imported functions' (SPEC §6): checking
        // that exact assignment guarantees every slot the code may read gets initialized.
        let mut next_slot = module.imported_funcs.get();
        let mut referenceable = Vec::new();
        let all = view
            .functions()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let (off, len) = (f.code_offset.get() as usize, f.code_len.get() as usize);
                if off.checked_add(len).is_none_or(|end| end > code.len()) {
                    return Err(FormatError::corrupt(
                        at(i, "code_offset"),
                        format_args!("code at {off}+{len} outside the {}-byte text", code.len()),
                    ));
                }
                let ti = f.type_index.get();
                let id = *ids.get(ti as usize).ok_or_else(|| {
                    FormatError::corrupt(at(i, "type_index"), format_args!("no type {ti}"))
                })?;
                let slot = f.func_ref.get();
                if slot != NO_FUNC_REF {
                    if slot != next_slot {
                        return Err(FormatError::corrupt(
                            at(i, "func_ref"),
                            format_args!("slot {slot} where {next_slot} comes next"),
                        ));
                    }
                    next_slot += 1;
                    referenceable.push((off, id));
                }
                Ok(DefinedFunc { offset: off, slot })
            })
            .collect::<Result<Box<[DefinedFunc]>, _>>()?;
        if next_slot != module.func_refs.get() {
            return Err(FormatError::corrupt(
                Location::Module("func_refs"),
                format_args!(
                    "{} slots, but the functions use {next_slot}",
                    module.func_refs
                ),
            ));
        }
        let elem_slots = view
            .elem_funcs()
            .iter()
            .enumerate()
            .map(|(i, f)| match f.get() {
                NULL_FUNC => Ok(NULL_FUNC),
                f => match view.func_index(f) {
                    EntityIndex::Imported(slot) => Ok(slot),
                    EntityIndex::Defined(d) => all
                        .get(d as usize)
                        .map(|d| d.slot)
                        .filter(|&s| s != NO_FUNC_REF)
                        .ok_or_else(|| {
                            FormatError::corrupt(
                                Location::entry(TableId::ElemFuncs, i, ""),
                                format_args!("function {f} has no reference slot"),
                            )
                        }),
                },
            })
            .collect::<Result<Box<[u32]>, _>>()?;
        let funcs = DefinedFuncs {
            all,
            referenceable: referenceable.into(),
            elem_slots,
        };
        Ok(derived.defined_funcs.get_or_init(|| funcs))
    }

    /// Canonical type ids of the module's types (see `type_registry`), computed once.
    pub(crate) fn type_ids(&self) -> Result<&[u32], FormatError> {
        let derived = &self.inner.derived;
        if let Some(ids) = derived.type_ids.get() {
            return Ok(ids);
        }
        let view = self.checked_view();
        let ids = crate::type_registry::module_type_ids(&view).map_err(|e| {
            FormatError::corrupt(Location::entry(TableId::Types, e.index, "valtypes"), e.what)
        })?;
        Ok(derived.type_ids.get_or_init(|| ids))
    }
}
