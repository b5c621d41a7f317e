//! `sock_*`: a WASI program gets no sockets here, so these fail: `EBADF` for a descriptor that is
//! not open, `ENOTSOCK` for one that is open but (like every descriptor here) not a socket.

use crate::errno::{Errno, WasiResult};
use crate::Call;

fn not_a_socket(cx: &Call<'_>) -> WasiResult<()> {
    cx.ctx.fds.get(cx.u32(0))?;
    Err(Errno::Notsock)
}

/// `sock_accept(fd, flags: fdflags) -> (errno, fd)`
pub(crate) fn sock_accept(cx: &mut Call<'_>) -> WasiResult<()> {
    not_a_socket(cx)
}

/// `sock_recv(fd, ri_data: iovec_array, ri_flags) -> (errno, size, roflags)`
pub(crate) fn sock_recv(cx: &mut Call<'_>) -> WasiResult<()> {
    not_a_socket(cx)
}

/// `sock_send(fd, si_data: ciovec_array, si_flags) -> (errno, size)`
pub(crate) fn sock_send(cx: &mut Call<'_>) -> WasiResult<()> {
    not_a_socket(cx)
}

/// `sock_shutdown(fd, how: sdflags) -> errno`
pub(crate) fn sock_shutdown(cx: &mut Call<'_>) -> WasiResult<()> {
    not_a_socket(cx)
}
