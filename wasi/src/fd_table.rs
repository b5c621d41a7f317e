//! The descriptor table: what each guest file descriptor refers to.

use crate::errno::{Errno, WasiResult};
use crate::stdio::Stream;
use std::collections::BTreeMap;

/// An open regular file (or any non-directory a path led to).
pub(crate) struct OpenFile {
    pub file: std::fs::File,
}

/// An open directory: a capability for everything beneath it.
pub(crate) struct OpenDir {
    pub dir: cap_std::fs::Dir,
    /// The name the guest sees, for a preopened directory.
    pub preopen: Option<String>,
    /// The listing `fd_readdir` serves cookies from; refreshed when a listing starts over.
    pub listing: Option<Vec<DirItem>>,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DirItem {
    pub name: Vec<u8>,
    pub ino: u64,
    pub filetype: u8,
}

/// What a descriptor refers to.
pub(crate) enum Kind {
    Stream(Stream),
    File(OpenFile),
    Dir(OpenDir),
}

/// A descriptor: what it refers to and its rights.
pub(crate) struct Descriptor {
    pub kind: Kind,
    pub rights_base: u64,
    pub rights_inheriting: u64,
}

/// Guest file descriptors.
#[derive(Default)]
pub(crate) struct FdTable {
    map: BTreeMap<u32, Descriptor>,
}

impl FdTable {
    /// The descriptor `fd` (`EBADF` if it is not open).
    pub fn get(&self, fd: u32) -> WasiResult<&Descriptor> {
        self.map.get(&fd).ok_or(Errno::Badf)
    }

    /// The descriptor `fd`, mutably.
    pub fn get_mut(&mut self, fd: u32) -> WasiResult<&mut Descriptor> {
        self.map.get_mut(&fd).ok_or(Errno::Badf)
    }

    /// The directory `fd` (`ENOTDIR` if it is open but not a directory).
    pub fn dir(&self, fd: u32) -> WasiResult<&OpenDir> {
        match &self.get(fd)?.kind {
            Kind::Dir(d) => Ok(d),
            _ => Err(Errno::Notdir),
        }
    }

    /// Adds `d` at the lowest free descriptor number.
    pub fn insert(&mut self, d: Descriptor) -> WasiResult<u32> {
        let mut fd = 0u32;
        for &used in self.map.keys() {
            if used != fd {
                break;
            }
            fd = fd.checked_add(1).ok_or(Errno::Mfile)?;
        }
        self.map.insert(fd, d);
        Ok(fd)
    }

    /// Adds `d` as descriptor `fd`, replacing any descriptor there.
    pub fn insert_at(&mut self, fd: u32, d: Descriptor) {
        self.map.insert(fd, d);
    }

    /// Closes `fd`.
    pub fn remove(&mut self, fd: u32) -> WasiResult<Descriptor> {
        self.map.remove(&fd).ok_or(Errno::Badf)
    }

    /// Moves `from` to `to`, closing what `to` referred to. Both must be open.
    pub fn renumber(&mut self, from: u32, to: u32) -> WasiResult<()> {
        if !self.map.contains_key(&to) {
            return Err(Errno::Badf);
        }
        let d = self.remove(from)?;
        self.map.insert(to, d);
        Ok(())
    }

    /// The preopened directories, by descriptor.
    pub fn preopens(&self) -> impl Iterator<Item = (u32, &str)> {
        self.map.iter().filter_map(|(fd, d)| match &d.kind {
            Kind::Dir(OpenDir {
                preopen: Some(name),
                ..
            }) => Some((*fd, name.as_str())),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stdio::{Output, Stream};

    fn stream() -> Descriptor {
        Descriptor {
            kind: Kind::Stream(Stream::output(Output::Discard, false)),
            rights_base: 0,
            rights_inheriting: 0,
        }
    }

    #[test]
    fn lowest_free_numbers_and_renumbering() {
        let mut t = FdTable::default();
        assert_eq!(t.insert(stream()), Ok(0));
        assert_eq!(t.insert(stream()), Ok(1));
        assert_eq!(t.insert(stream()), Ok(2));
        assert!(t.remove(1).is_ok());
        assert_eq!(t.insert(stream()), Ok(1));
        assert_eq!(t.insert(stream()), Ok(3));
        assert!(t.remove(7).is_err());
        assert_eq!(t.renumber(3, 9), Err(Errno::Badf));
        assert_eq!(t.renumber(3, 0), Ok(()));
        assert!(t.get(3).is_err());
        assert!(t.get(0).is_ok());
        assert_eq!(t.insert(stream()), Ok(3));
        assert!(matches!(t.dir(0), Err(Errno::Notdir)));
        assert!(matches!(t.dir(5), Err(Errno::Badf)));
    }
}
