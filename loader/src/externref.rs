//! External references: host values that guest code holds opaquely.
//!
//! A store keeps every value given to its guests as an `externref` until the store is dropped (a
//! guest may keep a reference anywhere: in a global, a table, a local of a running call); in guest
//! code an `externref` is the value's index plus one, 0 being null.

use crate::error::{Error, Result};
use crate::store::{AsContextMut, StoreContext, StoreId, StoreOpaque};
use std::any::Any;

/// A reference to a host value of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExternRef {
    store: StoreId,
    index: u32,
}

impl ExternRef {
    /// Gives `value` to `store`'s guests as an `externref`.
    ///
    /// ```
    /// # fn artifact(wat: &str, fuel: bool, epochs: bool) -> kiln_loader::Artifact {
    /// #     let options = kiln_compiler::CompileOptions { fuel, epoch_interruption: epochs, ..Default::default() };
    /// #     let bytes = kiln_compiler::compile(&wat::parse_str(wat).unwrap(), &options).unwrap();
    /// #     let path = std::env::temp_dir().join(format!("kiln-doc-{}-{}.kiln", std::process::id(), line!()));
    /// #     std::fs::write(&path, bytes).unwrap();
    /// #     kiln_loader::Artifact::open(&path).unwrap()
    /// # }
    /// use kiln_loader::{ExternRef, Instance, Store, Val};
    ///
    /// let artifact = artifact(r#"(module
    ///     (func (export "id") (param externref) (result externref) (local.get 0)))"#, false, false);
    /// let mut store = Store::new(());
    /// let instance = Instance::new(&mut store, &artifact, &[])?;
    /// let name = ExternRef::new(&mut store, String::from("socket 7"))?;
    /// let back = instance.call(&mut store, "id", &[Val::ExternRef(Some(name))])?[0];
    /// let value = back.extern_ref().unwrap().data(&store)?.downcast_ref::<String>();
    /// assert_eq!(value.map(String::as_str), Some("socket 7"));
    /// # Ok::<(), kiln_loader::Error>(())
    /// ```
    pub fn new(mut store: impl AsContextMut, value: impl Any + Send + Sync) -> Result<ExternRef> {
        let mut cx = store.as_context_mut();
        let store = cx.opaque_mut();
        let index = u32::try_from(store.externrefs.len())
            .ok()
            .filter(|&i| i < u32::MAX)
            .ok_or_else(|| Error::Resource("too many externref values in one store".into()))?;
        store.externrefs.push(Box::new(value));
        Ok(ExternRef {
            store: store.id,
            index,
        })
    }

    /// The host value; an error if `store` is not the store it belongs to.
    pub fn data<'a, T: 'static>(
        &self,
        store: impl Into<StoreContext<'a, T>>,
    ) -> Result<&'a (dyn Any + Send + Sync)> {
        let store = store.into().0;
        store.opaque.check_owns(self.store, "externref")?;
        Ok(&*store.opaque.externrefs[self.index as usize])
    }

    /// The guest representation in `store`.
    pub(crate) fn to_raw(self, store: &StoreOpaque) -> Result<u64> {
        store.check_owns(self.store, "externref")?;
        Ok(u64::from(self.index) + 1)
    }

    /// The reference a guest value stands for (`None` for null, or for a value no host gave).
    pub(crate) fn from_raw(store: &StoreOpaque, raw: u64) -> Option<ExternRef> {
        let index = u32::try_from(raw.checked_sub(1)?).ok()?;
        ((index as usize) < store.externrefs.len()).then_some(ExternRef {
            store: store.id,
            index,
        })
    }
}
