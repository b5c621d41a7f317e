//! The unwinder: finds the handler of a thrown exception by walking guest frames and resumes at
//! its landing pad, or leaves the guest call as a trap does.
//!
//! The three exception builtins enter through C shims (`csrc/throw.c`) that pass their own frame
//! address, so the walk starts at a known frame record `[saved fp, return address]`: that of the
//! shim, whose return address is in the guest function that threw. For each frame whose return
//! address is in guest code, the artifact's `CallSites` table (binary search, read in place) says
//! whether the call has handlers; if so, the calling function's SP at the call is its FP minus
//! the site's frame offset, its VMContext is saved at the site's offset from that SP, and each
//! handler matches when it is a catch-all or names (in the catching instance) the exception's
//! tag. The first match wins: the resume stub sets SP, FP and the payload register (the exception
//! object's address, Cranelift's exception payload 0) and jumps to the landing pad. Cranelift
//! treats every register as clobbered across a `try_call`, so nothing else is restored.
//!
//! The walk stops at the first return address outside guest code (the entry trampoline's return
//! into `kiln_guest_call`): the exception then leaves the activation through its jump buffer,
//! exactly as a trap does, and the call returns it as [`crate::Error::Exception`]. Only guest
//! frames (which own nothing) and the builtin's own frames (which hold nothing to drop when the
//! jump happens) are abandoned.

use crate::builtins::BuiltinCx;
use crate::signals::{self, Activation};
use kiln_format::builtins::{STATUS_HOST_ERROR, STATUS_TRAP};
use kiln_format::tables::{CATCH_ALL, HANDLER_REF};
use kiln_format::vmctx::VMContext;

unsafe extern "C" {
    fn kiln_guest_longjmp(buf: *mut libc::c_void) -> !;
}

/// Frames walked at most: a guard against a corrupt chain (guest stacks are far shallower than
/// this many frames within the stack budget).
const MAX_WALK: usize = 1 << 24;

/// What the builtin's caller asked for.
#[derive(Clone, Copy)]
#[repr(u32)]
enum ThrowOp {
    /// `throw`: `a` is the module's tag index, `b` the payload slots' address.
    Throw = 0,
    /// `throw_ref`: `a` is the `exnref`.
    ThrowRef = 1,
    /// A host function's exception, kept by the activation.
    Pending = 2,
}

/// Where the throw goes.
enum Action {
    /// Resume at a landing pad.
    Resume {
        pc: usize,
        sp: usize,
        fp: usize,
        payload: usize,
    },
    /// Leave the guest call through this jump buffer.
    Leave(*mut libc::c_void),
    /// Return this status to the builtin's caller, which traps.
    Fail(u32),
}

/// The body of the three exception builtins, called by their C shims.
///
/// # Safety
/// Called only by the shims in `csrc/throw.c`, on behalf of generated code: `vmctx` is the
/// calling instance's VMContext and `frame` the shim's frame record, whose chain leads through
/// the guest frames of the innermost activation.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn kiln_throw_from(
    vmctx: *mut VMContext,
    op: u32,
    a: u64,
    b: u64,
    frame: usize,
) -> u32 {
    // SAFETY: per the contract (`BuiltinCx::enter`'s).
    let action = unsafe { find_action(vmctx, op, a, b, frame) };
    // Nothing with a destructor is live from here on: the jumps below abandon this frame.
    match action {
        Action::Fail(status) => status,
        // SAFETY: the buffer belongs to the `kiln_guest_call` frame of the innermost activation,
        // still on this stack; only guest frames and this builtin's lie between.
        Action::Leave(jmp) => unsafe { kiln_guest_longjmp(jmp) },
        Action::Resume {
            pc,
            sp,
            fp,
            payload,
        } => {
            // SAFETY: `find_action` found a landing pad of a live guest frame below this one on
            // this stack, with the SP and FP Cranelift expects there.
            unsafe { resume(pc, sp, fp, payload) }
        }
    }
}

/// Finds the exception and where it goes.
///
/// # Safety
/// As for [`kiln_throw_from`].
unsafe fn find_action(vmctx: *mut VMContext, op: u32, a: u64, b: u64, frame: usize) -> Action {
    // SAFETY: per the contract.
    let mut cx = unsafe { BuiltinCx::enter(vmctx) };
    let exn = match op {
        x if x == ThrowOp::Throw as u32 => {
            let inst = &cx.store.opaque().instances[cx.instance as usize];
            let Some(&tag) = inst.tags.get(a as usize) else {
                return Action::Fail(STATUS_TRAP);
            };
            let n = cx.store.opaque().tags[tag as usize].ty.params().len();
            let payload = if n == 0 {
                &[][..]
            } else {
                // SAFETY: generated code passes `n` value slots of its stack (the tag's
                // parameter count) at `b`, 16-aligned.
                unsafe { std::slice::from_raw_parts(b as usize as *const u128, n) }
            };
            match cx.store.opaque_mut().exns.alloc(tag, payload) {
                Some(index) => index,
                None => {
                    cx.act().fail(std::ptr::null(), super::limit_error().into());
                    return Action::Fail(STATUS_HOST_ERROR);
                }
            }
        }
        x if x == ThrowOp::ThrowRef as u32 => match cx.store.opaque().exns.index_of(a) {
            Some(index) => index,
            None => return Action::Fail(STATUS_TRAP),
        },
        x if x == ThrowOp::Pending as u32 => match cx.act().take_pending_exception() {
            Some(index) => index,
            None => return Action::Fail(STATUS_HOST_ERROR),
        },
        _ => return Action::Fail(STATUS_HOST_ERROR),
    };
    let act = cx.act();
    match walk(&mut cx, act, exn, frame) {
        Some(action) => action,
        None => {
            act.set_exception(exn);
            match act.jmp_buf.get() {
                jmp if jmp.is_null() => Action::Fail(STATUS_HOST_ERROR),
                jmp => Action::Leave(jmp),
            }
        }
    }
}

/// Walks the guest frames above `frame` for a handler of exception object `exn`.
fn walk(cx: &mut BuiltinCx<'_>, act: &Activation, exn: u32, mut fp: usize) -> Option<Action> {
    let store = cx.store.opaque_mut();
    let exn_tag = store.exns.tag(exn);
    for _ in 0..MAX_WALK {
        if fp == 0 || !fp.is_multiple_of(align_of::<usize>()) {
            return None;
        }
        // SAFETY: `fp` is the shim's frame record or, after that, the saved frame pointer of
        // a guest frame (every guest function keeps one): a record on this thread's stack,
        // below the activation's entry frame.
        let (saved_fp, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        if !signals::in_guest_code(act, ret) {
            return None;
        }
        fp = saved_fp;
        let artifact = signals::artifacts(act)
            .iter()
            .find(|a| a.code().contains(&ret))?;
        let code = artifact.code();
        let Some(view) = artifact.validated_view() else {
            continue;
        };
        let Some((site, handlers)) = view.call_site_at((ret - code.start) as u32) else {
            continue;
        };
        let frame_offset = site.frame_offset.get() as usize;
        let ctx_offset = site.vmctx_sp_offset.get() as usize;
        let Some(sp) = saved_fp.checked_sub(frame_offset) else {
            continue;
        };
        if ctx_offset
            .checked_add(8)
            .is_none_or(|end| end > frame_offset)
        {
            continue;
        }
        // SAFETY: the slot lies inside the catching frame (checked just above), between its
        // SP at the call and its frame record, where Cranelift saved the VMContext.
        let catch_vmctx = unsafe { *((sp + ctx_offset) as *const *mut VMContext) };
        // Why a search: the slot is only trusted once it is known to be one of this store's
        // instances.
        let Some(catcher) = store
            .instances
            .iter()
            .position(|i| i.vmctx().as_ptr() == catch_vmctx)
        else {
            continue;
        };
        let tags = &store.instances[catcher].tags;
        let found = handlers.iter().find(|h| {
            let tag = h.tag.get();
            tag == CATCH_ALL || tags.get(tag as usize) == Some(&exn_tag)
        });
        if let Some(h) = found {
            let landing = h.landing_offset.get() as usize;
            if landing >= code.len() {
                return None;
            }
            if h.flags & HANDLER_REF != 0 {
                store.exns.mark_escaped(exn);
            } else {
                store.exns.caught_without_ref(exn);
            }
            return Some(Action::Resume {
                pc: code.start + landing,
                sp,
                fp: saved_fp,
                payload: store.exns.address(exn) as usize,
            });
        }
    }
    None
}

/// Jumps to a landing pad with `sp` and `fp` restored and `payload` in the first exception
/// payload register.
///
/// # Safety
/// `pc` must be a landing pad of the guest frame whose frame pointer is `fp` and whose stack
/// pointer at the call was `sp`, on this thread's stack below the current frame.
#[cfg(target_arch = "x86_64")]
unsafe fn resume(pc: usize, sp: usize, fp: usize, payload: usize) -> ! {
    // SAFETY: per the contract; Cranelift expects payload 0 in rax and no other register.
    unsafe {
        std::arch::asm!(
            "mov rsp, rdi",
            "mov rbp, rsi",
            "jmp rcx",
            in("rdi") sp,
            in("rsi") fp,
            in("rcx") pc,
            in("rax") payload,
            options(noreturn, nostack),
        )
    }
}

/// As the x86-64 version; payload 0 is in x0.
///
/// # Safety
/// As the x86-64 version.
#[cfg(target_arch = "aarch64")]
unsafe fn resume(pc: usize, sp: usize, fp: usize, payload: usize) -> ! {
    // SAFETY: per the contract.
    unsafe {
        std::arch::asm!(
            "mov sp, x1",
            "mov x29, x2",
            "br x3",
            in("x1") sp,
            in("x2") fp,
            in("x3") pc,
            in("x0") payload,
            options(noreturn, nostack),
        )
    }
}

/// Other hosts have no resume stub: an exception always leaves the guest call.
///
/// # Safety
/// None needed.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn resume(_pc: usize, _sp: usize, _fp: usize, _payload: usize) -> ! {
    eprintln!("kiln: exception handling is not supported on this host architecture");
    std::process::abort()
}
