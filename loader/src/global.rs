//! Globals: 16-byte cells that guest code reads and writes in place, owned by a store and named
//! by a [`Global`] handle: a host global of the store, or a defined global of an instance.

use crate::error::{Error, Result};
use crate::send_sync::SendSyncPtr;
use crate::store::{AsContextMut, StoreId, StoreOpaque};
use crate::types::{GlobalType, Mutability, ValType};
use crate::values::Val;
use kiln_format::vmctx::VMGlobal;
use kiln_format::EntityIndex;
use std::ptr::NonNull;

/// A global of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Global {
    pub(crate) store: StoreId,
    pub(crate) kind: GlobalKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum GlobalKind {
    /// `StoreOpaque::globals[index]`.
    Host(u32),
    /// Global `index` (defined, not imported) of an instance.
    Instance { instance: u32, index: u32 },
}

/// A global created by the host: a boxed cell at a stable address, freed on drop.
pub(crate) struct HostGlobal {
    cell: SendSyncPtr<VMGlobal>,
    ty: GlobalType,
}

impl Drop for HostGlobal {
    fn drop(&mut self) {
        // SAFETY: leaked from a Box in `Global::new`; the store that owns `self` is being dropped,
        // so no instance refers to it.
        drop(unsafe { Box::from_raw(self.cell.as_ptr()) });
    }
}

impl Global {
    /// A host global of type `ty` holding `value`, for instances to import.
    pub fn new(mut store: impl AsContextMut, ty: GlobalType, value: Val) -> Result<Global> {
        let mut cx = store.as_context_mut();
        if !value.matches_in(cx.opaque(), ty.content()) {
            return Err(Error::Type(format!(
                "a global of {} cannot hold a {}",
                ty.content(),
                value.ty()
            )));
        }
        let raw = value.to_raw(cx.opaque_mut())?;
        let store = cx.opaque_mut();
        let cell = Box::leak(Box::new(VMGlobal { raw }));
        store.globals.push(HostGlobal {
            cell: SendSyncPtr::new(NonNull::from(cell)),
            ty,
        });
        Ok(Global {
            store: store.id,
            kind: GlobalKind::Host((store.globals.len() - 1) as u32),
        })
    }

    /// The global's storage and type.
    pub(crate) fn location(&self, store: &StoreOpaque) -> Result<(*mut VMGlobal, GlobalType)> {
        store.check_owns(self.store, "global")?;
        match self.kind {
            GlobalKind::Host(i) => {
                let g = &store.globals[i as usize];
                Ok((g.cell.as_ptr(), g.ty))
            }
            GlobalKind::Instance { instance, index } => {
                let inst = &store.instances[instance as usize];
                let view = inst.artifact.checked_view();
                let entry = view.globals().get(index as usize);
                let ids = inst.artifact.type_ids()?;
                let ty = entry.and_then(|e| {
                    let content = ValType::from_word(e.val_type.get(), ids)?;
                    let m = if e.mutable != 0 {
                        Mutability::Var
                    } else {
                        Mutability::Const
                    };
                    Some(GlobalType::new(content, m))
                });
                let ptr = match view.global_index(index) {
                    EntityIndex::Defined(d) => Some(inst.vmctx().field(inst.layout.global_def(d))),
                    EntityIndex::Imported(_) => None,
                };
                match (ptr, ty) {
                    (Some(ptr), Some(ty)) => Ok((ptr, ty)),
                    _ => Err(Error::Type(format!("no defined global {index}"))),
                }
            }
        }
    }

    /// The global's type.
    ///
    /// # Panics
    /// If `store` does not own this global (as every accessor that cannot fail).
    pub fn ty(&self, store: impl crate::AsContext) -> GlobalType {
        let cx = store.as_context();
        cx.opaque().assert_owns(self.store, "global");
        match self.location(cx.opaque()) {
            Ok((_, ty)) => ty,
            Err(e) => panic!("global of a corrupt artifact: {e}"),
        }
    }

    /// The current value.
    ///
    /// # Panics
    /// If `store` does not own this global.
    pub fn get(&self, mut store: impl AsContextMut) -> Val {
        let cx = store.as_context_mut();
        cx.opaque().assert_owns(self.store, "global");
        let (ptr, ty) = match self.location(cx.opaque()) {
            Ok(l) => l,
            Err(e) => panic!("global of a corrupt artifact: {e}"),
        };
        // SAFETY: `ptr` is the global's storage, alive with the store, aligned and initialized;
        // no guest code runs while the store is borrowed.
        let raw = unsafe { (*ptr).raw };
        Val::from_raw(cx.opaque(), raw, ty.content())
    }

    /// Sets a mutable global; an error for an immutable one, a value of another type, or a
    /// reference of another store.
    pub fn set(&self, mut store: impl AsContextMut, value: Val) -> Result<()> {
        let mut cx = store.as_context_mut();
        let (ptr, ty) = self.location(cx.opaque())?;
        if !ty.is_mutable() {
            return Err(Error::Type("cannot set an immutable global".into()));
        }
        if !value.matches_in(cx.opaque(), ty.content()) {
            return Err(Error::Type(format!(
                "cannot set a global of {} to a {}",
                ty.content(),
                value.ty()
            )));
        }
        let raw = value.to_raw(cx.opaque_mut())?;
        // SAFETY: as in `get`, and the store is borrowed exclusively.
        unsafe { (*ptr).raw = raw };
        Ok(())
    }
}
