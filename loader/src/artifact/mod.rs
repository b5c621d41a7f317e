//! Loading an artifact: one `mmap` of the whole file, read-only and executable, nothing copied.
//!
//! One file per job: [`file_map`] (the mapping), [`validate`] (the checks, once, at first use or
//! at load), [`derived`] (per-artifact tables computed once from the metadata), [`reopen`] (the
//! file again, for copy-on-write data images) and [`unwind`] (registration with the system
//! unwinder).

mod derived;
mod file_map;
mod reopen;
mod types;
mod unwind;
mod validate;

pub(crate) use derived::DefinedFunc;
pub(crate) use reopen::DataFile;
pub(crate) use types::func_type;

use derived::Derived;
use file_map::FileMap;
use kiln_format::FormatError;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use unwind::UnwindRegistration;
use validate::Validated;

/// Why an artifact could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be opened or mapped.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (part of the message, so not also a `source()`: printed once).
        error: std::io::Error,
    },
    /// The file is not a usable artifact.
    #[error("{path}: {error}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The cause (part of the message, so not also a `source()`: printed once).
        error: FormatError,
    },
}

/// How to load an artifact.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Validate the artifact while loading it, with the checks of its first use
    /// ([`Artifact::check`]) made from reads of the file (its first KiB, then its metadata)
    /// instead of through the mapping, so that a damaged, foreign or incompatible file fails here
    /// rather than at its first use. Without it, loading reads nothing of the file.
    pub check_now: bool,
    /// Recompute the checksum of the whole file and refuse it on a mismatch. This reads every byte,
    /// so it costs time proportional to the file. Implies `check_now`.
    pub verify_checksum: bool,
    /// Register the artifact's `.eh_frame` with the system unwinder (one call for the whole
    /// section, undone by one call at unload), so that native backtraces and debuggers can walk
    /// through guest frames. Ignored for artifacts compiled without `--unwind-info`. Implies
    /// `verify_checksum`: the unwinder trusts what it is given.
    pub register_unwind_info: bool,
}

/// A loaded artifact: the file mapped read-only and executable. Cheap to clone and shareable
/// between threads; the mapping goes away when the last clone is dropped.
///
/// Loading maps the file and reads nothing of it. The artifact is validated (ELF and Kiln
/// headers, format version, target, CPU features, every region and table bound) once, at its first
/// use: [`Artifact::check`], [`Artifact::view`], or instantiation; or at load with
/// [`LoadOptions::check_now`]. Nothing in the mapping is used before it has been validated.
#[derive(Clone)]
pub struct Artifact {
    inner: Arc<ArtifactInner>,
}

struct ArtifactInner {
    path: PathBuf,
    /// Set once the mapping has been validated (`Artifact::check`). Everything that reads the
    /// mapping goes through it.
    validated: OnceLock<Validated>,
    /// The registered `.eh_frame`, if any; dropped (deregistered) before the mapping.
    _unwind: Option<UnwindRegistration>,
    /// What instantiation and calls derive from the metadata, computed once.
    derived: Derived,
    /// The file, reopened at the first instantiation that maps a data image (see `reopen`).
    reopened: OnceLock<Option<std::sync::Arc<reopen::KeptFile>>>,
    /// Last, so that it is unmapped after every field that may borrow from it is gone.
    map: FileMap,
}

impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifact")
            .field("path", &self.inner.path)
            .field("len", &self.inner.map.bytes().len())
            .finish()
    }
}

impl Artifact {
    /// Opens and maps `path` with default options: `open` + `lseek` + `mmap` + `close`, nothing
    /// read. See [`Artifact::check`] for when it is validated.
    pub fn open(path: impl AsRef<Path>) -> Result<Artifact, LoadError> {
        Artifact::open_with(path, &LoadOptions::default())
    }

    /// Opens and maps `path`.
    pub fn open_with(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Artifact, LoadError> {
        let path = path.as_ref();
        let io = |error| LoadError::Io {
            path: path.to_owned(),
            error,
        };
        let format = |error| LoadError::Format {
            path: path.to_owned(),
            error,
        };
        let file = File::open(path).map_err(io)?;
        // The length by `lseek`, not `fstat`: it costs a tenth as much (benches/README.md, "Load
        // breakdown"). What is not a regular file fails anyway: a directory or a pipe cannot be
        // read or sought, a device reports length 0 and cannot be mapped.
        let len = (&file).seek(SeekFrom::End(0)).map_err(io)?;
        let len = usize::try_from(len)
            .map_err(|_| io(std::io::Error::other("file too large for this machine")))?;
        if len < validate::ELF_HEADER_LEN {
            // Also keeps an empty file from being mapped (which fails) or a shorter one from being
            // validated through a mapping with nothing behind it.
            return Err(format(FormatError::Truncated("shorter than an ELF header")));
        }
        // The unwinder is given `.eh_frame` only once the whole file is known to be what the
        // compiler wrote.
        let verify_checksum = options.verify_checksum || options.register_unwind_info;
        let check_now = options.check_now || verify_checksum;
        // Validated from one small read, so that even a checked load touches no page of the
        // mapping (a page fault costs more than the read, and more again at unload).
        let eh_frame = if check_now {
            Some(validate::check_file(&file, len).map_err(|e| match e {
                validate::FileCheckError::Io(e) => io(e),
                validate::FileCheckError::Format(e) => format(e),
            })?)
        } else {
            None
        };
        // One mapping of the whole file, read-only and executable: nothing in it is ever written,
        // and a single mapping is what makes loading cost one `mmap` and unloading one `munmap`.
        // If another process truncates the file, accesses beyond the new end fault (SIGBUS), as
        // with any mapped executable. Artifacts are immutable build outputs, replaced by rename
        // (as `kiln compile` does).
        let map = FileMap::new(&file, len).map_err(io)?;
        drop(file);
        let mut unwind = None;
        if let Some(eh_frame) = eh_frame {
            if verify_checksum {
                let view = kiln_format::ArtifactView::parse(map.bytes()).map_err(format)?;
                view.verify_checksum().map_err(format)?;
            }
            if options.register_unwind_info && eh_frame.len() >= 4 {
                let eh = map.bytes()[eh_frame].as_ptr().cast_mut();
                // SAFETY: the section lies inside the mapping and is the one the compiler wrote
                // (`check_file` checked its place, the whole-file checksum its bytes), ends with the zero
                // terminator the compiler writes, and the mapping outlives the registration
                // (`ArtifactInner` drops `unwind` first).
                let eh = crate::send_sync::SendSyncPtr::from_raw(eh)
                    .map(|eh| unsafe { UnwindRegistration::register(eh) });
                unwind = eh;
            }
        }
        Ok(Artifact {
            inner: Arc::new(ArtifactInner {
                map,
                path: path.to_owned(),
                validated: OnceLock::new(),
                _unwind: unwind,
                derived: Derived::default(),
                reopened: OnceLock::new(),
            }),
        })
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The whole mapping, unvalidated (see [`Artifact::check`]).
    pub fn bytes(&self) -> &[u8] {
        self.inner.map.bytes()
    }

    /// Whether two handles share one mapping.
    pub fn ptr_eq(&self, other: &Artifact) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
