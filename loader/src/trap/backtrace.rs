//! Wasm backtraces: the frame-pointer walk the trap handler makes over guest frames, and the
//! mapping of each address to a function and a wasm offset through the artifact's function table
//! and address map (SPEC.md §7).

use crate::artifact::Artifact;
use crate::signals::{in_guest_code, Activation, TrapSite, MAX_FRAMES};
use crate::trap::Frame;

/// Walks the frame-pointer chain from `fp` while return addresses stay in guest code. Every guest
/// function and trampoline keeps a frame pointer, so each guest frame is `[saved fp, return
/// address]` at `fp`; the walk stops at the first return address outside guest code (the entry
/// trampoline's return into the host) before following any host frame pointer.
pub(crate) fn walk_frames(
    act: &Activation,
    mut fp: usize,
    frames: &mut [usize; MAX_FRAMES],
) -> usize {
    let mut n = 0;
    while n < MAX_FRAMES && fp != 0 && fp.is_multiple_of(std::mem::align_of::<usize>()) {
        // SAFETY: `fp` is the frame pointer of a guest frame (the faulting function's, or one
        // reached through guest frames), which is on this thread's stack and intact: the handler
        // runs on the alternate stack.
        let (saved_fp, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        if !in_guest_code(act, ret) {
            break;
        }
        frames[n] = ret;
        n += 1;
        fp = saved_fp;
    }
    n
}

/// The frames of a trap, innermost first.
pub(crate) fn frames(artifacts: &[Artifact], site: &TrapSite) -> Vec<Frame> {
    // The faulting PC is the instruction itself; a return address points after the call.
    let returns = site.frames[..site.nframes].iter().map(|r| r - 1);
    std::iter::once(site.pc)
        .chain(returns)
        .filter_map(|pc| frame_at(artifacts, pc))
        .collect()
}

/// Describes the guest code at `pc`.
fn frame_at(artifacts: &[Artifact], pc: usize) -> Option<Frame> {
    let a = artifacts.iter().find(|a| a.code().contains(&pc))?;
    let view = a.validated_view()?;
    let offset = (pc - a.code().start) as u32;
    Some(match view.function_at(offset) {
        Some((index, _)) => Frame {
            func_index: Some(index),
            func_name: view.func_name(index),
            wasm_offset: view.wasm_offset_at(offset),
        },
        None => Frame {
            func_index: None,
            func_name: "<trampoline>".into(),
            wasm_offset: None,
        },
    })
}

impl Artifact {
    /// The guest function containing code address `addr`, as `(index, name)`: for symbolizing
    /// native backtraces and profiles. `None` also for an artifact not yet validated.
    pub fn symbolize(&self, addr: usize) -> Option<(u32, String)> {
        let code = self.code();
        if !code.contains(&addr) {
            return None;
        }
        let view = self.validated_view()?;
        let (index, _) = view.function_at((addr - code.start) as u32)?;
        Some((index, view.func_name(index)))
    }
}
