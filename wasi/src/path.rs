//! `path_*`: operations on paths relative to an open directory. Every path is resolved by cap-std
//! beneath that directory: `..` past it, absolute paths and symbolic links that lead outside it
//! all fail (`EPERM`).

use crate::errno::{Errno, WasiResult};
use crate::fd_table::{Descriptor, Kind, OpenDir, OpenFile};
use crate::stat::{filestat_of_metadata, time_changes, time_spec};
use crate::types::{fdflags, layout, lookupflags, oflags, rights};
use crate::Call;
use cap_fs_ext::{
    DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt, OpenOptionsSyncExt,
};
use std::os::unix::ffi::OsStringExt;

impl Call<'_> {
    /// The path in arguments `ptr` and `ptr + 1` (address and length).
    fn path(&self, ptr: usize) -> WasiResult<String> {
        Ok(self.mem.str(self.u32(ptr), self.u32(ptr + 1))?.to_string())
    }

    /// Whether lookup flags in argument `i` ask to follow a final symbolic link.
    fn follow(&self, i: usize) -> WasiResult<bool> {
        let flags = self.u32(i);
        if flags & !lookupflags::SYMLINK_FOLLOW != 0 {
            return Err(Errno::Inval);
        }
        Ok(flags & lookupflags::SYMLINK_FOLLOW != 0)
    }
}

/// `path_create_directory(fd, path: string) -> errno`
pub(crate) fn path_create_directory(cx: &mut Call<'_>) -> WasiResult<()> {
    let path = cx.path(1)?;
    Ok(cx.ctx.fds.dir(cx.u32(0))?.dir.create_dir(path)?)
}

/// `path_filestat_get(fd, flags: lookupflags, path: string) -> (errno, filestat)`
pub(crate) fn path_filestat_get(cx: &mut Call<'_>) -> WasiResult<()> {
    let follow = cx.follow(1)?;
    let path = cx.path(2)?;
    let out = cx.u32(4);
    cx.mem.check(out, layout::FILESTAT_SIZE as u64, 8)?;
    let dir = &cx.ctx.fds.dir(cx.u32(0))?.dir;
    let meta = if follow {
        dir.metadata(path)?
    } else {
        dir.symlink_metadata(path)?
    };
    cx.mem
        .write_struct(out, 8, &filestat_of_metadata(&meta).to_bytes())
}

/// `path_filestat_set_times(fd, flags: lookupflags, path: string, atim, mtim, fst_flags) ->
/// errno`
pub(crate) fn path_filestat_set_times(cx: &mut Call<'_>) -> WasiResult<()> {
    let follow = cx.follow(1)?;
    let path = cx.path(2)?;
    let (a, m) = time_changes(cx.u64(4), cx.u64(5), cx.u16(6)?)?;
    let dir = &cx.ctx.fds.dir(cx.u32(0))?.dir;
    if follow {
        dir.set_times(path, time_spec(a), time_spec(m))?;
    } else {
        dir.set_symlink_times(path, time_spec(a), time_spec(m))?;
    }
    Ok(())
}

/// `path_link(old_fd, old_flags: lookupflags, old_path: string, new_fd, new_path: string) ->
/// errno`: following a symbolic link in `old_path` is not supported (`EINVAL`).
pub(crate) fn path_link(cx: &mut Call<'_>) -> WasiResult<()> {
    if cx.follow(1)? {
        return Err(Errno::Inval);
    }
    let old = cx.path(2)?;
    let new = cx.path(5)?;
    let old_dir = &cx.ctx.fds.dir(cx.u32(0))?.dir;
    let new_dir = &cx.ctx.fds.dir(cx.u32(4))?.dir;
    Ok(old_dir.hard_link(old, new_dir, new)?)
}

/// `path_open(fd, dirflags: lookupflags, path: string, oflags, fs_rights_base,
/// fs_rights_inheriting, fdflags) -> (errno, fd)`
///
/// The file is opened for reading if the rights include `fd_read` or `fd_readdir`, for writing
/// if they include `fd_write`, `fd_allocate` or `fd_filestat_set_size` (or `oflags` create or
/// truncate, or `fdflags` append), and for reading when they include neither.
pub(crate) fn path_open(cx: &mut Call<'_>) -> WasiResult<()> {
    let follow = cx.follow(1)?;
    let path = cx.path(2)?;
    let oflags = cx.u16(4)?;
    let (rights_base, rights_inheriting) = (cx.u64(5), cx.u64(6));
    let fdflags = cx.u16(7)?;
    let out = cx.u32(8);
    cx.mem.check(out, 4, 4)?;
    if oflags & !oflags::ALL != 0 || fdflags & !fdflags::ALL != 0 {
        return Err(Errno::Inval);
    }
    let dir = &cx.ctx.fds.dir(cx.u32(0))?.dir;

    let kind = if oflags & oflags::DIRECTORY != 0 {
        if oflags & (oflags::CREAT | oflags::EXCL | oflags::TRUNC) != 0 {
            return Err(Errno::Inval);
        }
        let d = if follow {
            dir.open_dir(&path)?
        } else {
            dir.open_dir_nofollow(&path)?
        };
        directory(d)
    } else {
        let append = fdflags & fdflags::APPEND != 0;
        let read = rights_base & (rights::FD_READ | rights::FD_READDIR) != 0;
        let write = rights_base & rights::WRITE != 0
            || oflags & (oflags::CREAT | oflags::TRUNC) != 0
            || append;
        let mut opts = cap_std::fs::OpenOptions::new();
        opts.read(read || !write);
        if append {
            opts.append(true);
        } else if write {
            opts.write(true);
        }
        if oflags & oflags::CREAT != 0 {
            if oflags & oflags::EXCL != 0 {
                opts.create_new(true);
            } else {
                opts.create(true);
            }
        }
        // std refuses to truncate in append mode; that is done after opening instead.
        let truncate = oflags & oflags::TRUNC != 0;
        opts.truncate(truncate && !append);
        opts.follow(if follow {
            FollowSymlinks::Yes
        } else {
            FollowSymlinks::No
        });
        opts.maybe_dir(!write);
        opts.dsync(fdflags & fdflags::DSYNC != 0);
        opts.rsync(fdflags & fdflags::RSYNC != 0);
        opts.sync(fdflags & fdflags::SYNC != 0);
        opts.nonblock(fdflags & fdflags::NONBLOCK != 0);
        let file = dir.open_with(&path, &opts)?.into_std();
        if truncate && append {
            file.set_len(0)?;
        }
        if file.metadata()?.is_dir() {
            directory(cap_std::fs::Dir::from_std_file(file))
        } else {
            Kind::File(OpenFile { file })
        }
    };
    let (base_mask, inheriting_mask) = match kind {
        Kind::Dir(_) => (rights::DIRECTORY, rights::ALL),
        _ => (rights::FILE, rights::FILE),
    };
    let fd = cx.ctx.fds.insert(Descriptor {
        kind,
        rights_base: rights_base & base_mask,
        rights_inheriting: rights_inheriting & inheriting_mask,
    })?;
    cx.mem.write_u32(out, fd)
}

fn directory(dir: cap_std::fs::Dir) -> Kind {
    Kind::Dir(OpenDir {
        dir,
        preopen: None,
        listing: None,
    })
}

/// `path_readlink(fd, path: string, buf: *u8, buf_len: size) -> (errno, size)`: the contents,
/// cut to `buf_len` bytes. Links to absolute paths cannot be read (`EPERM`).
pub(crate) fn path_readlink(cx: &mut Call<'_>) -> WasiResult<()> {
    let path = cx.path(1)?;
    let (buf, len, out) = (cx.u32(3), cx.u32(4), cx.u32(5));
    cx.mem.check(out, 4, 4)?;
    cx.mem.bytes(buf, len)?;
    let target = cx.ctx.fds.dir(cx.u32(0))?.dir.read_link(path)?;
    let bytes = target.into_os_string().into_vec();
    let n = bytes.len().min(len as usize);
    cx.mem.write_bytes(buf, &bytes[..n])?;
    cx.mem.write_u32(out, n as u32)
}

/// `path_remove_directory(fd, path: string) -> errno`
pub(crate) fn path_remove_directory(cx: &mut Call<'_>) -> WasiResult<()> {
    let path = cx.path(1)?;
    Ok(cx.ctx.fds.dir(cx.u32(0))?.dir.remove_dir(path)?)
}

/// `path_rename(fd, old_path: string, new_fd, new_path: string) -> errno`
pub(crate) fn path_rename(cx: &mut Call<'_>) -> WasiResult<()> {
    let old = cx.path(1)?;
    let new = cx.path(4)?;
    let old_dir = &cx.ctx.fds.dir(cx.u32(0))?.dir;
    let new_dir = &cx.ctx.fds.dir(cx.u32(3))?.dir;
    Ok(old_dir.rename(old, new_dir, new)?)
}

/// `path_symlink(old_path: string, fd, new_path: string) -> errno`: the link's target must be
/// relative (`EPERM` otherwise); it is resolved inside the sandbox when followed.
pub(crate) fn path_symlink(cx: &mut Call<'_>) -> WasiResult<()> {
    let target = cx.path(0)?;
    let link = cx.path(3)?;
    Ok(cx.ctx.fds.dir(cx.u32(2))?.dir.symlink(target, link)?)
}

/// `path_unlink_file(fd, path: string) -> errno`
pub(crate) fn path_unlink_file(cx: &mut Call<'_>) -> WasiResult<()> {
    let path = cx.path(1)?;
    Ok(cx.ctx.fds.dir(cx.u32(0))?.dir.remove_file(path)?)
}
