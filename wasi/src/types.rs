//! Constants, flags and struct layouts of `wasi_snapshot_preview1`, exactly as the witx defines
//! them. Sizes and offsets are those of the wasm32 ABI (little-endian, natural alignment).

/// `filetype`: a file's type.
pub mod filetype {
    /// The type of the file descriptor or file is unknown or is different from any of the others.
    pub const UNKNOWN: u8 = 0;
    /// A block device inode.
    pub const BLOCK_DEVICE: u8 = 1;
    /// A character device inode.
    pub const CHARACTER_DEVICE: u8 = 2;
    /// A directory inode.
    pub const DIRECTORY: u8 = 3;
    /// A regular file inode.
    pub const REGULAR_FILE: u8 = 4;
    /// A datagram socket.
    pub const SOCKET_DGRAM: u8 = 5;
    /// A byte-stream socket.
    pub const SOCKET_STREAM: u8 = 6;
    /// A symbolic link inode.
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// `fdflags`: file descriptor flags (`u16`).
pub mod fdflags {
    /// Append mode: data written to the file is always appended to the file's end.
    pub const APPEND: u16 = 1 << 0;
    /// Write according to synchronized I/O data integrity completion.
    pub const DSYNC: u16 = 1 << 1;
    /// Non-blocking mode.
    pub const NONBLOCK: u16 = 1 << 2;
    /// Synchronized read I/O operations.
    pub const RSYNC: u16 = 1 << 3;
    /// Write according to synchronized I/O file integrity completion.
    pub const SYNC: u16 = 1 << 4;
    /// Every defined flag.
    pub const ALL: u16 = APPEND | DSYNC | NONBLOCK | RSYNC | SYNC;
}

/// `oflags`: open flags of `path_open` (`u16`).
pub mod oflags {
    /// Create the file if it does not exist.
    pub const CREAT: u16 = 1 << 0;
    /// Fail if the path is not a directory.
    pub const DIRECTORY: u16 = 1 << 1;
    /// Fail if the file already exists.
    pub const EXCL: u16 = 1 << 2;
    /// Truncate the file to size 0.
    pub const TRUNC: u16 = 1 << 3;
    /// Every defined flag.
    pub const ALL: u16 = CREAT | DIRECTORY | EXCL | TRUNC;
}

/// `lookupflags` (`u32`).
pub mod lookupflags {
    /// Follow a symbolic link in the last path component.
    pub const SYMLINK_FOLLOW: u32 = 1 << 0;
}

/// `fstflags`: which timestamps `*_filestat_set_times` changes (`u16`).
pub mod fstflags {
    /// Set the access time to the given value.
    pub const ATIM: u16 = 1 << 0;
    /// Set the access time to the current time.
    pub const ATIM_NOW: u16 = 1 << 1;
    /// Set the modification time to the given value.
    pub const MTIM: u16 = 1 << 2;
    /// Set the modification time to the current time.
    pub const MTIM_NOW: u16 = 1 << 3;
    /// Every defined flag.
    pub const ALL: u16 = ATIM | ATIM_NOW | MTIM | MTIM_NOW;
}

/// `rights` (`u64`).
pub mod rights {
    #![allow(
        missing_docs,
        reason = "the names are the witx names, documented by the WASI spec"
    )]
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    pub const SOCK_SHUTDOWN: u64 = 1 << 28;
    pub const SOCK_ACCEPT: u64 = 1 << 29;

    /// Every right.
    pub const ALL: u64 = (1 << 30) - 1;

    /// The rights that make sense on a regular file.
    pub const FILE: u64 = FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;

    /// The rights that need the file to be open for writing.
    pub const WRITE: u64 = FD_WRITE | FD_ALLOCATE | FD_FILESTAT_SET_SIZE;

    /// The rights that make sense on a directory.
    pub const DIRECTORY: u64 = FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_DATASYNC
        | FD_ADVISE
        | PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE;

    /// The rights of a readable stream (standard input).
    pub const READ_STREAM: u64 =
        FD_READ | FD_FDSTAT_SET_FLAGS | FD_FILESTAT_GET | POLL_FD_READWRITE;

    /// The rights of a writable stream (standard output and error).
    pub const WRITE_STREAM: u64 =
        FD_WRITE | FD_FDSTAT_SET_FLAGS | FD_FILESTAT_GET | POLL_FD_READWRITE;
}

/// `whence` of `fd_seek` (`u8`).
pub mod whence {
    /// From the start of the file.
    pub const SET: u8 = 0;
    /// From the current offset.
    pub const CUR: u8 = 1;
    /// From the end of the file.
    pub const END: u8 = 2;
}

/// `clockid` (`u32`).
pub mod clockid {
    /// The clock measuring real time.
    pub const REALTIME: u32 = 0;
    /// The store-wide monotonic clock.
    pub const MONOTONIC: u32 = 1;
    /// The CPU-time clock of the current process.
    pub const PROCESS_CPUTIME_ID: u32 = 2;
    /// The CPU-time clock of the current thread.
    pub const THREAD_CPUTIME_ID: u32 = 3;
}

/// `advice` of `fd_advise` (`u8`).
pub mod advice {
    #![allow(
        missing_docs,
        reason = "the names are the witx names, documented by the WASI spec"
    )]
    pub const NORMAL: u8 = 0;
    pub const SEQUENTIAL: u8 = 1;
    pub const RANDOM: u8 = 2;
    pub const WILLNEED: u8 = 3;
    pub const DONTNEED: u8 = 4;
    pub const NOREUSE: u8 = 5;
}

/// `eventtype` (`u8`): the tag of a subscription and of an event.
pub mod eventtype {
    /// A clock's timeout expired.
    pub const CLOCK: u8 = 0;
    /// A file descriptor has data to read.
    pub const FD_READ: u8 = 1;
    /// A file descriptor can be written to.
    pub const FD_WRITE: u8 = 2;
}

/// `subclockflags` (`u16`).
pub mod subclockflags {
    /// The timeout is an absolute time of the clock, not a duration.
    pub const ABSTIME: u16 = 1 << 0;
}

/// `eventrwflags` (`u16`).
pub mod eventrwflags {
    /// The peer of this socket or pipe has closed or disconnected.
    pub const HANGUP: u16 = 1 << 0;
}

/// `preopentype` (`u8`).
pub mod preopentype {
    /// A pre-opened directory.
    pub const DIR: u8 = 0;
}

/// Sizes and alignments of the witx structs.
pub mod layout {
    /// `iovec` / `ciovec`: `buf: u32` at 0, `buf_len: u32` at 4.
    pub const IOVEC_SIZE: u32 = 8;
    /// `fdstat`: filetype u8 at 0, flags u16 at 2, rights_base u64 at 8, rights_inheriting at 16.
    pub const FDSTAT_SIZE: u32 = 24;
    /// `filestat`: dev, ino, filetype (u8 at 16), nlink, size, atim, mtim, ctim.
    pub const FILESTAT_SIZE: u32 = 64;
    /// `prestat`: tag u8 at 0, `pr_name_len: u32` at 4.
    pub const PRESTAT_SIZE: u32 = 8;
    /// `dirent` header; the name follows it.
    pub const DIRENT_SIZE: u32 = 24;
    /// `subscription`: userdata u64 at 0, tag u8 at 8, union contents at 16.
    pub const SUBSCRIPTION_SIZE: u32 = 48;
    /// `event`: userdata at 0, error u16 at 8, type u8 at 10, fd_readwrite at 16.
    pub const EVENT_SIZE: u32 = 32;
}

/// `filestat`: what `fd_filestat_get` and `path_filestat_get` return.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filestat {
    /// Device ID of the device containing the file.
    pub dev: u64,
    /// File serial number.
    pub ino: u64,
    /// File type ([`filetype`]).
    pub filetype: u8,
    /// Number of hard links.
    pub nlink: u64,
    /// Size in bytes.
    pub size: u64,
    /// Last access, in nanoseconds since the epoch.
    pub atim: u64,
    /// Last modification.
    pub mtim: u64,
    /// Last status change.
    pub ctim: u64,
}

impl Filestat {
    /// The 64-byte guest representation.
    pub fn to_bytes(&self) -> [u8; layout::FILESTAT_SIZE as usize] {
        let mut b = [0u8; layout::FILESTAT_SIZE as usize];
        b[0..8].copy_from_slice(&self.dev.to_le_bytes());
        b[8..16].copy_from_slice(&self.ino.to_le_bytes());
        b[16] = self.filetype;
        b[24..32].copy_from_slice(&self.nlink.to_le_bytes());
        b[32..40].copy_from_slice(&self.size.to_le_bytes());
        b[40..48].copy_from_slice(&self.atim.to_le_bytes());
        b[48..56].copy_from_slice(&self.mtim.to_le_bytes());
        b[56..64].copy_from_slice(&self.ctim.to_le_bytes());
        b
    }
}

/// `fdstat`: what `fd_fdstat_get` returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fdstat {
    /// File type ([`filetype`]).
    pub filetype: u8,
    /// Descriptor flags ([`fdflags`]).
    pub flags: u16,
    /// Rights of the descriptor ([`rights`]).
    pub rights_base: u64,
    /// Rights that descriptors opened through this one may have.
    pub rights_inheriting: u64,
}

impl Fdstat {
    /// The 24-byte guest representation.
    pub fn to_bytes(&self) -> [u8; layout::FDSTAT_SIZE as usize] {
        let mut b = [0u8; layout::FDSTAT_SIZE as usize];
        b[0] = self.filetype;
        b[2..4].copy_from_slice(&self.flags.to_le_bytes());
        b[8..16].copy_from_slice(&self.rights_base.to_le_bytes());
        b[16..24].copy_from_slice(&self.rights_inheriting.to_le_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filestat_layout() {
        let st = Filestat {
            dev: 1,
            ino: 2,
            filetype: filetype::REGULAR_FILE,
            nlink: 3,
            size: 4,
            atim: 5,
            mtim: 6,
            ctim: 7,
        };
        let b = st.to_bytes();
        assert_eq!(b.len(), 64);
        assert_eq!(b[16], 4);
        assert_eq!(&b[17..24], &[0; 7]);
        assert_eq!(u64::from_le_bytes(b[56..64].try_into().unwrap()), 7);
    }

    #[test]
    fn fdstat_layout() {
        let st = Fdstat {
            filetype: filetype::DIRECTORY,
            flags: fdflags::APPEND | fdflags::SYNC,
            rights_base: rights::ALL,
            rights_inheriting: 5,
        };
        let b = st.to_bytes();
        assert_eq!(b.len(), 24);
        assert_eq!(b[0], 3);
        assert_eq!(b[1], 0);
        assert_eq!(u16::from_le_bytes([b[2], b[3]]), 0x11);
        assert_eq!(
            u64::from_le_bytes(b[8..16].try_into().unwrap()),
            (1 << 30) - 1
        );
        assert_eq!(u64::from_le_bytes(b[16..24].try_into().unwrap()), 5);
    }
}
