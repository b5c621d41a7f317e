//! Linear memories: a reservation of address space of which the first `length` bytes are
//! accessible. Growing changes protections; the base never moves. Owned by a store, named by a
//! [`Memory`] handle; its bytes are reached only through a store borrow.
//!
//! The reservation follows the memory's bounds-check strategy (`kiln_format::tables::bounds_check`),
//! which the code of every instance using the memory relies on:
//!
//! - guard pages (32-bit memories): 4 GiB plus the guard region, so that no 32-bit index plus a
//!   small offset leaves it;
//! - explicit checks (64-bit memories, and 32-bit ones compiled with explicit checks): the
//!   declared maximum, at most the engine's `Config::memory_reservation` (default
//!   [`MEMORY64_RESERVATION`]; 4 GiB is a 32-bit memory's largest size), reserved at creation. Growth within it only changes protections, so the base stays fixed and
//!   generated code may keep it in a register across calls (it loads it as a constant of the
//!   instance). Growth past it fails (`memory.grow` gives -1), as past the host's limits. Moving
//!   the memory on growth (`mremap`) would need code to reload the base after every call; a
//!   reservation of address space costs no memory, and 47 bits of it hold 2048 such memories.

use crate::error::{BoxError, Error, Result};
use crate::send_sync::SendSyncPtr;
use crate::store::{AsContextMut, StoreContext, StoreContextMut, StoreId, StoreOpaque, VMStore};
use crate::types::MemoryType;
use kiln_format::tables::bounds_check;
use kiln_format::vmctx::{VMMemoryDef, MEMORY_GUARD, MEMORY_RESERVATION};
use kiln_format::WASM_PAGE_SIZE;
use std::ptr::NonNull;

/// The largest number of pages a 32-bit memory can have.
pub const MAX_PAGES: u64 = 65536;
/// The largest number of pages a 64-bit memory can have (2^48: its byte size fits in 64 bits).
pub const MAX_PAGES_64: u64 = 1 << 48;
/// The most address space a 64-bit memory reserves (64 GiB), and so its largest size here: a
/// memory with a smaller maximum reserves its maximum.
pub const MEMORY64_RESERVATION: u64 = 64 << 30;

/// A linear memory of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Memory {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

/// A memory's reservation and the definition generated code reads.
pub(crate) struct MemoryData {
    /// A boxed `VMMemoryDef` at a stable address (freed on drop), raw because guest code reads
    /// it while the host holds the store.
    def: SendSyncPtr<VMMemoryDef>,
    ty: MemoryType,
    /// The `bounds_check` strategy it was set up for.
    bounds_check: u8,
    /// Bytes reserved at `base` (unmapped on drop).
    reserved: u64,
}

/// Why a memory could not be created or grown.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MemoryError(String);

impl MemoryData {
    /// The bounds-check strategy a memory of `ty` gets when its creator does not choose: the one
    /// the compiler gives memories of its address type.
    pub(crate) fn default_bounds_check(ty: &MemoryType) -> u8 {
        if ty.is_64() {
            bounds_check::EXPLICIT
        } else {
            bounds_check::GUARD_PAGES
        }
    }

    /// Reserves a memory of `ty` for code with the `bounds_check` strategy, with its minimum
    /// size accessible. An explicitly checked memory reserves at most `reservation` bytes
    /// (`Config::memory_reservation`).
    pub(crate) fn new(
        ty: MemoryType,
        bounds_check: u8,
        reservation: Option<u64>,
    ) -> Result<MemoryData, MemoryError> {
        let (min, max) = (ty.minimum(), ty.maximum());
        let (limit, what) = if ty.is_64() {
            (MAX_PAGES_64, "2^48 pages of a 64-bit memory")
        } else {
            (MAX_PAGES, "4 GiB of a 32-bit memory")
        };
        if min > limit || max.is_some_and(|m| m > limit) {
            return Err(MemoryError(format!(
                "a memory of {} pages exceeds the {what}",
                max.unwrap_or(min).max(min)
            )));
        }
        let total = match bounds_check {
            bounds_check::GUARD_PAGES if !ty.is_64() => MEMORY_RESERVATION + MEMORY_GUARD,
            bounds_check::GUARD_PAGES => {
                return Err(MemoryError(
                    "a 64-bit memory cannot be covered by guard pages: its code must check \
                     bounds explicitly"
                        .into(),
                ))
            }
            bounds_check::EXPLICIT => {
                let max_bytes = max.unwrap_or(limit).saturating_mul(WASM_PAGE_SIZE);
                let cap = reservation.map_or(MEMORY64_RESERVATION, |r| {
                    (r / WASM_PAGE_SIZE * WASM_PAGE_SIZE).min(MEMORY64_RESERVATION)
                });
                let total = max_bytes.min(cap).max(WASM_PAGE_SIZE);
                if min.saturating_mul(WASM_PAGE_SIZE) > total {
                    return Err(MemoryError(format!(
                        "a memory of {min} pages exceeds the {total} bytes of address space \
                         Kiln reserves for it (Config::memory_reservation)"
                    )));
                }
                total
            }
            other => {
                return Err(MemoryError(format!(
                    "unknown bounds-check strategy {other}"
                )))
            }
        };
        let total = usize::try_from(total).expect("reservations fit the 64-bit address space");
        // SAFETY: a fresh anonymous PROT_NONE reservation; no existing memory is affected.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                total,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            let why = std::io::Error::last_os_error();
            return Err(MemoryError(format!(
                "cannot reserve a linear memory: {why}"
            )));
        }
        let def = Box::new(VMMemoryDef {
            base: base.cast(),
            length: 0,
        });
        let mut mem = MemoryData {
            def: SendSyncPtr::new(NonNull::from(Box::leak(def))),
            ty,
            bounds_check,
            reserved: total as u64,
        };
        mem.resize(min * WASM_PAGE_SIZE)?;
        Ok(mem)
    }

    pub(crate) fn def_ptr(&self) -> *mut VMMemoryDef {
        self.def.as_ptr()
    }

    fn def(&self) -> &VMMemoryDef {
        // SAFETY: the box lives as long as `self`; guest code, the only other user, does not
        // write it, and runs only while the store (which owns `self`) is held by its call.
        unsafe { &*self.def.as_ptr() }
    }

    /// The base address.
    pub(crate) fn base(&self) -> *mut u8 {
        self.def().base
    }

    /// Current size in bytes.
    pub(crate) fn byte_len(&self) -> u64 {
        self.def().length
    }

    /// The type, with the current size as minimum.
    pub(crate) fn ty(&self) -> MemoryType {
        MemoryType::from_limits(
            self.byte_len() / WASM_PAGE_SIZE,
            self.ty.maximum(),
            self.ty.is_64(),
        )
    }

    /// The bounds-check strategy it was set up for.
    pub(crate) fn bounds_check(&self) -> u8 {
        self.bounds_check
    }

    /// The largest size in bytes: the declared maximum, within the reservation.
    fn max_bytes(&self) -> u64 {
        let limit = if self.ty.is_64() {
            MAX_PAGES_64
        } else {
            MAX_PAGES
        };
        let declared = self.ty.maximum().unwrap_or(limit).min(limit);
        let whole_pages = self.reserved / WASM_PAGE_SIZE * WASM_PAGE_SIZE;
        declared.saturating_mul(WASM_PAGE_SIZE).min(whole_pages)
    }

    /// Makes the first `bytes` accessible (at least the current length, at most the maximum).
    fn resize(&mut self, bytes: u64) -> Result<(), MemoryError> {
        let old = self.byte_len();
        if bytes > self.max_bytes() {
            return Err(MemoryError(format!(
                "{} pages exceed the memory's maximum of {}",
                bytes / WASM_PAGE_SIZE,
                self.max_bytes() / WASM_PAGE_SIZE
            )));
        }
        if bytes > old {
            // SAFETY: [old, bytes) lies inside the reservation made in `new` (`max_bytes` is
            // within it), which no Rust reference covers.
            let rc = unsafe {
                libc::mprotect(
                    self.base().add(old as usize).cast(),
                    (bytes - old) as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                )
            };
            if rc != 0 {
                let why = std::io::Error::last_os_error();
                return Err(MemoryError(format!("cannot commit memory pages: {why}")));
            }
            // SAFETY: the definition is ours (`&mut self`); guest code does not run now.
            unsafe { (*self.def.as_ptr()).length = bytes };
        }
        Ok(())
    }

    /// The accessible bytes.
    pub(crate) fn data(&self) -> &[u8] {
        // SAFETY: [base, base + length) is mapped read-write and stays so while `self` is
        // borrowed: it only grows (through `&mut self`), and guest code, which writes it, runs
        // only while the store holding `self` is exclusively borrowed by its call.
        unsafe { std::slice::from_raw_parts(self.base(), self.byte_len() as usize) }
    }

    /// The accessible bytes, mutably.
    pub(crate) fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `data`, and `&mut self` makes the slice the only access.
        unsafe { std::slice::from_raw_parts_mut(self.base(), self.byte_len() as usize) }
    }

    /// Maps `len` bytes of `file` at `file_offset` copy-on-write over `[dst, dst + len)`: the
    /// pages share the page cache until the guest writes them. All of `dst`, `file_offset` and
    /// `len` must be page-aligned and the range accessible and never written. Returns false (the
    /// memory unchanged) if the kernel refuses.
    pub(crate) fn map_image(
        &mut self,
        dst: u64,
        file: &std::fs::File,
        file_offset: u64,
        len: u64,
    ) -> bool {
        use std::os::fd::AsRawFd;
        if dst.checked_add(len).is_none_or(|end| end > self.byte_len()) {
            return false;
        }
        let at = self.base().wrapping_add(dst as usize).cast();
        // SAFETY: the target lies inside this memory's accessible range (checked just above), so
        // MAP_FIXED replaces only pages of our own reservation; `&mut self` means no Rust
        // reference to them is live.
        let addr = unsafe {
            libc::mmap(
                at,
                len as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_FIXED,
                file.as_raw_fd(),
                file_offset as libc::off_t,
            )
        };
        if addr != libc::MAP_FAILED {
            return true;
        }
        // A failed MAP_FIXED may have unmapped the range: put zeroed pages back, or stop, since
        // a hole in the reservation could later be filled by an unrelated mapping.
        // SAFETY: anonymous pages over the same range of our own reservation, which no Rust
        // reference covers.
        let restored = unsafe {
            libc::mmap(
                at,
                len as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if restored == libc::MAP_FAILED {
            eprintln!("kiln: cannot restore linear memory pages after a failed mapping");
            std::process::abort();
        }
        false
    }
}

impl Drop for MemoryData {
    fn drop(&mut self) {
        let total = self.reserved as usize;
        // SAFETY: the definition was leaked from a Box in `new`; the store that owns `self` is
        // being dropped (or the memory was never handed out), so nothing refers to either.
        unsafe {
            let def = Box::from_raw(self.def.as_ptr());
            libc::munmap(def.base.cast(), total);
        }
    }
}

/// Grows memory `index` of `store` by `delta` pages, asking the store's limiter: `Ok(Some(old
/// pages))`, `Ok(None)` if it cannot grow (wasm's -1), `Err` if the limiter failed (a trap).
pub(crate) fn grow(
    store: &mut dyn VMStore,
    index: u32,
    delta: u64,
) -> Result<Option<u64>, BoxError> {
    let Some(m) = store.opaque().memories.get(index as usize) else {
        return Ok(None);
    };
    let current = m.byte_len();
    let old_pages = current / WASM_PAGE_SIZE;
    if delta == 0 {
        return Ok(Some(old_pages));
    }
    let Some(desired) = delta
        .checked_mul(WASM_PAGE_SIZE)
        .and_then(|d| d.checked_add(current))
        .and_then(|d| usize::try_from(d).ok())
    else {
        return Ok(None);
    };
    let maximum =
        m.ty.maximum()
            .map(|p| usize::try_from(p.saturating_mul(WASM_PAGE_SIZE)).unwrap_or(usize::MAX));
    if !store.memory_growing(current as usize, desired, maximum)? {
        return Ok(None);
    }
    let m = &mut store.opaque_mut().memories[index as usize];
    match m.resize(desired as u64) {
        Ok(()) => Ok(Some(old_pages)),
        Err(e) => {
            store.memory_grow_failed(Box::new(e))?;
            Ok(None)
        }
    }
}

impl Memory {
    /// A host memory of type `ty` in `store`, for instances to import. Its initial size is
    /// subject to the store's limiter.
    pub fn new(mut store: impl AsContextMut, ty: MemoryType) -> Result<Memory> {
        let mut cx = store.as_context_mut();
        let store = cx.opaque_mut();
        store.check_memory_count(1)?;
        let empty = MemoryType::from_limits(0, ty.maximum(), ty.is_64());
        let reservation = store.engine.memory_reservation();
        let mem = MemoryData::new(empty, MemoryData::default_bounds_check(&ty), reservation)
            .map_err(|e| Error::Resource(e.to_string()))?;
        let index = store.push_memory(mem);
        let memory = Memory {
            store: store.id,
            index,
        };
        let initial = ty.minimum();
        if initial > 0 {
            let grew = memory.grow(&mut cx, initial);
            if let Err(e) = grew {
                return Err(Error::Resource(format!(
                    "memory minimum size of {initial} pages: {e}"
                )));
            }
        }
        Ok(memory)
    }

    fn data_of<'a>(&self, store: &'a StoreOpaque) -> &'a MemoryData {
        store.assert_owns(self.store, "memory");
        &store.memories[self.index as usize]
    }

    /// The type, with the current size as its minimum.
    ///
    /// # Panics
    /// If `store` does not own this memory (as every accessor that cannot fail).
    pub fn ty<'a, T: 'static>(&self, store: impl Into<StoreContext<'a, T>>) -> MemoryType {
        self.data_of(store.into().opaque()).ty()
    }

    /// The accessible bytes.
    ///
    /// # Panics
    /// If `store` does not own this memory.
    pub fn data<'a, T: 'static>(&self, store: impl Into<StoreContext<'a, T>>) -> &'a [u8] {
        let store = store.into().0;
        self.data_of(&store.opaque).data()
    }

    /// The accessible bytes, mutably: the store stays borrowed while the slice lives, so no
    /// guest code can run (or grow the memory) meanwhile.
    ///
    /// # Panics
    /// If `store` does not own this memory.
    pub fn data_mut<'a, T: 'static>(
        &self,
        store: impl Into<StoreContextMut<'a, T>>,
    ) -> &'a mut [u8] {
        let store = store.into().into_inner();
        store.opaque.assert_owns(self.store, "memory");
        store.opaque.memories[self.index as usize].data_mut()
    }

    /// The accessible bytes and the host data, both mutably (for host functions that copy
    /// between guest memory and their own state).
    ///
    /// # Panics
    /// If `store` does not own this memory.
    pub fn data_and_store_mut<'a, T: 'static>(
        &self,
        store: impl Into<StoreContextMut<'a, T>>,
    ) -> (&'a mut [u8], &'a mut T) {
        let store = store.into().into_inner();
        store.opaque.assert_owns(self.store, "memory");
        let data = store.opaque.memories[self.index as usize].data_mut();
        (data, &mut store.data)
    }

    /// Current size in bytes.
    ///
    /// # Panics
    /// If `store` does not own this memory.
    pub fn data_size<'a, T: 'static>(&self, store: impl Into<StoreContext<'a, T>>) -> usize {
        self.data_of(store.into().opaque()).byte_len() as usize
    }

    /// Current size in pages.
    ///
    /// # Panics
    /// If `store` does not own this memory.
    pub fn size<'a, T: 'static>(&self, store: impl Into<StoreContext<'a, T>>) -> u64 {
        self.data_of(store.into().opaque()).byte_len() / WASM_PAGE_SIZE
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`; an error if out of bounds.
    pub fn read(&self, store: impl crate::AsContext, offset: usize, buf: &mut [u8]) -> Result<()> {
        let cx = store.as_context();
        let data = self.checked(cx.opaque())?.data();
        let src = offset
            .checked_add(buf.len())
            .and_then(|end| data.get(offset..end))
            .ok_or_else(|| {
                Error::Resource(format!(
                    "read of {} bytes at {offset} is out of bounds",
                    buf.len()
                ))
            })?;
        buf.copy_from_slice(src);
        Ok(())
    }

    /// Copies `buf` to `offset`; an error if out of bounds.
    pub fn write(&self, mut store: impl AsContextMut, offset: usize, buf: &[u8]) -> Result<()> {
        let mut cx = store.as_context_mut();
        let store = cx.opaque_mut();
        store.check_owns(self.store, "memory")?;
        let data = store.memories[self.index as usize].data_mut();
        let len = data.len();
        let dst = offset
            .checked_add(buf.len())
            .and_then(|end| data.get_mut(offset..end))
            .ok_or_else(|| {
                Error::Resource(format!(
                    "write of {} bytes at {offset} is out of bounds of {len}",
                    buf.len()
                ))
            })?;
        dst.copy_from_slice(buf);
        Ok(())
    }

    fn checked<'a>(&self, store: &'a StoreOpaque) -> Result<&'a MemoryData> {
        store.check_owns(self.store, "memory")?;
        Ok(&store.memories[self.index as usize])
    }

    /// Grows by `delta` pages, asking the store's limiter; returns the old size in pages.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u64) -> Result<u64> {
        let cx = store.as_context_mut();
        cx.opaque().check_owns(self.store, "memory")?;
        let store: &mut dyn VMStore = cx.into_inner();
        match grow(store, self.index, delta) {
            Ok(Some(old)) => Ok(old),
            Ok(None) => Err(Error::Resource(format!(
                "cannot grow the memory by {delta} pages"
            ))),
            Err(e) => Err(Error::Resource(format!("cannot grow the memory: {e}"))),
        }
    }
}

impl StoreOpaque {
    /// Fails if the store may not define `n` more memories.
    pub(crate) fn check_memory_count(&self, n: usize) -> Result<()> {
        if self.own_memories + n > self.limits.memories {
            return Err(Error::Resource(format!(
                "memory count limit of {} would be exceeded",
                self.limits.memories
            )));
        }
        Ok(())
    }

    /// Adds a memory the store's instances (or the host) defined.
    pub(crate) fn push_memory(&mut self, mem: MemoryData) -> u32 {
        self.own_memories += 1;
        self.memories.push(mem);
        (self.memories.len() - 1) as u32
    }
}
