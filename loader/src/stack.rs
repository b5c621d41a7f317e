//! The stack budget of guest code, from the real bounds of the calling thread's stack: at most
//! `max_wasm_stack` below the host's entry frame, and never so deep that the host frames a guest
//! may call (host functions, builtins) run out of stack.

use std::cell::Cell;

/// Stack kept free below the guest's limit for host frames the guest calls into.
const HOST_RESERVE: usize = 128 * 1024;

thread_local! {
    /// The lowest usable address of this thread's stack, found once (0: unknown).
    static STACK_LOW: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The lowest usable address of the current thread's stack, if the system says.
fn stack_low() -> Option<usize> {
    STACK_LOW.with(|c| {
        if let Some(low) = c.get() {
            return (low != 0).then_some(low);
        }
        let low = query_stack_low().unwrap_or(0);
        c.set(Some(low));
        (low != 0).then_some(low)
    })
}

#[cfg(target_os = "linux")]
fn query_stack_low() -> Option<usize> {
    // SAFETY: `attr` is initialized by `pthread_getattr_np` before it is read, and destroyed
    // once; the out-pointers are valid locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let mut guard: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0
            && libc::pthread_attr_getguardsize(&attr, &mut guard) == 0;
        libc::pthread_attr_destroy(&mut attr);
        // The guard pages (if glibc counts them in the stack) are not usable.
        ok.then(|| addr as usize + guard)
    }
}

#[cfg(not(target_os = "linux"))]
fn query_stack_low() -> Option<usize> {
    None
}

/// The stack limit for guest code entered from a frame at `here`, with a budget of `max_stack`
/// bytes.
pub(crate) fn guest_stack_limit(here: usize, max_stack: usize) -> usize {
    let budget = here.saturating_sub(max_stack);
    match stack_low() {
        Some(low) => budget.max(low.saturating_add(HOST_RESERVE)),
        None => budget,
    }
}
