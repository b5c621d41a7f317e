//! `random_get`: bytes from the host's cryptographically secure generator.

use crate::errno::{Errno, WasiResult};
use crate::Call;

/// `random_get(buf: *u8, buf_len: size) -> errno`
pub(crate) fn random_get(cx: &mut Call<'_>) -> WasiResult<()> {
    let (ptr, len) = (cx.u32(0), cx.u32(1));
    let buf = cx.mem.bytes_mut(ptr, len)?;
    getrandom::fill(buf).map_err(|_| Errno::Io)
}
