//! Loading an artifact: one `mmap` of the whole file, read-only and executable, nothing copied.

use crate::file_map::FileMap;
use kiln_format::tables::{NO_FUNC_REF, NULL_FUNC};
use kiln_format::{ArtifactView, FormatError};
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

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
    /// Validate the artifact while loading it (one 1 KiB `pread`, see [`Artifact::check`]), so
    /// that a damaged, foreign or incompatible file fails here rather than at its first use.
    /// This costs about a fifth of the floor (`open` + `mmap` + `close`) here; without it,
    /// loading reads nothing of the file.
    pub check_now: bool,
    /// Recompute the checksum of the whole file and refuse it on a mismatch. This reads every byte,
    /// so it costs time proportional to the file. Implies `check_now`.
    pub verify_checksum: bool,
    /// Register the artifact's `.eh_frame` with the system unwinder (one call for the whole
    /// section, undone by one call at unload), so that native backtraces and debuggers can walk
    /// through guest frames. Ignored for artifacts compiled without `--unwind-info`. Implies
    /// `check_now`.
    pub register_unwind_info: bool,
}

unsafe extern "C" {
    // libgcc's registration of a whole `.eh_frame` section (terminated by a zero word).
    fn __register_frame(begin: *const u8);
    fn __deregister_frame(begin: *const u8);
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
    /// Address of the registered `.eh_frame`, if any.
    registered_eh_frame: Option<usize>,
    /// Canonical type ids of the module's types, computed at the first instantiation.
    type_ids: OnceLock<Box<[u32]>>,
    /// The defined functions, checked once.
    defined_funcs: OnceLock<DefinedFuncs>,
    /// The file, reopened at the first instantiation that maps a data image (see `reopen`).
    reopened: OnceLock<Option<File>>,
    /// Last, so that it is unmapped after every field that may borrow from it is gone.
    map: FileMap,
}

impl Drop for ArtifactInner {
    fn drop(&mut self) {
        if let Some(eh_frame) = self.registered_eh_frame {
            // SAFETY: registered in `open_with` with this address, inside the still-live mapping.
            unsafe { __deregister_frame(eh_frame as *const u8) };
        }
    }
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
        let io = |source| LoadError::Io {
            path: path.to_owned(),
            source,
        };
        let format = |source| LoadError::Format {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        // The length by `lseek`, not `fstat`: it costs a tenth as much (benches/README.md, "Load
        // breakdown"). What is not a regular file fails anyway: a directory or a pipe cannot be
        // read or sought, a device reports length 0 and cannot be mapped.
        let len = (&file).seek(SeekFrom::End(0)).map_err(io)?;
        let len = usize::try_from(len)
            .map_err(|_| io(std::io::Error::other("file too large for this machine")))?;
        if len < ELF_HEADER_LEN {
            // Also keeps an empty file from being mapped (which fails) or a shorter one from being
            // validated through a mapping with nothing behind it.
            return Err(format(FormatError::Truncated("shorter than an ELF header")));
        }
        let check_now =
            options.check_now || options.verify_checksum || options.register_unwind_info;
        // Validated from one small read, so that even a checked load touches no page of the
        // mapping (a page fault costs more than the read, and more again at unload).
        let eh_frame = if check_now {
            let mut prefix = [0u8; PREFIX_LEN];
            let n = read_prefix(&file, &mut prefix).map_err(io)?;
            let header = ArtifactView::check_prefix(&prefix[..n], len).map_err(format)?;
            kiln_format::reader::check_compatibility(header).map_err(format)?;
            // Checked against the file length by `check_prefix`.
            let eh = header.eh_frame;
            Some(eh.offset.get() as usize..(eh.offset.get() + eh.size.get()) as usize)
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
        let base = map.bytes().as_ptr() as usize;
        let mut registered_eh_frame = None;
        if let Some(eh_frame) = eh_frame {
            if options.verify_checksum {
                let view = ArtifactView::parse(map.bytes()).map_err(format)?;
                view.verify_checksum().map_err(format)?;
            }
            if options.register_unwind_info && eh_frame.len() >= 4 {
                let eh = base + eh_frame.start;
                // SAFETY: the section lies inside the mapping (checked by `check_prefix`), ends
                // with the zero terminator the compiler writes, and stays mapped until `Drop`
                // deregisters it.
                unsafe { __register_frame(eh as *const u8) };
                registered_eh_frame = Some(eh);
            }
        }
        Ok(Artifact {
            inner: Arc::new(ArtifactInner {
                map,
                path: path.to_owned(),
                validated: OnceLock::new(),
                registered_eh_frame,
                type_ids: OnceLock::new(),
                defined_funcs: OnceLock::new(),
                reopened: OnceLock::new(),
            }),
        })
    }

    /// Validates the artifact, once: the ELF identification, the Kiln header (magic, format
    /// version), that this machine can run it (target, CPU features, settings), that every
    /// region lies inside the file and the table directory is well formed. Instantiation and
    /// [`Artifact::view`] call it; call it directly to learn of a bad artifact before its first
    /// use. The first call reads the header page through the mapping.
    pub fn check(&self) -> Result<(), LoadError> {
        if self.inner.validated.get().is_some() {
            return Ok(());
        }
        let format = |source| LoadError::Format {
            path: self.inner.path.clone(),
            source,
        };
        let bytes = self.mapped();
        // The same checks as at load (`check_now`): everything from the first 1 KiB, which is
        // backed since the file is at least an ELF header long (checked when it was mapped).
        let prefix = &bytes[..bytes.len().min(PREFIX_LEN)];
        ArtifactView::check_prefix(prefix, bytes.len()).map_err(format)?;
        let view = ArtifactView::parse(bytes).map_err(format)?;
        view.check_compatibility().map_err(format)?;
        let text = view.text_range();
        let base = bytes.as_ptr() as usize;
        let code = base + text.start..base + text.end;
        self.inner
            .validated
            .get_or_init(|| Validated { view, code });
        Ok(())
    }

    /// The mapped bytes, for the views cached in `self.inner`.
    fn mapped(&self) -> &'static [u8] {
        let bytes = self.inner.map.bytes();
        // SAFETY: the mapping is owned by `self.inner`, as are the views made from these bytes: it
        // stays mapped, in place and unmodified as long as a cached view can be reached, and
        // views are only handed out for the lifetime of `&self` (`checked_view`).
        unsafe { std::slice::from_raw_parts(bytes.as_ptr(), bytes.len()) }
    }

    /// The validated view of the artifact's bytes (validating it first if needed).
    pub fn view(&self) -> Result<ArtifactView<'_>, LoadError> {
        self.check()?;
        Ok(self.checked_view())
    }

    /// The view of an artifact known to be valid: one that has been instantiated (instantiation
    /// validates first).
    pub(crate) fn checked_view(&self) -> ArtifactView<'_> {
        self.validated_view()
            .expect("validated before instantiation")
    }

    /// The view, if the artifact has been validated. Reads a `OnceLock` without initializing it,
    /// so the trap handler may call it.
    pub(crate) fn validated_view(&self) -> Option<ArtifactView<'_>> {
        self.inner.validated.get().map(|v| v.view)
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The whole mapping, unvalidated (see [`Artifact::check`]).
    pub fn bytes(&self) -> &[u8] {
        self.inner.map.bytes()
    }

    /// Address range of the executable code (validating the artifact first if needed).
    pub fn code_range(&self) -> Result<std::ops::Range<usize>, LoadError> {
        self.check()?;
        Ok(self.code())
    }

    /// Address range of the code; empty until the artifact has been validated.
    pub(crate) fn code(&self) -> std::ops::Range<usize> {
        self.inner.validated.get().map_or(0..0, |v| v.code.clone())
    }

    /// The guest function containing code address `addr`, as `(index, name)`: for symbolizing
    /// native backtraces and profiles. `None` also for an artifact not yet validated.
    pub fn symbolize(&self, addr: usize) -> Option<(u32, String)> {
        let code = self.code();
        if !code.contains(&addr) {
            return None;
        }
        let view = self.validated_view()?;
        let (index, _) = view.function_at((addr - code.start) as u32)?;
        Some((index, view.func_name(index)))
    }

    /// The artifact's file, opened again at the first instantiation that needs it, if it still
    /// holds the same artifact (same ELF and Kiln headers, which include the wasm hash and the
    /// checksum): for mapping data images into linear memory. Loading keeps no file descriptor;
    /// an artifact that has been instantiated with a mapped image keeps one, as Wasmtime does.
    pub(crate) fn reopened(&self) -> Option<&File> {
        self.inner
            .reopened
            .get_or_init(|| {
                use std::os::unix::fs::FileExt;
                let file = File::open(&self.inner.path).ok()?;
                let len =
                    kiln_format::header::HEADER_OFFSET as usize + kiln_format::ArtifactHeader::SIZE;
                let mut head = vec![0u8; len];
                file.read_exact_at(&mut head, 0).ok()?;
                (self.inner.map.bytes().get(..len) == Some(&head[..])).then_some(file)
            })
            .as_ref()
    }

    /// The defined functions, with code offsets, type indices and `VMFuncRef` slots checked,
    /// computed once: what instantiation and calls need of them.
    pub(crate) fn defined_funcs(&self) -> Result<&DefinedFuncs, kiln_format::FormatError> {
        if let Some(funcs) = self.inner.defined_funcs.get() {
            return Ok(funcs);
        }
        let corrupt = |what: String| kiln_format::FormatError::Corrupt(what);
        let view = self.checked_view();
        let ids = self.type_ids()?;
        let code = self.code();
        let module = view.module();
        // Slots are assigned in function order after the imported functions' (SPEC §3): checking
        // that exact assignment guarantees every slot the code may read gets initialized.
        let mut next_slot = module.imported_funcs.get();
        let mut referenceable = Vec::new();
        let all = view
            .functions()
            .iter()
            .map(|f| {
                let (off, len) = (f.code_offset.get() as usize, f.code_len.get() as usize);
                if off.checked_add(len).is_none_or(|end| end > code.len()) {
                    return Err(corrupt(format!("code offset {off} outside the text")));
                }
                let ti = f.type_index.get();
                let id = *ids
                    .get(ti as usize)
                    .ok_or_else(|| corrupt(format!("type index {ti} out of range")))?;
                let slot = f.func_ref.get();
                if slot != NO_FUNC_REF {
                    if slot != next_slot {
                        return Err(corrupt(format!("function reference slot {slot}")));
                    }
                    next_slot += 1;
                    referenceable.push((code.start + off, id));
                }
                Ok(DefinedFunc {
                    code: code.start + off,
                    slot,
                })
            })
            .collect::<Result<Box<[DefinedFunc]>, _>>()?;
        if next_slot != module.func_refs.get() {
            return Err(corrupt("function reference count".into()));
        }
        let imported = module.imported_funcs.get();
        let elem_slots = view
            .all_elem_funcs()
            .iter()
            .map(|f| match f.get() {
                NULL_FUNC => Ok(NULL_FUNC),
                f if f < imported => Ok(f),
                f => all
                    .get((f - imported) as usize)
                    .map(|d| d.slot)
                    .filter(|&s| s != NO_FUNC_REF)
                    .ok_or_else(|| corrupt(format!("element function index {f}"))),
            })
            .collect::<Result<Box<[u32]>, _>>()?;
        let funcs = DefinedFuncs {
            all,
            referenceable: referenceable.into(),
            elem_slots,
        };
        Ok(self.inner.defined_funcs.get_or_init(|| funcs))
    }

    /// Canonical type ids of the module's types (see `type_registry`), computed once.
    pub(crate) fn type_ids(&self) -> Result<&[u32], kiln_format::FormatError> {
        if let Some(ids) = self.inner.type_ids.get() {
            return Ok(ids);
        }
        let view = self.checked_view();
        let ids = view
            .types()
            .iter()
            .map(|t| {
                let (p, r) = view.signature(t)?;
                Ok(crate::type_registry::canonical_id(p, r))
            })
            .collect::<Result<Box<[u32]>, kiln_format::FormatError>>()?;
        Ok(self.inner.type_ids.get_or_init(|| ids))
    }

    /// Whether two handles share one mapping.
    pub fn ptr_eq(&self, other: &Artifact) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// What validation establishes, kept with the artifact.
struct Validated {
    /// The parsed view of the mapping (`'static` stands for "while the artifact lives": see
    /// `Artifact::mapped`).
    view: ArtifactView<'static>,
    /// The address range of the code, which the trap handler and calls look up often.
    code: std::ops::Range<usize>,
}

/// A defined function, as instantiation and calls need it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DefinedFunc {
    /// Address of its code.
    pub code: usize,
    /// Its `VMFuncRef` slot, or `NO_FUNC_REF`.
    pub slot: u32,
}

/// The defined functions of an artifact.
pub(crate) struct DefinedFuncs {
    /// In index order.
    pub all: Box<[DefinedFunc]>,
    /// `(code, canonical type id)` of those with a `VMFuncRef`, in slot order: what each
    /// instantiation writes into its VMContext.
    pub referenceable: Box<[(usize, u32)]>,
    /// For each item of the `ElemFuncs` table: its function's `VMFuncRef` slot, or `NULL_FUNC`
    /// for a null item. Every slot is below `ModuleEntry::func_refs`. Filling a table from a
    /// segment then reads this array in order instead of looking up each function.
    pub elem_slots: Box<[u32]>,
}

/// Length of an ELF64 file header: nothing shorter can be an artifact.
const ELF_HEADER_LEN: usize = 64;

/// Bytes read to validate an artifact before mapping it: the ELF and Kiln headers, the program
/// headers and the metadata directory all lie in the first 1 KiB (SPEC §1).
const PREFIX_LEN: usize = 1024;

/// Reads up to `buf.len()` bytes from the start of `file`.
fn read_prefix(file: &File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
