//! Loading an artifact: one `mmap` of the file, the code range made executable, nothing copied.

use kiln_format::{ArtifactView, FormatError};
use memmap2::{Mmap, MmapOptions};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why an artifact could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be opened or mapped.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a usable artifact.
    #[error("{path}: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: FormatError,
    },
}

/// How to load an artifact.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Recompute the checksum of the whole file and refuse it on a mismatch. This reads every byte,
    /// so it costs time proportional to the file; without it, loading touches only the header.
    pub verify_checksum: bool,
}

/// A loaded artifact: the file mapped read-only, with its code range executable. Cheap to clone and
/// shareable between threads; the mapping goes away when the last clone is dropped.
#[derive(Clone)]
pub struct Artifact {
    inner: Arc<ArtifactInner>,
}

struct ArtifactInner {
    map: Mmap,
    path: PathBuf,
}

impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifact")
            .field("path", &self.inner.path)
            .field("len", &self.inner.map.len())
            .finish()
    }
}

impl Artifact {
    /// Opens and maps `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Artifact, LoadError> {
        Artifact::open_with(path, &LoadOptions::default())
    }

    /// Opens and maps `path`.
    pub fn open_with(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Artifact, LoadError> {
        let path = path.as_ref();
        let io = |source| LoadError::Io {
            path: path.to_owned(),
            source,
        };
        let format = |source| LoadError::Format {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        // SAFETY: the mapping is private and read-only. Kiln never writes through it; if another
        // process truncates the file, accesses beyond the new end fault (SIGBUS), as with any
        // mapped executable. Artifacts are immutable build outputs and are replaced by rename.
        let map = unsafe { MmapOptions::new().map_copy_read_only(&file) }.map_err(io)?;
        drop(file);
        let view = ArtifactView::parse(&map).map_err(format)?;
        view.check_compatibility().map_err(format)?;
        if options.verify_checksum {
            view.verify_checksum().map_err(format)?;
        }
        let text = view.text_range();
        if !text.is_empty() {
            let page = page_size();
            if text.start % page != 0 {
                return Err(format(FormatError::UnsupportedSetting(format!(
                    "code alignment smaller than this machine's {page}-byte pages"
                ))));
            }
            let len = text
                .len()
                .next_multiple_of(page)
                .min(map.len() - text.start);
            // SAFETY: `text` lies inside the mapping (checked by `parse`) and starts on a page
            // boundary; the range is rounded up to whole pages that are still inside the mapping.
            // Making mapped file pages executable changes no memory that Rust references mutably.
            let rc = unsafe {
                libc::mprotect(
                    map.as_ptr().add(text.start) as *mut libc::c_void,
                    len,
                    libc::PROT_READ | libc::PROT_EXEC,
                )
            };
            if rc != 0 {
                return Err(io(std::io::Error::last_os_error()));
            }
        }
        Ok(Artifact {
            inner: Arc::new(ArtifactInner {
                map,
                path: path.to_owned(),
            }),
        })
    }

    /// The checked view of the artifact's bytes.
    pub fn view(&self) -> ArtifactView<'_> {
        ArtifactView::parse(&self.inner.map).expect("checked when loaded")
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The whole mapping.
    pub fn bytes(&self) -> &[u8] {
        &self.inner.map
    }

    /// Address range of the executable code.
    pub fn code_range(&self) -> std::ops::Range<usize> {
        let text = self.view().text_range();
        let base = self.inner.map.as_ptr() as usize;
        base + text.start..base + text.end
    }

    /// Whether two handles share one mapping.
    pub fn ptr_eq(&self, other: &Artifact) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).unwrap_or(4096)
}
