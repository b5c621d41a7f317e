//! The one mapping of an artifact file: private, read-only and executable; or an image that was
//! already mapped executable before Kiln saw it (linked into the host, or in ROM).
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

/// The bytes of an artifact: a mapping Kiln made, or an image already in place.
pub(crate) enum Image {
    /// Mapped by Kiln, unmapped on drop.
    Mapped(FileMap),
    /// Mapped executable by someone else (the OS loader, a ROM) for the life of the process.
    Static(&'static [u8]),
}

impl Image {
    /// The bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Image::Mapped(m) => m.bytes(),
            Image::Static(b) => b,
        }
    }
}

/// A sealed in-memory file holding `bytes`: an anonymous file (`memfd`) that nothing can write,
/// grow or shrink once this returns, so that it can be mapped read+exec like an artifact file and
/// its data images mapped copy-on-write from it.
pub(crate) fn sealed_memfd(bytes: &[u8]) -> std::io::Result<File> {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    // SAFETY: the name is a NUL-terminated string; the call creates a new descriptor.
    let fd = unsafe {
        libc::memfd_create(
            c"kiln-artifact".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let mut file = unsafe { File::from_raw_fd(fd) };
    file.write_all(bytes)?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: `fcntl` on a descriptor we own, with an integer argument.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(file)
}
