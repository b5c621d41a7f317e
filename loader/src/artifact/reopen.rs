//! The artifact's file, opened again for mapping data images copy-on-write into linear memory
//! (SPEC.md §5).
//!
//! Every artifact loaded from the same file shares one descriptor (found by device and inode), held
//! as long as one of them holds it: loading the same file 10,000 times and instantiating each
//! takes one descriptor, not 10,000. Descriptors kept this way are budgeted for the whole process
//! ([`budget`]): beyond the budget, an instantiation opens the file, maps its images and closes it
//! again, so that artifacts of many distinct files never take the descriptors the host needs.

use super::Artifact;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

/// A descriptor kept for artifacts of one file, counted against the budget while it lives.
pub(crate) struct KeptFile {
    file: File,
}

impl Drop for KeptFile {
    fn drop(&mut self) {
        KEPT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Descriptors kept now.
static KEPT: AtomicUsize = AtomicUsize::new(0);

/// Kept files by (device, inode).
type FileMap = HashMap<(u64, u64), Weak<KeptFile>>;

/// The kept files.
static OPEN: Mutex<Option<FileMap>> = Mutex::new(None);

/// How many descriptors may be kept for data images: a sixteenth of the process's descriptor
/// limit (64 under the common default of 1024), at most 1024. Read once.
fn budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `limit` is a valid out-pointer for the duration of the call.
        let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
        } else {
            1024
        };
        (soft / 16).min(1024)
    })
}

/// The file of an artifact for mapping its data images: kept with the artifact, or opened for one
/// instantiation only (closed when dropped).
pub(crate) enum DataFile<'a> {
    /// Shared with the artifact, and with every artifact of the same file.
    Kept(&'a File),
    /// Opened for this instantiation, beyond the budget of kept descriptors.
    Transient(File),
}

impl std::ops::Deref for DataFile<'_> {
    type Target = File;
    fn deref(&self) -> &File {
        match self {
            DataFile::Kept(f) => f,
            DataFile::Transient(f) => f,
        }
    }
}

/// The file at `path`: the kept descriptor of that file if an artifact holds one, a new kept one
/// if the budget allows, or else a transient one.
fn open_file(path: &std::path::Path) -> Option<Result<Arc<KeptFile>, File>> {
    let meta = std::fs::metadata(path).ok()?;
    let key = (meta.dev(), meta.ino());
    let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    let open = open.get_or_insert_with(HashMap::new);
    if let Some(file) = open.get(&key).and_then(Weak::upgrade) {
        return Some(Ok(file));
    }
    let file = File::open(path).ok()?;
    if KEPT.load(Ordering::Relaxed) >= budget() {
        return Some(Err(file));
    }
    KEPT.fetch_add(1, Ordering::Relaxed);
    let file = Arc::new(KeptFile { file });
    // Forget files no artifact holds any more, now and then: the map stays as small as the set
    // of files in use.
    if open.len() >= 64 && open.len().is_power_of_two() {
        open.retain(|_, f| f.strong_count() > 0);
    }
    open.insert(key, Arc::downgrade(&file));
    Some(Ok(file))
}

impl Artifact {
    /// The artifact's file, opened again if it still holds the same artifact (same ELF and Kiln
    /// headers, which include the wasm hash and both checksums): for mapping data images into
    /// linear memory. Loading keeps no file descriptor; an artifact that has been instantiated
    /// with a mapped image shares one with every other artifact of the same file, within the
    /// process's budget (see the module documentation).
    pub(crate) fn data_file(&self) -> Option<DataFile<'_>> {
        match &self.inner.source {
            super::Source::Path => {}
            super::Source::Held(file) => return Some(DataFile::Kept(file)),
            super::Source::Static => return None,
        }
        if let Some(kept) = self.inner.reopened.get() {
            return kept.as_deref().map(|k| DataFile::Kept(&k.file));
        }
        let same = |file: &File| {
            let len = kiln_format::header::HEADERS_END;
            let mut head = vec![0u8; len];
            file.read_exact_at(&mut head, 0).is_ok()
                && self.inner.map.bytes().get(..len) == Some(&head[..])
        };
        match open_file(&self.inner.path) {
            None => None,
            Some(Ok(kept)) => {
                let kept = self
                    .inner
                    .reopened
                    .get_or_init(|| same(&kept.file).then_some(kept));
                kept.as_deref().map(|k| DataFile::Kept(&k.file))
            }
            Some(Err(file)) => same(&file).then_some(DataFile::Transient(file)),
        }
    }
}
