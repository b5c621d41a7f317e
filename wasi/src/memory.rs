//! Guest-memory access: every pointer and length a guest passes is checked against its linear
//! memory before anything is read or written. An access outside the memory is `EFAULT`; a
//! misaligned pointer to a typed value is `EINVAL`, as the witx ABI requires.

use crate::errno::{Errno, WasiResult};
use crate::types::layout::IOVEC_SIZE;
use std::ops::Range;

/// A guest's linear memory during one host call.
pub(crate) struct GuestMemory<'a> {
    data: &'a mut [u8],
}

/// An `iovec` / `ciovec` whose buffer was checked to lie inside the memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IoVec {
    pub ptr: u32,
    pub len: u32,
}

impl<'a> GuestMemory<'a> {
    /// Wraps the bytes of a memory (empty when the guest has none: every access faults).
    pub fn new(data: &'a mut [u8]) -> GuestMemory<'a> {
        GuestMemory { data }
    }

    /// The byte range `[ptr, ptr + len)`, if it lies inside the memory.
    fn range(&self, ptr: u32, len: u64) -> WasiResult<Range<usize>> {
        let start = ptr as u64;
        let end = start.checked_add(len).ok_or(Errno::Fault)?;
        if end > self.data.len() as u64 {
            return Err(Errno::Fault);
        }
        Ok(start as usize..end as usize)
    }

    /// Checks that a `size`-byte value aligned to `align` can live at `ptr`: bounds first
    /// (`EFAULT`), then alignment (`EINVAL`), as Wasmtime's checks do.
    pub fn check(&self, ptr: u32, size: u64, align: u32) -> WasiResult<()> {
        self.range(ptr, size)?;
        if !ptr.is_multiple_of(align) {
            return Err(Errno::Inval);
        }
        Ok(())
    }

    /// Checks an array of `count` elements of `size` bytes aligned to `align` at `ptr`.
    pub fn check_array(&self, ptr: u32, count: u32, size: u32, align: u32) -> WasiResult<()> {
        let total = (count as u64)
            .checked_mul(size as u64)
            .ok_or(Errno::Fault)?;
        self.check(ptr, total, align)
    }

    /// `len` bytes at `ptr`.
    pub fn bytes(&self, ptr: u32, len: u32) -> WasiResult<&[u8]> {
        let r = self.range(ptr, len as u64)?;
        Ok(&self.data[r])
    }

    /// `len` bytes at `ptr`, mutably.
    pub fn bytes_mut(&mut self, ptr: u32, len: u32) -> WasiResult<&mut [u8]> {
        let r = self.range(ptr, len as u64)?;
        Ok(&mut self.data[r])
    }

    /// Copies `bytes` to `ptr`.
    pub fn write_bytes(&mut self, ptr: u32, bytes: &[u8]) -> WasiResult<()> {
        let len = u32::try_from(bytes.len()).map_err(|_| Errno::Fault)?;
        self.bytes_mut(ptr, len)?.copy_from_slice(bytes);
        Ok(())
    }

    /// Copies a struct's representation to `ptr`, which must be aligned to `align`.
    pub fn write_struct(&mut self, ptr: u32, align: u32, bytes: &[u8]) -> WasiResult<()> {
        self.check(ptr, bytes.len() as u64, align)?;
        self.write_bytes(ptr, bytes)
    }

    fn read_array<const N: usize>(&self, ptr: u32) -> WasiResult<[u8; N]> {
        self.check(ptr, N as u64, N as u32)?;
        let r = self.range(ptr, N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.data[r]);
        Ok(out)
    }

    /// A `u8` at `ptr`.
    pub fn read_u8(&self, ptr: u32) -> WasiResult<u8> {
        Ok(self.read_array::<1>(ptr)?[0])
    }

    /// An aligned little-endian `u16` at `ptr`.
    pub fn read_u16(&self, ptr: u32) -> WasiResult<u16> {
        Ok(u16::from_le_bytes(self.read_array(ptr)?))
    }

    /// An aligned little-endian `u32` at `ptr`.
    pub fn read_u32(&self, ptr: u32) -> WasiResult<u32> {
        Ok(u32::from_le_bytes(self.read_array(ptr)?))
    }

    /// An aligned little-endian `u64` at `ptr`.
    pub fn read_u64(&self, ptr: u32) -> WasiResult<u64> {
        Ok(u64::from_le_bytes(self.read_array(ptr)?))
    }

    /// Stores an aligned little-endian `u32` at `ptr`.
    pub fn write_u32(&mut self, ptr: u32, v: u32) -> WasiResult<()> {
        self.write_struct(ptr, 4, &v.to_le_bytes())
    }

    /// Stores an aligned little-endian `u64` at `ptr`.
    pub fn write_u64(&mut self, ptr: u32, v: u64) -> WasiResult<()> {
        self.write_struct(ptr, 8, &v.to_le_bytes())
    }

    /// A UTF-8 string of `len` bytes at `ptr` (`EILSEQ` if it is not UTF-8).
    pub fn str(&self, ptr: u32, len: u32) -> WasiResult<&str> {
        std::str::from_utf8(self.bytes(ptr, len)?).map_err(|_| Errno::Ilseq)
    }

    /// The `count` iovecs at `ptr`, each buffer checked.
    pub fn iovecs(&self, ptr: u32, count: u32) -> WasiResult<Vec<IoVec>> {
        self.check_array(ptr, count, IOVEC_SIZE, 4)?;
        (0..count)
            .map(|i| {
                let at = ptr + i * IOVEC_SIZE;
                let v = IoVec {
                    ptr: self.read_u32(at)?,
                    len: self.read_u32(at + 4)?,
                };
                self.range(v.ptr, v.len as u64)?;
                Ok(v)
            })
            .collect()
    }

    /// Gathers the bytes of `iovs`, at most `limit` of them.
    pub fn gather(&self, iovs: &[IoVec], limit: usize) -> WasiResult<Vec<u8>> {
        let mut out = Vec::new();
        for v in iovs {
            let room = limit - out.len();
            if room == 0 {
                break;
            }
            let b = self.bytes(v.ptr, v.len)?;
            out.extend_from_slice(&b[..b.len().min(room)]);
        }
        Ok(out)
    }

    /// Scatters `bytes` over `iovs`, in order.
    pub fn scatter(&mut self, iovs: &[IoVec], mut bytes: &[u8]) -> WasiResult<()> {
        for v in iovs {
            if bytes.is_empty() {
                break;
            }
            let n = (v.len as usize).min(bytes.len());
            self.bytes_mut(v.ptr, n as u32)?
                .copy_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        Ok(())
    }
}

/// The total length of `iovs`, capped at `limit`.
pub(crate) fn iovecs_len(iovs: &[IoVec], limit: usize) -> usize {
    iovs.iter()
        .fold(0usize, |acc, v| acc.saturating_add(v.len as usize))
        .min(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_alignment() {
        let mut buf = vec![0u8; 64];
        let mut m = GuestMemory::new(&mut buf);
        assert_eq!(m.read_u32(60), Ok(0));
        assert_eq!(m.read_u32(57), Err(Errno::Inval));
        assert_eq!(m.read_u32(61), Err(Errno::Fault));
        assert_eq!(m.read_u32(64), Err(Errno::Fault));
        assert_eq!(m.read_u64(u32::MAX - 7), Err(Errno::Fault));
        assert_eq!(m.bytes(60, 5).err(), Some(Errno::Fault));
        assert_eq!(m.bytes(u32::MAX, u32::MAX).err(), Some(Errno::Fault));
        assert!(m.bytes(64, 0).is_ok());
        m.write_u64(8, 0x0102030405060708).unwrap();
        assert_eq!(m.read_u8(8), Ok(8));
        assert_eq!(m.read_u16(14), Ok(0x0102));
        assert_eq!(m.write_u32(58, 1), Err(Errno::Inval));
        assert_eq!(m.write_u32(62, 1), Err(Errno::Fault));
        assert_eq!(m.write_u32(64, 1), Err(Errno::Fault));
        assert_eq!(m.check_array(0, u32::MAX, u32::MAX, 1), Err(Errno::Fault));
    }

    #[test]
    fn iovecs_are_checked() {
        let mut buf = vec![0u8; 64];
        let mut m = GuestMemory::new(&mut buf);
        // Two iovecs at 0: [32, 4) and [40, 8).
        m.write_u32(0, 32).unwrap();
        m.write_u32(4, 4).unwrap();
        m.write_u32(8, 40).unwrap();
        m.write_u32(12, 8).unwrap();
        let iovs = m.iovecs(0, 2).unwrap();
        assert_eq!(iovecs_len(&iovs, usize::MAX), 12);
        m.scatter(&iovs, b"abcdefghij").unwrap();
        assert_eq!(m.gather(&iovs, 6).unwrap(), b"abcdef");
        assert_eq!(m.gather(&iovs, 100).unwrap(), b"abcdefghij\0\0");
        // A buffer running past the end.
        m.write_u32(12, 100).unwrap();
        assert_eq!(m.iovecs(0, 2), Err(Errno::Fault));
        assert_eq!(m.iovecs(2, 1), Err(Errno::Inval));
        assert_eq!(m.iovecs(60, 1), Err(Errno::Fault));
    }

    #[test]
    fn strings() {
        let mut buf = b"hi\xff".to_vec();
        let m = GuestMemory::new(&mut buf);
        assert_eq!(m.str(0, 2), Ok("hi"));
        assert_eq!(m.str(0, 3), Err(Errno::Ilseq));
        assert_eq!(m.str(2, 5), Err(Errno::Fault));
    }
}
