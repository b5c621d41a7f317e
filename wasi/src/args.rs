//! `args_*` and `environ_*`: NUL-terminated strings and an array of pointers to them.

use crate::errno::{Errno, WasiResult};
use crate::memory::GuestMemory;
use crate::Call;

/// Writes the sizes of `list`: the count at `count_ptr`, the bytes with NULs at `size_ptr`.
fn sizes_get(
    mem: &mut GuestMemory<'_>,
    list: &[String],
    count_ptr: u32,
    size_ptr: u32,
) -> WasiResult<()> {
    let size: usize = list.iter().map(|s| s.len() + 1).sum();
    let count = u32::try_from(list.len()).map_err(|_| Errno::Overflow)?;
    let size = u32::try_from(size).map_err(|_| Errno::Overflow)?;
    mem.check(count_ptr, 4, 4)?;
    mem.check(size_ptr, 4, 4)?;
    mem.write_u32(count_ptr, count)?;
    mem.write_u32(size_ptr, size)
}

/// Copies `list` to `buf` and pointers to each string to the array at `ptrs`.
fn get(mem: &mut GuestMemory<'_>, list: &[String], ptrs: u32, buf: u32) -> WasiResult<()> {
    let size: u64 = list.iter().map(|s| s.len() as u64 + 1).sum();
    mem.check_array(ptrs, list.len() as u32, 4, 4)?;
    mem.check(buf, size, 1)?;
    let mut at = buf;
    for (i, s) in list.iter().enumerate() {
        mem.write_u32(ptrs + 4 * i as u32, at)?;
        mem.write_bytes(at, s.as_bytes())?;
        mem.write_bytes(at + s.len() as u32, &[0])?;
        at += s.len() as u32 + 1;
    }
    Ok(())
}

/// `args_get(argv: **u8, argv_buf: *u8) -> errno`
pub(crate) fn args_get(cx: &mut Call<'_>) -> WasiResult<()> {
    let (ptrs, buf) = (cx.u32(0), cx.u32(1));
    get(&mut cx.mem, &cx.ctx.args, ptrs, buf)
}

/// `args_sizes_get() -> (errno, size, size)`
pub(crate) fn args_sizes_get(cx: &mut Call<'_>) -> WasiResult<()> {
    let (count, size) = (cx.u32(0), cx.u32(1));
    sizes_get(&mut cx.mem, &cx.ctx.args, count, size)
}

/// `environ_get(environ: **u8, environ_buf: *u8) -> errno`
pub(crate) fn environ_get(cx: &mut Call<'_>) -> WasiResult<()> {
    let (ptrs, buf) = (cx.u32(0), cx.u32(1));
    get(&mut cx.mem, &cx.ctx.env, ptrs, buf)
}

/// `environ_sizes_get() -> (errno, size, size)`
pub(crate) fn environ_sizes_get(cx: &mut Call<'_>) -> WasiResult<()> {
    let (count, size) = (cx.u32(0), cx.u32(1));
    sizes_get(&mut cx.mem, &cx.ctx.env, count, size)
}
