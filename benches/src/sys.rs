//! What the operating system says: memory counters of this process, the raw system calls of the
//! load floor, a scratch directory, and a description of the machine.

use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Memory counters of this process at one moment, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemSnapshot {
    /// Resident set size (`Rss` of `/proc/self/smaps_rollup`, exact; `VmRSS` of
    /// `/proc/self/status` is batched per CPU and lags).
    pub rss: u64,
    /// `VmRSS` of `/proc/self/status`.
    pub vm_rss: u64,
    /// Private dirty pages (`Private_Dirty`): written anonymous memory, heap included, and
    /// copied-on-write file pages. Anonymous pages are dirty by definition, so this is the
    /// union of "anonymous" and "private dirty".
    pub private_dirty: u64,
    /// Anonymous pages (`Anonymous`).
    pub anonymous: u64,
    /// Bytes in use in the C heap, all arenas (`mallinfo2`: `uordblks + hblkhd`).
    pub heap: u64,
}

impl MemSnapshot {
    /// Reads the counters now.
    pub fn now() -> Result<MemSnapshot> {
        let rollup = std::fs::read_to_string("/proc/self/smaps_rollup")
            .context("reading /proc/self/smaps_rollup")?;
        let status =
            std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
        // SAFETY: mallinfo2 has no preconditions; it only reads allocator statistics.
        let mi = unsafe { libc::mallinfo2() };
        Ok(MemSnapshot {
            rss: kb_field(&rollup, "Rss:")?,
            vm_rss: kb_field(&status, "VmRSS:")?,
            private_dirty: kb_field(&rollup, "Private_Dirty:")?,
            anonymous: kb_field(&rollup, "Anonymous:")?,
            heap: (mi.uordblks + mi.hblkhd) as u64,
        })
    }

    /// `self - before`, field by field, as signed numbers.
    pub fn delta(&self, before: &MemSnapshot) -> MemDelta {
        let d = |a: u64, b: u64| a as i64 - b as i64;
        MemDelta {
            rss: d(self.rss, before.rss),
            vm_rss: d(self.vm_rss, before.vm_rss),
            private_dirty: d(self.private_dirty, before.private_dirty),
            anonymous: d(self.anonymous, before.anonymous),
            heap: d(self.heap, before.heap),
        }
    }
}

/// A difference of two [`MemSnapshot`]s, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MemDelta {
    /// Resident set size.
    pub rss: i64,
    /// `VmRSS`.
    pub vm_rss: i64,
    /// Private dirty.
    pub private_dirty: i64,
    /// Anonymous.
    pub anonymous: i64,
    /// C heap in use.
    pub heap: i64,
}

impl MemDelta {
    /// Each field divided by `n` (per item).
    pub fn per(&self, n: usize) -> MemPer {
        let n = n.max(1) as f64;
        MemPer {
            rss: self.rss as f64 / n,
            private_dirty: self.private_dirty as f64 / n,
            heap: self.heap as f64 / n,
        }
    }
}

/// Memory per item (artifact or instance), in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MemPer {
    /// Resident set size.
    pub rss: f64,
    /// Private dirty.
    pub private_dirty: f64,
    /// C heap in use.
    pub heap: f64,
}

fn kb_field(text: &str, name: &str) -> Result<u64> {
    let line = text
        .lines()
        .find(|l| l.starts_with(name))
        .with_context(|| format!("no {name} line"))?;
    let kb: u64 = line[name.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("bad {name} line: {line}"))?;
    Ok(kb * 1024)
}

/// The page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).unwrap_or(4096)
}

/// A file prepared for the floor measurement: its path as a C string and its length.
pub struct FloorFile {
    path: CString,
    len: usize,
}

impl FloorFile {
    /// Prepares `path` (reads its length now, outside any timing).
    pub fn new(path: &Path) -> Result<FloorFile> {
        let len = std::fs::metadata(path)
            .with_context(|| format!("{}", path.display()))?
            .len() as usize;
        let path = CString::new(path.as_os_str().as_bytes())?;
        Ok(FloorFile { path, len })
    }
}

/// What the floor does besides `open` + `mmap` + `close`, to split Kiln's load time into its
/// system calls, and to measure alternatives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FloorExtras {
    /// How the length of the file is learnt.
    pub size: SizeQuery,
    /// How the header is read, if at all.
    pub header: HeaderRead,
    /// Map the whole file read + execute (one mapping, nothing split) instead of read-only.
    pub exec_whole: bool,
    /// Make this byte range of the mapping (the code range) executable, and how.
    pub code: Option<(usize, usize, CodeProt)>,
}

/// How the floor learns the length of the file to map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SizeQuery {
    /// It is known already (read before the timing): the bare floor, or a loader that takes the
    /// length from the header it reads anyway.
    #[default]
    Known,
    /// `fstat` the descriptor (as `memmap2` and Rust's `File::metadata` do).
    Fstat,
    /// `lseek(fd, 0, SEEK_END)`: the length alone, without filling a `struct stat`.
    Lseek,
}

/// How the floor reads the artifact header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HeaderRead {
    /// Not at all.
    #[default]
    None,
    /// Read the first byte through the mapping: a page fault, which also maps up to 15
    /// neighbouring cached pages (the kernel's fault-around).
    Touch,
    /// `pread` the first this many bytes (at most 4 KiB) into a buffer; the mapping stays
    /// untouched.
    Pread(usize),
}

/// How the floor makes the code range executable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeProt {
    /// `mprotect` to read + execute.
    Mprotect,
    /// A second `mmap` of the same file range over it, `MAP_FIXED`, read + execute (before the
    /// descriptor is closed).
    RemapFixed,
}

/// The floor: for each file `open`, `mmap` (read-only, private, whole file) and `close`; then
/// `munmap` each. Returns (load time, unload time) for all files.
pub fn floor_load_unload(files: &[FloorFile], extras: FloorExtras) -> Result<(Duration, Duration)> {
    let mut maps: Vec<(*mut libc::c_void, usize)> = Vec::with_capacity(files.len());
    let start = Instant::now();
    for f in files {
        // SAFETY: plain system calls on a NUL-terminated path and a fresh descriptor; the
        // mapping is private and read-only and only read below.
        unsafe {
            let fd = libc::open(f.path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
            if fd < 0 {
                bail!("open: {}", std::io::Error::last_os_error());
            }
            let mut len = f.len;
            match extras.size {
                SizeQuery::Known => {}
                SizeQuery::Fstat => {
                    let mut st: libc::stat = std::mem::zeroed();
                    libc::fstat(fd, &mut st);
                    len = st.st_size as usize;
                }
                SizeQuery::Lseek => len = libc::lseek(fd, 0, libc::SEEK_END) as usize,
            }
            if let HeaderRead::Pread(n) = extras.header {
                let mut buf = [0u8; 4096];
                let n = n.min(buf.len());
                let got = libc::pread(fd, buf.as_mut_ptr() as *mut libc::c_void, n, 0);
                if got < 64 {
                    bail!("pread: {}", std::io::Error::last_os_error());
                }
                std::hint::black_box(&buf);
            }
            let prot = if extras.exec_whole {
                libc::PROT_READ | libc::PROT_EXEC
            } else {
                libc::PROT_READ
            };
            let p = libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_PRIVATE, fd, 0);
            if p == libc::MAP_FAILED {
                bail!("mmap: {}", std::io::Error::last_os_error());
            }
            match extras.header {
                HeaderRead::Touch => {
                    std::ptr::read_volatile(p as *const u8);
                }
                HeaderRead::None | HeaderRead::Pread(_) => {}
            }
            match extras.code {
                Some((offset, code_len, how)) if code_len > 0 => {
                    let at = (p as *mut u8).add(offset) as *mut libc::c_void;
                    let exec = libc::PROT_READ | libc::PROT_EXEC;
                    let ok = match how {
                        CodeProt::Mprotect => libc::mprotect(at, code_len, exec) == 0,
                        CodeProt::RemapFixed => {
                            libc::mmap(
                                at,
                                code_len,
                                exec,
                                libc::MAP_PRIVATE | libc::MAP_FIXED,
                                fd,
                                offset as libc::off_t,
                            ) != libc::MAP_FAILED
                        }
                    };
                    if !ok {
                        bail!("code mapping: {}", std::io::Error::last_os_error());
                    }
                }
                _ => {}
            }
            libc::close(fd);
            maps.push((p, len));
        }
    }
    let load = start.elapsed();
    let start = Instant::now();
    for (p, len) in maps {
        // SAFETY: unmaps exactly the mappings made above, which nothing references.
        unsafe { libc::munmap(p, len) };
    }
    Ok((load, start.elapsed()))
}

/// Maps every file like [`floor_load_unload`] and keeps the mappings until the returned value is
/// dropped (for the floor's memory figures).
pub struct FloorMaps(Vec<(*mut libc::c_void, usize)>);

impl FloorMaps {
    /// Maps each file (`open` + `mmap` + `close`), reading the first byte if `touch_header`.
    pub fn map(files: &[FloorFile], touch_header: bool) -> Result<FloorMaps> {
        let mut maps = Vec::with_capacity(files.len());
        for f in files {
            // SAFETY: as in `floor_load_unload`.
            unsafe {
                let fd = libc::open(f.path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    bail!("open: {}", std::io::Error::last_os_error());
                }
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    f.len,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE,
                    fd,
                    0,
                );
                libc::close(fd);
                if p == libc::MAP_FAILED {
                    bail!("mmap: {}", std::io::Error::last_os_error());
                }
                if touch_header {
                    std::ptr::read_volatile(p as *const u8);
                }
                maps.push((p, f.len));
            }
        }
        Ok(FloorMaps(maps))
    }
}

impl Drop for FloorMaps {
    fn drop(&mut self) {
        for &(p, len) in &self.0 {
            // SAFETY: unmaps exactly the mappings made in `map`.
            unsafe { libc::munmap(p, len) };
        }
    }
}

/// The instantiation floor: what any runtime with 4 GiB + 2 GiB guarded linear memories and
/// copy-on-write data images must do for a memory of `pages` 64 KiB pages with the image
/// `image` of `file` at offset `dst`: reserve, make the initial pages accessible, open the file,
/// map the image over the memory (`MAP_FIXED`, private), close; then unmap. Returns (setup time,
/// teardown time).
pub fn floor_memory(
    pages: usize,
    file: &FloorFile,
    image: (usize, usize),
    dst: usize,
) -> Result<(Duration, Duration)> {
    const RESERVATION: usize = (4 << 30) + (2 << 30);
    let (image_offset, image_len) = image;
    if dst + image_len > pages * 65536 {
        bail!("data does not fit the memory");
    }
    let start = Instant::now();
    // SAFETY: a fresh anonymous reservation; the image is mapped inside its accessible pages.
    let base = unsafe {
        let base = libc::mmap(
            std::ptr::null_mut(),
            RESERVATION,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        );
        if base == libc::MAP_FAILED {
            bail!("mmap: {}", std::io::Error::last_os_error());
        }
        if libc::mprotect(base, pages * 65536, libc::PROT_READ | libc::PROT_WRITE) != 0 {
            bail!("mprotect: {}", std::io::Error::last_os_error());
        }
        let fd = libc::open(file.path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            bail!("open: {}", std::io::Error::last_os_error());
        }
        let p = libc::mmap(
            (base as *mut u8).add(dst) as *mut libc::c_void,
            image_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_FIXED,
            fd,
            image_offset as libc::off_t,
        );
        libc::close(fd);
        if p == libc::MAP_FAILED {
            bail!("mmap of the image: {}", std::io::Error::last_os_error());
        }
        base
    };
    let setup = start.elapsed();
    let start = Instant::now();
    // SAFETY: unmaps the reservation made above.
    unsafe { libc::munmap(base, RESERVATION) };
    Ok((setup, start.elapsed()))
}

/// A scratch directory, removed with everything in it when dropped.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A new directory under `parent` (or the system's temporary directory).
    pub fn new(parent: Option<&Path>) -> Result<ScratchDir> {
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = parent.join(format!("kiln-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(ScratchDir(dir))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The machine: CPU model, cores, kernel.
pub fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    format!("{model}, {cores} cores, Linux {kernel}")
}

/// This thread's CPU time in seconds (`CLOCK_THREAD_CPUTIME_ID`): what an operation cost without
/// the time it was preempted, on a shared machine.
pub fn thread_cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec, and the clock id is a constant libc defines.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}
