//! Exception handling: tags, exception objects and their references, and the error an exception
//! becomes when it leaves guest code ([`ThrownException`]). The unwinder is in [`unwind`].
//!
//! **Tags** are entities of the store, like memories: a defined tag gets a new identity per
//! instance, an imported one is the exporter's. An instance keeps the store index of each of its
//! tags; a handler matches when the thrown exception's tag is the catching instance's tag.
//!
//! **Exception objects** live in a per-store arena (there is no GC yet). An object is a run of
//! value slots: a header slot (its arena index), then the payload, which landing pads read in
//! place (`kiln_format::vmctx::EXN_PAYLOAD`); an `exnref` is its address. An object caught by
//! `catch` or `catch_all`, which expose no reference, is dead once its landing pad has read the
//! payload, and the next throw reuses it. An object that escaped as an `exnref` (`catch_ref`,
//! `catch_all_ref`, or to the host) lives until the store is dropped; at most
//! [`MAX_LIVE_EXCEPTIONS`] can live at once, beyond that a throw fails with a host error.
//!
//! **The host boundary** follows Wasmtime's names (`Tag`, `TagType`, `ExnRef`,
//! `ThrownException`) with one difference: where Wasmtime's error is a marker and the exception
//! waits in the store (`Store::take_pending_exception`), Kiln's [`ThrownException`] error carries
//! its tag, payload and [`ExnRef`] itself. Returning one (or an [`Error::Exception`]) from a host
//! function throws it into the calling guest, where `try_table` handlers see it as any other.

pub(crate) mod unwind;

use crate::error::{Error, Result};
use crate::store::{AsContext, AsContextMut, StoreId, StoreOpaque};
use crate::types::{FuncType, ValType};
use crate::values::Val;
use std::fmt;

/// Exception objects a store may hold at once that have not been freed by a `catch`.
pub const MAX_LIVE_EXCEPTIONS: usize = 1 << 20;

/// The type of a tag: the types of its exceptions' payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TagType {
    ty: FuncType,
}

impl TagType {
    /// A tag type whose exceptions carry values of `params`.
    pub fn new(params: impl IntoIterator<Item = ValType>) -> TagType {
        TagType {
            ty: FuncType::new(params, []),
        }
    }

    /// The payload types.
    pub fn params(&self) -> &[ValType] {
        self.ty.params()
    }

    pub(crate) fn from_func_type(ty: FuncType) -> TagType {
        TagType { ty }
    }
}

impl fmt::Display for TagType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(tag")?;
        for p in self.params() {
            write!(f, " (param {p})")?;
        }
        f.write_str(")")
    }
}

/// An exception tag of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tag {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

/// A tag as its store keeps it: its type's canonical id and the type.
pub(crate) struct TagData {
    pub type_id: u32,
    pub ty: TagType,
}

impl Tag {
    /// A new tag of type `ty` in `store`, distinct from every other tag.
    pub fn new(mut store: impl AsContextMut, ty: &TagType) -> Tag {
        let mut cx = store.as_context_mut();
        cx.opaque_mut().new_tag(ty.clone())
    }

    /// Its type.
    pub fn ty(&self, store: impl AsContext) -> Result<TagType> {
        let cx = store.as_context();
        let store = cx.opaque();
        store.check_owns(self.store, "tag")?;
        Ok(store.tags[self.index as usize].ty.clone())
    }
}

impl StoreOpaque {
    /// Adds a tag of type `ty`.
    pub(crate) fn new_tag(&mut self, ty: TagType) -> Tag {
        let type_id = crate::type_registry::canonical_id_of(&ty.ty);
        self.new_tag_of_type(ty, type_id)
    }

    /// A new tag of `ty`, whose canonical type id is `type_id` (a module's own tag: its type may
    /// be one of a recursion group, so its id is the module's, not that of `ty` alone).
    pub(crate) fn new_tag_of_type(&mut self, ty: TagType, type_id: u32) -> Tag {
        self.tags.push(TagData { type_id, ty });
        Tag {
            store: self.id,
            index: self.tags.len() as u32 - 1,
        }
    }
}

/// A store's exception objects.
#[derive(Default)]
pub(crate) struct ExnArena {
    /// Each object: a header slot holding its index, then its payload.
    objects: Vec<Box<[u128]>>,
    /// Each object's state.
    meta: Vec<ExnMeta>,
    /// Object index by address, for references coming from guest code.
    by_addr: rustc_hash::FxHashMap<u64, u32>,
    /// Objects free for reuse.
    free: Vec<u32>,
}

#[derive(Clone, Copy, Default)]
struct ExnMeta {
    /// Store tag index.
    tag: u32,
    /// Referenced by an `exnref`: never freed.
    escaped: bool,
    /// Not in the free list.
    live: bool,
}

impl ExnArena {
    /// A new object of store tag `tag` with `payload` (in value slots); `None` beyond
    /// [`MAX_LIVE_EXCEPTIONS`].
    pub(crate) fn alloc(&mut self, tag: u32, payload: &[u128]) -> Option<u32> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                if self.objects.len() >= MAX_LIVE_EXCEPTIONS {
                    return None;
                }
                self.objects.push(Box::new([0]));
                self.meta.push(ExnMeta::default());
                self.objects.len() as u32 - 1
            }
        };
        let object = &mut self.objects[index as usize];
        if object.len() != payload.len() + 1 {
            self.by_addr.remove(&(object.as_ptr() as u64));
            *object = vec![0; payload.len() + 1].into_boxed_slice();
        }
        object[0] = u128::from(index);
        object[1..].copy_from_slice(payload);
        self.by_addr.insert(object.as_ptr() as u64, index);
        self.meta[index as usize] = ExnMeta {
            tag,
            escaped: false,
            live: true,
        };
        Some(index)
    }

    /// The address guest code holds for object `index`.
    pub(crate) fn address(&self, index: u32) -> u64 {
        self.objects[index as usize].as_ptr() as u64
    }

    /// The live object at guest address `addr`, if there is one.
    pub(crate) fn index_of(&self, addr: u64) -> Option<u32> {
        let index = *self.by_addr.get(&addr)?;
        self.meta[index as usize].live.then_some(index)
    }

    /// The store tag index of object `index`.
    pub(crate) fn tag(&self, index: u32) -> u32 {
        self.meta[index as usize].tag
    }

    /// The payload slots of object `index`.
    pub(crate) fn payload(&self, index: u32) -> &[u128] {
        &self.objects[index as usize][1..]
    }

    /// Object `index` is now referenced by an `exnref`: it lives as long as the store.
    pub(crate) fn mark_escaped(&mut self, index: u32) {
        self.meta[index as usize].escaped = true;
    }

    /// Object `index` was caught by a handler that takes no reference: unless it escaped
    /// before, nothing can reach it once the landing pad has read its payload, so the next throw
    /// may reuse it (the landing pad runs before any other code of the store).
    pub(crate) fn caught_without_ref(&mut self, index: u32) {
        let meta = &mut self.meta[index as usize];
        if !meta.escaped && meta.live {
            meta.live = false;
            self.free.push(index);
        }
    }
}

/// A reference to an exception object of a store (`exnref`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExnRef {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl ExnRef {
    /// The guest representation in `store`.
    pub(crate) fn to_raw(self, store: &StoreOpaque) -> Result<u64> {
        store.check_owns(self.store, "exnref")?;
        Ok(store.exns.address(self.index))
    }

    /// The reference for guest value `raw` (`None` for null, or an address that is not one of
    /// the store's exception objects).
    /// Any `exnref` a guest holds escaped already (only `catch_ref` and the host make them).
    pub(crate) fn from_raw(store: &StoreOpaque, raw: u64) -> Option<ExnRef> {
        let index = store.exns.index_of(raw)?;
        Some(ExnRef {
            store: store.id,
            index,
        })
    }

    /// Its tag.
    pub fn tag(&self, store: impl AsContext) -> Result<Tag> {
        let cx = store.as_context();
        let store = cx.opaque();
        store.check_owns(self.store, "exnref")?;
        Ok(Tag {
            store: self.store,
            index: store.exns.tag(self.index),
        })
    }

    /// Its payload.
    pub fn payload(&self, store: impl AsContext) -> Result<Vec<Val>> {
        let cx = store.as_context();
        let store = cx.opaque();
        store.check_owns(self.store, "exnref")?;
        Ok(payload_vals(store, self.index))
    }
}

/// The payload of object `index` as values.
fn payload_vals(store: &StoreOpaque, index: u32) -> Vec<Val> {
    let tag = &store.tags[store.exns.tag(index) as usize];
    store
        .exns
        .payload(index)
        .iter()
        .zip(tag.ty.params())
        .map(|(raw, ty)| Val::from_raw(store, *raw, *ty))
        .collect()
}

/// A WebAssembly exception outside guest code: the error of a call from which an exception
/// escaped, and what a host function returns (as its error) to throw one into its caller.
///
/// ```
/// # fn artifact(wat: &str) -> kiln_loader::Artifact {
/// #     let bytes = kiln_compiler::compile(&wat::parse_str(wat).unwrap(), &Default::default()).unwrap();
/// #     let path = std::env::temp_dir().join(format!("kiln-doc-{}-{}.kiln", std::process::id(), line!()));
/// #     std::fs::write(&path, bytes).unwrap();
/// #     kiln_loader::Artifact::open(&path).unwrap()
/// # }
/// use kiln_loader::{Error, Instance, Store, Val};
///
/// let artifact = artifact(r#"(module (tag (export "e") (param i32))
///     (func (export "run") (throw 0 (i32.const 7))))"#);
/// let mut store = Store::new(());
/// let instance = Instance::new(&mut store, &artifact, &[])?;
/// let Err(Error::Exception(exn)) = instance.call(&mut store, "run", &[]) else { panic!() };
/// assert_eq!(Some(exn.tag()), instance.get_tag(&mut store, "e"));
/// assert_eq!(exn.payload(), &[Val::I32(7)]);
/// # Ok::<(), kiln_loader::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ThrownException {
    exn: ExnRef,
    tag: Tag,
    payload: Vec<Val>,
}

impl ThrownException {
    /// A new exception of `tag` with `payload`, to return from a host function (boxed, as its
    /// error) so that it is thrown into the guest that called it.
    pub fn new(mut store: impl AsContextMut, tag: Tag, payload: &[Val]) -> Result<ThrownException> {
        let mut cx = store.as_context_mut();
        let store = cx.opaque_mut();
        store.check_owns(tag.store, "tag")?;
        let ty = store.tags[tag.index as usize].ty.clone();
        if payload.len() != ty.params().len()
            || payload.iter().zip(ty.params()).any(|(v, t)| v.ty() != *t)
        {
            return Err(Error::Type(format!("payload does not match {ty}")));
        }
        let raw = payload
            .iter()
            .map(|v| v.to_raw(store))
            .collect::<Result<Vec<_>>>()?;
        let index = store.exns.alloc(tag.index, &raw).ok_or_else(limit_error)?;
        store.exns.mark_escaped(index);
        Ok(ThrownException::of(store, index))
    }

    /// The exception of object `index`, which escaped to the host.
    pub(crate) fn of(store: &mut StoreOpaque, index: u32) -> ThrownException {
        store.exns.mark_escaped(index);
        ThrownException {
            exn: ExnRef {
                store: store.id,
                index,
            },
            tag: Tag {
                store: store.id,
                index: store.exns.tag(index),
            },
            payload: payload_vals(store, index),
        }
    }

    /// Its tag.
    pub fn tag(&self) -> Tag {
        self.tag
    }

    /// Its payload, as the tag's type gives it.
    pub fn payload(&self) -> &[Val] {
        &self.payload
    }

    /// The exception object, as an `exnref`: throwing this error again from a host function
    /// rethrows the same exception.
    pub fn exn_ref(&self) -> ExnRef {
        self.exn
    }
}

impl fmt::Display for ThrownException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("uncaught wasm exception")?;
        if !self.payload.is_empty() {
            f.write_str(" with payload")?;
            for v in &self.payload {
                write!(f, " {v}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ThrownException {}

/// The error of a throw beyond [`MAX_LIVE_EXCEPTIONS`].
pub(crate) fn limit_error() -> Error {
    Error::Resource(format!(
        "more than {MAX_LIVE_EXCEPTIONS} live exception objects in one store"
    ))
}

/// The exception a host function's error stands for, if it is one: a [`ThrownException`] or an
/// [`Error::Exception`].
pub(crate) fn as_thrown<'e>(
    e: &'e (dyn std::error::Error + Send + Sync + 'static),
) -> Option<&'e ThrownException> {
    e.downcast_ref::<ThrownException>()
        .or_else(|| match e.downcast_ref::<Error>() {
            Some(Error::Exception(t)) => Some(t),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::ExnArena;

    #[test]
    fn objects_caught_without_a_reference_are_reused_and_escaped_ones_are_not() {
        let mut arena = ExnArena::default();
        let a = arena.alloc(3, &[7, 8]).unwrap();
        let addr = arena.address(a);
        assert_eq!(arena.index_of(addr), Some(a));
        assert_eq!((arena.tag(a), arena.payload(a)), (3, &[7u128, 8][..]));
        arena.caught_without_ref(a);
        // Dead: no reference reaches it any more, and the next throw takes it.
        assert_eq!(arena.index_of(addr), None);
        let b = arena.alloc(4, &[9]).unwrap();
        assert_eq!(b, a);
        assert_eq!(arena.payload(b), &[9]);
        arena.mark_escaped(b);
        arena.caught_without_ref(b);
        let c = arena.alloc(4, &[]).unwrap();
        assert_ne!(c, b, "an escaped object lives on");
        assert_eq!(arena.index_of(arena.address(b)), Some(b));
        assert_eq!(arena.index_of(0), None);
    }
}
