//! The artifact's file, opened again for mapping data images copy-on-write into linear memory
//! (SPEC.md §5).
//!
//! Every artifact loaded from the same file shares one descriptor (found by device and inode), held
//! as long as one of them holds it: loading the same file 10,000 times and instantiating each
//! takes one descriptor, not 10,000.

use super::Artifact;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// Files by (device, inode).
type FileMap = HashMap<(u64, u64), Weak<File>>;

/// The reopened files.
static OPEN: Mutex<Option<FileMap>> = Mutex::new(None);

/// The shared descriptor of the file at `path`, opening it if no artifact holds one.
fn shared_file(path: &std::path::Path) -> Option<Arc<File>> {
    let meta = std::fs::metadata(path).ok()?;
    let key = (meta.dev(), meta.ino());
    let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    let open = open.get_or_insert_with(HashMap::new);
    if let Some(file) = open.get(&key).and_then(Weak::upgrade) {
        return Some(file);
    }
    let file = Arc::new(File::open(path).ok()?);
    // Forget files no artifact holds any more, now and then: the map stays as small as the set
    // of files in use.
    if open.len() >= 64 && open.len().is_power_of_two() {
        open.retain(|_, f| f.strong_count() > 0);
    }
    open.insert(key, Arc::downgrade(&file));
    Some(file)
}

impl Artifact {
    /// The artifact's file, opened again at the first instantiation that needs it, if it still
    /// holds the same artifact (same ELF and Kiln headers, which include the wasm hash and the
    /// checksum): for mapping data images into linear memory. Loading keeps no file descriptor;
    /// an artifact that has been instantiated with a mapped image shares one with every other
    /// artifact of the same file.
    pub(crate) fn reopened(&self) -> Option<&File> {
        self.inner
            .reopened
            .get_or_init(|| {
                let file = shared_file(&self.inner.path)?;
                let len = kiln_format::header::HEADERS_END;
                let mut head = vec![0u8; len];
                file.read_exact_at(&mut head, 0).ok()?;
                (self.inner.map.bytes().get(..len) == Some(&head[..])).then_some(file)
            })
            .as_deref()
    }
}
