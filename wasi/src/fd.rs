//! `fd_*`: operations on open descriptors.

use crate::errno::{Errno, WasiResult};
use crate::fd_table::{DirItem, Kind};
use crate::memory::iovecs_len;
use crate::stat::{filestat_of_fd, filetype_of_cap, set_fd_times, time_changes};
use crate::types::{advice, fdflags, filetype, layout, preopentype, whence, Fdstat, Filestat};
use crate::Call;
use rustix::fs::OFlags;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirEntryExt, FileExt};

/// The most bytes one read or write call moves; a guest asking for more gets a short count.
const MAX_IO: usize = 64 << 20;

/// Retries `f` while it is interrupted by a signal.
fn retry<T>(mut f: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Writes as much of `buf` as possible with `write`; an error after progress is a short count.
fn write_fully(
    buf: &[u8],
    mut write: impl FnMut(&[u8], usize) -> std::io::Result<usize>,
) -> WasiResult<usize> {
    let mut done = 0;
    while done < buf.len() {
        match retry(|| write(&buf[done..], done)) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(_) if done > 0 => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(done)
}

/// `fd_advise(fd, offset: filesize, len: filesize, advice) -> errno`
pub(crate) fn fd_advise(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, offset, len, adv) = (cx.u32(0), cx.u64(1), cx.u64(2), cx.u8(3)?);
    if adv > advice::NOREUSE {
        return Err(Errno::Inval);
    }
    match &cx.ctx.fds.get(fd)?.kind {
        Kind::File(f) => advise(&f.file, offset, len, adv),
        Kind::Dir(_) => Err(Errno::Badf),
        Kind::Stream(_) => Err(Errno::Spipe),
    }
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn advise(file: &std::fs::File, offset: u64, len: u64, adv: u8) -> WasiResult<()> {
    use rustix::fs::Advice;
    let adv = match adv {
        advice::NORMAL => Advice::Normal,
        advice::SEQUENTIAL => Advice::Sequential,
        advice::RANDOM => Advice::Random,
        advice::WILLNEED => Advice::WillNeed,
        advice::DONTNEED => Advice::DontNeed,
        _ => Advice::NoReuse,
    };
    rustix::fs::fadvise(file, offset, std::num::NonZeroU64::new(len), adv)?;
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn advise(_file: &std::fs::File, _offset: u64, _len: u64, _adv: u8) -> WasiResult<()> {
    // Advice is only a hint.
    Ok(())
}

/// `fd_allocate(fd, offset: filesize, len: filesize) -> errno`: makes the file at least
/// `offset + len` bytes long.
pub(crate) fn fd_allocate(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, offset, len) = (cx.u32(0), cx.u64(1), cx.u64(2));
    match &cx.ctx.fds.get(fd)?.kind {
        Kind::File(f) => {
            if len == 0 {
                return Err(Errno::Inval);
            }
            let end = offset.checked_add(len).ok_or(Errno::Fbig)?;
            if end > i64::MAX as u64 {
                return Err(Errno::Fbig);
            }
            if end > f.file.metadata()?.len() {
                f.file.set_len(end)?;
            }
            Ok(())
        }
        Kind::Dir(_) => Err(Errno::Isdir),
        Kind::Stream(_) => Err(Errno::Spipe),
    }
}

/// `fd_close(fd) -> errno`
pub(crate) fn fd_close(cx: &mut Call<'_>) -> WasiResult<()> {
    let fd = cx.u32(0);
    cx.ctx.fds.remove(fd)?;
    Ok(())
}

/// `fd_datasync(fd) -> errno`
pub(crate) fn fd_datasync(cx: &mut Call<'_>) -> WasiResult<()> {
    match &cx.ctx.fds.get(cx.u32(0))?.kind {
        Kind::File(f) => Ok(f.file.sync_data()?),
        Kind::Dir(d) => Ok(rustix::fs::fdatasync(&d.dir)?),
        Kind::Stream(_) => Err(Errno::Inval),
    }
}

/// `fd_sync(fd) -> errno`
pub(crate) fn fd_sync(cx: &mut Call<'_>) -> WasiResult<()> {
    match &cx.ctx.fds.get(cx.u32(0))?.kind {
        Kind::File(f) => Ok(f.file.sync_all()?),
        Kind::Dir(d) => Ok(rustix::fs::fsync(&d.dir)?),
        Kind::Stream(_) => Err(Errno::Inval),
    }
}

/// The `fdflags` of an open file.
fn file_flags(file: &std::fs::File) -> WasiResult<u16> {
    let fl = rustix::fs::fcntl_getfl(file)?;
    let mut flags = 0;
    if fl.contains(OFlags::APPEND) {
        flags |= fdflags::APPEND;
    }
    if fl.contains(OFlags::NONBLOCK) {
        flags |= fdflags::NONBLOCK;
    }
    if fl.contains(OFlags::SYNC) {
        flags |= fdflags::SYNC;
    } else if fl.contains(OFlags::DSYNC) {
        flags |= fdflags::DSYNC;
    }
    Ok(flags)
}

/// `fd_fdstat_get(fd) -> (errno, fdstat)`
pub(crate) fn fd_fdstat_get(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, out) = (cx.u32(0), cx.u32(1));
    cx.mem.check(out, layout::FDSTAT_SIZE as u64, 8)?;
    let d = cx.ctx.fds.get(fd)?;
    let (filetype, flags) = match &d.kind {
        Kind::Stream(s) => (s.filetype(), 0),
        Kind::File(f) => (filestat_of_fd(&f.file)?.filetype, file_flags(&f.file)?),
        Kind::Dir(_) => (filetype::DIRECTORY, 0),
    };
    let st = Fdstat {
        filetype,
        flags,
        rights_base: d.rights_base,
        rights_inheriting: d.rights_inheriting,
    };
    cx.mem.write_struct(out, 8, &st.to_bytes())
}

/// `fd_fdstat_set_flags(fd, flags: fdflags) -> errno`: `APPEND` and `NONBLOCK` of files can
/// change; the synchronization flags cannot (`ENOTSUP`).
pub(crate) fn fd_fdstat_set_flags(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, flags) = (cx.u32(0), cx.u16(1)?);
    if flags & !fdflags::ALL != 0 {
        return Err(Errno::Inval);
    }
    match &cx.ctx.fds.get(fd)?.kind {
        Kind::File(f) => {
            if flags & (fdflags::DSYNC | fdflags::RSYNC | fdflags::SYNC) != 0 {
                return Err(Errno::Notsup);
            }
            let mut fl = rustix::fs::fcntl_getfl(&f.file)?;
            fl.set(OFlags::APPEND, flags & fdflags::APPEND != 0);
            fl.set(OFlags::NONBLOCK, flags & fdflags::NONBLOCK != 0);
            rustix::fs::fcntl_setfl(&f.file, fl)?;
            Ok(())
        }
        _ if flags == 0 => Ok(()),
        _ => Err(Errno::Notsup),
    }
}

/// `fd_fdstat_set_rights(fd, fs_rights_base, fs_rights_inheriting) -> errno`: rights can only
/// be dropped.
pub(crate) fn fd_fdstat_set_rights(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, base, inheriting) = (cx.u32(0), cx.u64(1), cx.u64(2));
    let d = cx.ctx.fds.get_mut(fd)?;
    if base & !d.rights_base != 0 || inheriting & !d.rights_inheriting != 0 {
        return Err(Errno::Notcapable);
    }
    d.rights_base = base;
    d.rights_inheriting = inheriting;
    Ok(())
}

/// `fd_filestat_get(fd) -> (errno, filestat)`
pub(crate) fn fd_filestat_get(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, out) = (cx.u32(0), cx.u32(1));
    cx.mem.check(out, layout::FILESTAT_SIZE as u64, 8)?;
    let st = match &cx.ctx.fds.get(fd)?.kind {
        Kind::File(f) => filestat_of_fd(&f.file)?,
        Kind::Dir(d) => filestat_of_fd(&d.dir)?,
        Kind::Stream(s) => match s.host_fd() {
            Some(h) => Filestat {
                filetype: s.filetype(),
                ..filestat_of_fd(h)?
            },
            None => Filestat::default(),
        },
    };
    cx.mem.write_struct(out, 8, &st.to_bytes())
}

/// `fd_filestat_set_size(fd, size: filesize) -> errno`
pub(crate) fn fd_filestat_set_size(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, size) = (cx.u32(0), cx.u64(1));
    match &cx.ctx.fds.get(fd)?.kind {
        Kind::File(f) => Ok(f.file.set_len(size)?),
        Kind::Dir(_) => Err(Errno::Isdir),
        Kind::Stream(_) => Err(Errno::Inval),
    }
}

/// `fd_filestat_set_times(fd, atim, mtim, fst_flags) -> errno`
pub(crate) fn fd_filestat_set_times(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, atim, mtim, flags) = (cx.u32(0), cx.u64(1), cx.u64(2), cx.u16(3)?);
    let (a, m) = time_changes(atim, mtim, flags)?;
    match &cx.ctx.fds.get(fd)?.kind {
        Kind::File(f) => set_fd_times(&f.file, a, m),
        Kind::Dir(d) => set_fd_times(&d.dir, a, m),
        Kind::Stream(_) => Err(Errno::Notsup),
    }
}

/// `fd_pread(fd, iovs: iovec_array, offset: filesize) -> (errno, size)`
pub(crate) fn fd_pread(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, iovs, count, offset, out) = (cx.u32(0), cx.u32(1), cx.u32(2), cx.u64(3), cx.u32(4));
    cx.mem.check(out, 4, 4)?;
    let iovs = cx.mem.iovecs(iovs, count)?;
    let n = match &cx.ctx.fds.get(fd)?.kind {
        Kind::File(f) => {
            let mut buf = vec![0u8; iovecs_len(&iovs, MAX_IO)];
            let n = retry(|| f.file.read_at(&mut buf, offset))?;
            cx.mem.scatter(&iovs, &buf[..n])?;
            n
        }
        Kind::Dir(_) => return Err(Errno::Isdir),
        Kind::Stream(_) => return Err(Errno::Spipe),
    };
    cx.mem.write_u32(out, n as u32)
}

/// `fd_pwrite(fd, iovs: ciovec_array, offset: filesize) -> (errno, size)`
pub(crate) fn fd_pwrite(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, iovs, count, offset, out) = (cx.u32(0), cx.u32(1), cx.u32(2), cx.u64(3), cx.u32(4));
    cx.mem.check(out, 4, 4)?;
    let iovs = cx.mem.iovecs(iovs, count)?;
    let n = match &cx.ctx.fds.get(fd)?.kind {
        Kind::File(f) => {
            let buf = cx.mem.gather(&iovs, MAX_IO)?;
            write_fully(&buf, |b, done| {
                f.file.write_at(b, offset.saturating_add(done as u64))
            })?
        }
        Kind::Dir(_) => return Err(Errno::Isdir),
        Kind::Stream(_) => return Err(Errno::Spipe),
    };
    cx.mem.write_u32(out, n as u32)
}

/// `fd_read(fd, iovs: iovec_array) -> (errno, size)`
pub(crate) fn fd_read(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, iovs, count, out) = (cx.u32(0), cx.u32(1), cx.u32(2), cx.u32(3));
    cx.mem.check(out, 4, 4)?;
    let iovs = cx.mem.iovecs(iovs, count)?;
    let mut buf = vec![0u8; iovecs_len(&iovs, MAX_IO)];
    let n = match &mut cx.ctx.fds.get_mut(fd)?.kind {
        Kind::File(f) => retry(|| (&f.file).read(&mut buf))?,
        Kind::Stream(s) => s.read(&mut buf)?,
        Kind::Dir(_) => return Err(Errno::Isdir),
    };
    cx.mem.scatter(&iovs, &buf[..n])?;
    cx.mem.write_u32(out, n as u32)
}

/// `fd_write(fd, iovs: ciovec_array) -> (errno, size)`
pub(crate) fn fd_write(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, iovs, count, out) = (cx.u32(0), cx.u32(1), cx.u32(2), cx.u32(3));
    cx.mem.check(out, 4, 4)?;
    let iovs = cx.mem.iovecs(iovs, count)?;
    let buf = cx.mem.gather(&iovs, MAX_IO)?;
    let n = match &mut cx.ctx.fds.get_mut(fd)?.kind {
        Kind::File(f) => write_fully(&buf, |b, _| (&f.file).write(b))?,
        Kind::Stream(s) => s.write(&buf)?,
        Kind::Dir(_) => return Err(Errno::Isdir),
    };
    cx.mem.write_u32(out, n as u32)
}

/// `fd_prestat_get(fd) -> (errno, prestat)`
pub(crate) fn fd_prestat_get(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, out) = (cx.u32(0), cx.u32(1));
    cx.mem.check(out, layout::PRESTAT_SIZE as u64, 4)?;
    let name = match &cx.ctx.fds.get(fd)?.kind {
        Kind::Dir(d) => d.preopen.as_ref().ok_or(Errno::Badf)?,
        _ => return Err(Errno::Badf),
    };
    let mut b = [0u8; layout::PRESTAT_SIZE as usize];
    b[0] = preopentype::DIR;
    b[4..8].copy_from_slice(&(name.len() as u32).to_le_bytes());
    cx.mem.write_struct(out, 4, &b)
}

/// `fd_prestat_dir_name(fd, path: *u8, path_len: size) -> errno`
pub(crate) fn fd_prestat_dir_name(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, ptr, len) = (cx.u32(0), cx.u32(1), cx.u32(2));
    let name = match &cx.ctx.fds.get(fd)?.kind {
        Kind::Dir(d) => d.preopen.as_ref().ok_or(Errno::Badf)?,
        _ => return Err(Errno::Badf),
    };
    if (len as usize) < name.len() {
        return Err(Errno::Nametoolong);
    }
    cx.mem.write_bytes(ptr, name.as_bytes())
}

/// Lists a directory: `.`, `..`, then the entries sorted by name.
fn list_dir(dir: &cap_std::fs::Dir) -> WasiResult<Vec<DirItem>> {
    let ino = filestat_of_fd(dir)?.ino;
    let mut entries = Vec::new();
    for e in dir.entries()? {
        let e = e?;
        let filetype = e
            .file_type()
            .map(|t| filetype_of_cap(&t))
            .unwrap_or(filetype::UNKNOWN);
        entries.push(DirItem {
            name: e.file_name().into_vec(),
            ino: e.ino(),
            filetype,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let dots = [".", ".."].map(|n| DirItem {
        name: n.as_bytes().to_vec(),
        ino,
        filetype: filetype::DIRECTORY,
    });
    Ok(dots.into_iter().chain(entries).collect())
}

/// Serializes the entries from index `cookie` on as `dirent`s followed by their names.
fn dirents(items: &[DirItem], cookie: u64, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let start = usize::try_from(cookie).unwrap_or(usize::MAX);
    for (i, item) in items.iter().enumerate().skip(start) {
        if out.len() >= limit {
            break;
        }
        let mut head = [0u8; layout::DIRENT_SIZE as usize];
        head[0..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        head[8..16].copy_from_slice(&item.ino.to_le_bytes());
        head[16..20].copy_from_slice(&(item.name.len() as u32).to_le_bytes());
        head[20] = item.filetype;
        out.extend_from_slice(&head);
        out.extend_from_slice(&item.name);
    }
    out.truncate(limit);
    out
}

/// `fd_readdir(fd, buf: *u8, buf_len: size, cookie: dircookie) -> (errno, size)`: fills the
/// buffer; a result equal to `buf_len` means more entries may follow (the last may be cut).
pub(crate) fn fd_readdir(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, buf, len, cookie, out) = (cx.u32(0), cx.u32(1), cx.u32(2), cx.u64(3), cx.u32(4));
    cx.mem.check(out, 4, 4)?;
    cx.mem.bytes(buf, len)?;
    let d = match &mut cx.ctx.fds.get_mut(fd)?.kind {
        Kind::Dir(d) => d,
        _ => return Err(Errno::Notdir),
    };
    if cookie == 0 || d.listing.is_none() {
        d.listing = Some(list_dir(&d.dir)?);
    }
    let bytes = dirents(
        d.listing.as_deref().unwrap_or_default(),
        cookie,
        len as usize,
    );
    cx.mem.write_bytes(buf, &bytes)?;
    cx.mem.write_u32(out, bytes.len() as u32)
}

/// `fd_renumber(fd, to: fd) -> errno`
pub(crate) fn fd_renumber(cx: &mut Call<'_>) -> WasiResult<()> {
    let (from, to) = (cx.u32(0), cx.u32(1));
    cx.ctx.fds.renumber(from, to)
}

/// `fd_seek(fd, offset: filedelta, whence) -> (errno, filesize)`
pub(crate) fn fd_seek(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, offset, wh, out) = (cx.u32(0), cx.u64(1) as i64, cx.u8(2)?, cx.u32(3));
    cx.mem.check(out, 8, 8)?;
    let pos = match wh {
        whence::SET if offset >= 0 => SeekFrom::Start(offset as u64),
        whence::CUR => SeekFrom::Current(offset),
        whence::END => SeekFrom::End(offset),
        _ => return Err(Errno::Inval),
    };
    let new = match &cx.ctx.fds.get(fd)?.kind {
        Kind::File(f) => (&f.file).seek(pos)?,
        Kind::Dir(_) => return Err(Errno::Badf),
        Kind::Stream(_) => return Err(Errno::Spipe),
    };
    cx.mem.write_u64(out, new)
}

/// `fd_tell(fd) -> (errno, filesize)`
pub(crate) fn fd_tell(cx: &mut Call<'_>) -> WasiResult<()> {
    let (fd, out) = (cx.u32(0), cx.u32(1));
    cx.mem.check(out, 8, 8)?;
    let pos = match &cx.ctx.fds.get(fd)?.kind {
        Kind::File(f) => (&f.file).stream_position()?,
        Kind::Dir(_) => return Err(Errno::Badf),
        Kind::Stream(_) => return Err(Errno::Spipe),
    };
    cx.mem.write_u64(out, pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirent_serialization() {
        let items = vec![
            DirItem {
                name: b".".to_vec(),
                ino: 7,
                filetype: filetype::DIRECTORY,
            },
            DirItem {
                name: b"abc".to_vec(),
                ino: 9,
                filetype: filetype::REGULAR_FILE,
            },
        ];
        let all = dirents(&items, 0, 1000);
        assert_eq!(all.len(), 24 + 1 + 24 + 3);
        assert_eq!(u64::from_le_bytes(all[0..8].try_into().unwrap()), 1);
        assert_eq!(u64::from_le_bytes(all[8..16].try_into().unwrap()), 7);
        assert_eq!(u32::from_le_bytes(all[16..20].try_into().unwrap()), 1);
        assert_eq!(all[20], filetype::DIRECTORY);
        assert_eq!(all[24], b'.');
        let second = &all[25..];
        assert_eq!(u64::from_le_bytes(second[0..8].try_into().unwrap()), 2);
        assert_eq!(&second[24..], b"abc");
        // Resuming from a cookie, and a buffer that cuts an entry.
        assert_eq!(dirents(&items, 1, 1000), second);
        assert_eq!(dirents(&items, 0, 30).len(), 30);
        assert!(dirents(&items, 2, 1000).is_empty());
        assert!(dirents(&items, u64::MAX, 1000).is_empty());
    }
}
