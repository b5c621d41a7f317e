//! File metadata: host `stat` results as WASI `filestat`s, and timestamp updates.

use crate::errno::{Errno, WasiResult};
use crate::types::{filetype, fstflags, Filestat};
use cap_fs_ext::{FileTypeExt, OsMetadataExt, SystemTimeSpec};
use rustix::fs::{FileType, Timestamps};
use rustix::time::Timespec;
use std::os::fd::AsFd;

fn to_nanos(secs: i64, nsecs: i64) -> u64 {
    if secs < 0 {
        return 0;
    }
    (secs as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(nsecs.max(0) as u64)
}

/// The WASI type of a host file type.
pub(crate) fn filetype_of(t: FileType) -> u8 {
    match t {
        FileType::RegularFile => filetype::REGULAR_FILE,
        FileType::Directory => filetype::DIRECTORY,
        FileType::Symlink => filetype::SYMBOLIC_LINK,
        FileType::CharacterDevice => filetype::CHARACTER_DEVICE,
        FileType::BlockDevice => filetype::BLOCK_DEVICE,
        FileType::Socket => filetype::SOCKET_STREAM,
        _ => filetype::UNKNOWN,
    }
}

/// The WASI type of a cap-std file type.
pub(crate) fn filetype_of_cap(t: &cap_std::fs::FileType) -> u8 {
    if t.is_dir() {
        filetype::DIRECTORY
    } else if t.is_file() {
        filetype::REGULAR_FILE
    } else if t.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else if FileTypeExt::is_char_device(t) {
        filetype::CHARACTER_DEVICE
    } else if FileTypeExt::is_block_device(t) {
        filetype::BLOCK_DEVICE
    } else if FileTypeExt::is_socket(t) {
        filetype::SOCKET_STREAM
    } else {
        filetype::UNKNOWN
    }
}

/// `fstat` of an open descriptor.
pub(crate) fn filestat_of_fd(fd: impl AsFd) -> WasiResult<Filestat> {
    let st = rustix::fs::fstat(fd)?;
    Ok(Filestat {
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        filetype: filetype_of(FileType::from_raw_mode(st.st_mode as _)),
        nlink: st.st_nlink as u64,
        size: st.st_size.max(0) as u64,
        atim: to_nanos(st.st_atime as i64, st.st_atime_nsec as i64),
        mtim: to_nanos(st.st_mtime as i64, st.st_mtime_nsec as i64),
        ctim: to_nanos(st.st_ctime as i64, st.st_ctime_nsec as i64),
    })
}

/// The `filestat` of metadata a path lookup returned.
pub(crate) fn filestat_of_metadata(m: &cap_std::fs::Metadata) -> Filestat {
    Filestat {
        dev: m.dev(),
        ino: m.ino(),
        filetype: filetype_of_cap(&m.file_type()),
        nlink: m.nlink(),
        size: m.size(),
        atim: to_nanos(m.atime(), m.atime_nsec()),
        mtim: to_nanos(m.mtime(), m.mtime_nsec()),
        ctim: to_nanos(m.ctime(), m.ctime_nsec()),
    }
}

/// What to do with one timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeChange {
    Keep,
    Now,
    At(u64),
}

/// Decodes the `fstflags` of a `*_filestat_set_times` call (`EINVAL` for conflicting or unknown
/// flags).
pub(crate) fn time_changes(
    atim: u64,
    mtim: u64,
    flags: u16,
) -> WasiResult<(TimeChange, TimeChange)> {
    if flags & !fstflags::ALL != 0 {
        return Err(Errno::Inval);
    }
    let one = |set: u16, now: u16, t: u64| match (flags & set != 0, flags & now != 0) {
        (true, true) => Err(Errno::Inval),
        (true, false) => Ok(TimeChange::At(t)),
        (false, true) => Ok(TimeChange::Now),
        (false, false) => Ok(TimeChange::Keep),
    };
    Ok((
        one(fstflags::ATIM, fstflags::ATIM_NOW, atim)?,
        one(fstflags::MTIM, fstflags::MTIM_NOW, mtim)?,
    ))
}

fn timespec(c: TimeChange) -> Timespec {
    match c {
        TimeChange::Keep => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        TimeChange::Now => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_NOW,
        },
        TimeChange::At(ns) => Timespec {
            tv_sec: (ns / 1_000_000_000) as _,
            tv_nsec: (ns % 1_000_000_000) as _,
        },
    }
}

/// Sets the timestamps of an open descriptor.
pub(crate) fn set_fd_times(fd: impl AsFd, atim: TimeChange, mtim: TimeChange) -> WasiResult<()> {
    rustix::fs::futimens(
        fd,
        &Timestamps {
            last_access: timespec(atim),
            last_modification: timespec(mtim),
        },
    )?;
    Ok(())
}

/// The cap-std form of a change.
pub(crate) fn time_spec(c: TimeChange) -> Option<SystemTimeSpec> {
    match c {
        TimeChange::Keep => None,
        TimeChange::Now => Some(SystemTimeSpec::SymbolicNow),
        TimeChange::At(ns) => Some(SystemTimeSpec::Absolute(
            cap_std::time::SystemTime::from_std(
                std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns),
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_times_flags() {
        assert_eq!(
            time_changes(1, 2, fstflags::ATIM | fstflags::MTIM_NOW),
            Ok((TimeChange::At(1), TimeChange::Now))
        );
        assert_eq!(
            time_changes(1, 2, 0),
            Ok((TimeChange::Keep, TimeChange::Keep))
        );
        assert_eq!(
            time_changes(1, 2, fstflags::ATIM | fstflags::ATIM_NOW),
            Err(Errno::Inval)
        );
        assert_eq!(time_changes(1, 2, 1 << 4), Err(Errno::Inval));
    }

    #[test]
    fn stat_of_a_file() {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("kiln-wasi-stat-{}", std::process::id()));
        std::fs::write(&path, b"12345").unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let st = filestat_of_fd(&f).unwrap();
        assert_eq!(st.size, 5);
        assert_eq!(st.filetype, filetype::REGULAR_FILE);
        assert!(st.nlink >= 1);
        set_fd_times(&f, TimeChange::At(1_000_000_123), TimeChange::Keep).unwrap();
        let st2 = filestat_of_fd(&f).unwrap();
        assert_eq!(st2.atim, 1_000_000_123);
        assert_eq!(st2.mtim, st.mtim);
        std::fs::remove_file(&path).unwrap();
    }
}
