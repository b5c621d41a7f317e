//! Linear memories: a 4 GiB reservation plus a guard, of which the first `length` bytes are
//! accessible. Growing changes protections; the base never moves.

use crate::send_sync::SendSyncPtr;
use kiln_format::vmctx::{VMMemoryDef, MEMORY_GUARD, MEMORY_RESERVATION};
use kiln_format::WASM_PAGE_SIZE;
use std::ptr::NonNull;
use std::sync::Arc;

/// The largest number of pages a 32-bit memory can have.
pub const MAX_PAGES: u64 = 65536;

pub(crate) struct MemoryInner {
    /// The definition generated code reads (a boxed `VMMemoryDef` at a stable address, freed on
    /// drop), accessed under the store discipline (`SendSyncPtr`).
    def: SendSyncPtr<VMMemoryDef>,
    max_pages: Option<u64>,
    pub(crate) store_id: u64,
}

/// A linear memory.
#[derive(Clone)]
pub struct Memory(pub(crate) Arc<MemoryInner>);

/// A memory could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create linear memory: {0}")]
pub struct MemoryError(String);

impl Memory {
    /// A host memory of `min` pages that may grow to `max` pages (at most 65536), owned by
    /// `store`, for instances to import.
    pub fn new(
        store: &mut crate::Store,
        min: u64,
        max: Option<u64>,
    ) -> Result<Memory, MemoryError> {
        let mem = Memory::reserve(store.id(), min, max)?;
        store.inner.keep_alive.push(mem.0.clone());
        Ok(mem)
    }

    /// Reserves a memory of `min` pages that may grow to `max` (at most 65536).
    pub(crate) fn reserve(
        store_id: u64,
        min: u64,
        max: Option<u64>,
    ) -> Result<Memory, MemoryError> {
        if min > MAX_PAGES || max.is_some_and(|m| m > MAX_PAGES) {
            return Err(MemoryError(format!("{min} pages exceeds the 4 GiB limit")));
        }
        let total = (MEMORY_RESERVATION + MEMORY_GUARD) as usize;
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
            return Err(MemoryError(std::io::Error::last_os_error().to_string()));
        }
        let def = Box::new(VMMemoryDef {
            base: base.cast(),
            length: 0,
        });
        let mem = Memory(Arc::new(MemoryInner {
            def: SendSyncPtr::new(NonNull::from(Box::leak(def))),
            max_pages: max,
            store_id,
        }));
        if mem.grow(min).is_none() {
            return Err(MemoryError(format!("cannot commit {min} pages")));
        }
        Ok(mem)
    }

    pub(crate) fn def_ptr(&self) -> *mut VMMemoryDef {
        self.0.def.as_ptr()
    }

    /// The base address.
    pub(crate) fn base(&self) -> *mut u8 {
        // SAFETY: the definition lives as long as `self`; `base` is written once, at creation.
        unsafe { (*self.def_ptr()).base }
    }

    /// Current size in bytes.
    pub fn data_size(&self) -> u64 {
        // SAFETY: the definition lives as long as `self`; reading the length while no guest code
        // runs (the caller holds the store).
        unsafe { (*self.def_ptr()).length }
    }

    /// Current size in pages.
    pub fn size_pages(&self) -> u64 {
        self.data_size() / WASM_PAGE_SIZE
    }

    /// The maximum size in pages, if any.
    pub fn max_pages(&self) -> Option<u64> {
        self.0.max_pages
    }

    /// Grows by `delta` pages; returns the old size in pages, or `None` if it cannot grow.
    pub fn grow(&self, delta: u64) -> Option<u64> {
        let old = self.size_pages();
        let new = old.checked_add(delta)?;
        if new > self.0.max_pages.unwrap_or(MAX_PAGES).min(MAX_PAGES) {
            return None;
        }
        if delta > 0 {
            let start = old * WASM_PAGE_SIZE;
            // SAFETY: [start, new * 64 KiB) lies inside the 4 GiB reservation made in `new`.
            let rc = unsafe {
                libc::mprotect(
                    self.base().add(start as usize) as *mut libc::c_void,
                    (delta * WASM_PAGE_SIZE) as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                )
            };
            if rc != 0 {
                return None;
            }
            // SAFETY: exclusive access as for `data_size`.
            unsafe { (*self.def_ptr()).length = new * WASM_PAGE_SIZE };
        }
        Some(old)
    }

    /// Maps `len` bytes of `file` at `file_offset` copy-on-write over `[dst, dst + len)`: the
    /// pages share the page cache until the guest writes them. All of `dst`, `file_offset` and
    /// `len` must be page-aligned and the range accessible and never written. Returns false (the
    /// memory unchanged) if the kernel refuses.
    pub(crate) fn map_image(
        &self,
        dst: u64,
        file: &std::fs::File,
        file_offset: u64,
        len: u64,
    ) -> bool {
        use std::os::fd::AsRawFd;
        debug_assert!(dst + len <= self.data_size());
        // SAFETY: the target lies inside this memory's accessible range (callers check), so
        // MAP_FIXED replaces only pages of our own reservation; no Rust reference to them is live.
        let addr = unsafe {
            libc::mmap(
                self.base().add(dst as usize) as *mut libc::c_void,
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
                self.base().add(dst as usize) as *mut libc::c_void,
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

    /// The accessible bytes. The slice is valid until the memory grows or guest code runs.
    pub fn data(&self) -> &[u8] {
        // SAFETY: [base, base + length) is mapped read-write.
        unsafe { std::slice::from_raw_parts(self.base(), self.data_size() as usize) }
    }

    /// The accessible bytes, mutably. Same validity as [`Memory::data`].
    #[allow(
        clippy::mut_from_ref,
        reason = "callers hold the store; the host API issue (#11) makes this take `&mut Store`"
    )]
    pub fn data_mut(&self) -> &mut [u8] {
        // SAFETY: as for `data`; callers hold the store, so no guest code runs concurrently.
        unsafe { std::slice::from_raw_parts_mut(self.base(), self.data_size() as usize) }
    }

    /// Whether two handles are the same memory.
    pub fn ptr_eq(&self, other: &Memory) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Drop for MemoryInner {
    fn drop(&mut self) {
        let total = (MEMORY_RESERVATION + MEMORY_GUARD) as usize;
        // SAFETY: the definition was leaked from a Box in `reserve` and no handle or instance
        // refers to it any more; the reservation it names is unmapped exactly once.
        unsafe {
            let def = Box::from_raw(self.def.as_ptr());
            libc::munmap(def.base.cast(), total);
        }
    }
}
