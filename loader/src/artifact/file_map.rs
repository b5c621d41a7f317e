//! The one mapping of an artifact file: private, read-only and executable.
//!
//! memmap2 (used before) offers read-only private mappings and read+exec shared ones, but not the
//! read+exec private mapping Kiln wants; shared file mappings also cost more to set up. This is
//! the whole of what Kiln needs: `mmap` on creation, `munmap` on drop.

use crate::send_sync::SendSyncPtr;
use std::fs::File;
use std::os::fd::AsRawFd;

/// A private, read-only, executable mapping of a whole file. Never writable, so sharing it
/// between threads is sound (`SendSyncPtr`).
pub(crate) struct FileMap {
    ptr: SendSyncPtr<u8>,
    len: usize,
}

impl FileMap {
    /// Maps the first `len` bytes of `file` (which must be at least that long).
    pub(crate) fn new(file: &File, len: usize) -> std::io::Result<FileMap> {
        if len == 0 {
            return Err(std::io::Error::other("empty file"));
        }
        // SAFETY: a new mapping at an address the kernel chooses; no existing memory changes.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_EXEC,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let ptr = SendSyncPtr::from_raw(ptr.cast::<u8>())
            .ok_or_else(|| std::io::Error::other("mmap returned null"))?;
        Ok(FileMap { ptr, len })
    }

    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: [ptr, ptr + len) is mapped readable for the life of `self` and never written.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for FileMap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no reference to it outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
