//! Trap handling without a global registry.
//!
//! Every host→guest call pushes an [`Activation`] on a thread-local chain. A fault handler reads
//! only that chain: if the faulting PC lies in the code of an artifact of the activation's store and
//! the artifact's trap table has an entry for it, the handler records the trap and jumps back to
//! the activation's entry point. Any other fault goes to the handler that was installed before
//! Kiln's. Loading an artifact registers nothing anywhere.

use crate::artifact::Artifact;
use crate::error::BoxError;
use crate::store::VMStore;
use kiln_format::vmctx::VMHostFuncContext;
use kiln_format::TrapKind;
use std::any::TypeId;
use std::cell::{Cell, RefCell};
use std::ptr;
use std::sync::Once;

unsafe extern "C" {
    fn kiln_guest_longjmp(buf: *mut libc::c_void) -> !;
}

/// Guest frames recorded per trap; deeper stacks are cut (the innermost frames are kept).
pub(crate) const MAX_FRAMES: usize = 64;

/// Where a trap happened.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TrapSite {
    pub kind: TrapKind,
    /// Faulting PC.
    pub pc: usize,
    /// Return addresses of the guest frames below the faulting one, innermost first.
    pub frames: [usize; MAX_FRAMES],
    /// Number of valid entries in `frames`.
    pub nframes: usize,
}

/// One host→guest call in progress on this thread.
pub(crate) struct Activation {
    /// Written by the C shim: the jump buffer of this call.
    pub jmp_buf: Cell<*mut libc::c_void>,
    /// Artifacts whose code this call may run (the store's).
    pub artifacts: *const Vec<Artifact>,
    /// The store the call runs in, lent to it exclusively: what builtins and host functions
    /// called by its guest code work on. Derived from the `&mut` the call was made with, so it is
    /// valid exactly as long as the call.
    store: *mut dyn VMStore,
    /// The store's host data type, so host functions check it without a virtual call.
    pub data_type: TypeId,
    /// Set by the signal handler.
    pub trap: Cell<Option<TrapSite>>,
    /// Set by a host function, builtin or callback that failed: the error, and the host
    /// function's context (null for builtins).
    failure: RefCell<Option<(BoxError, *const VMHostFuncContext)>>,
    /// The exception object (of the store's arena) that left this call's guest code.
    exception: Cell<Option<u32>>,
    /// The exception object a host function threw, for its adapter's `throw_pending`.
    pending_exception: Cell<Option<u32>>,
    /// The enclosing activation.
    pub prev: *const Activation,
}

impl Activation {
    /// A new activation for a call into guest code of `store` whose code is in `artifacts`.
    #[inline]
    pub(crate) fn new(
        store: *mut dyn VMStore,
        data_type: TypeId,
        artifacts: *const Vec<Artifact>,
    ) -> Activation {
        Activation {
            jmp_buf: Cell::new(ptr::null_mut()),
            artifacts,
            store,
            data_type,
            trap: Cell::new(None),
            failure: RefCell::new(None),
            exception: Cell::new(None),
            pending_exception: Cell::new(None),
            prev: current(),
        }
    }

    /// The store of the call.
    #[inline]
    pub(crate) fn store(&self) -> *mut dyn VMStore {
        self.store
    }

    /// Records why the host function with context `host` (null for a builtin) failed; the guest
    /// traps next, and the trap carries `error`.
    pub(crate) fn fail(&self, host: *const VMHostFuncContext, error: BoxError) {
        *self.failure.borrow_mut() = Some((error, host));
    }

    /// Records that exception object `exn` leaves this call.
    pub(crate) fn set_exception(&self, exn: u32) {
        self.exception.set(Some(exn));
    }

    /// The exception that left this call: one the unwinder found no handler for, or one a host
    /// function threw when no guest could catch it.
    pub(crate) fn take_exception(&self) -> Option<u32> {
        self.exception
            .take()
            .or_else(|| self.pending_exception.take())
    }

    /// Records that the host function being called threw exception object `exn`.
    pub(crate) fn set_pending_exception(&self, exn: u32) {
        self.pending_exception.set(Some(exn));
    }

    /// The exception a host function threw, for `throw_pending`.
    pub(crate) fn take_pending_exception(&self) -> Option<u32> {
        self.pending_exception.take()
    }

    /// The failure recorded, if any.
    pub(crate) fn take_failure(&self) -> Option<(BoxError, *const VMHostFuncContext)> {
        self.failure.borrow_mut().take()
    }
}

thread_local! {
    static CURRENT: Cell<*const Activation> = const { Cell::new(ptr::null()) };
}

/// The innermost activation of this thread, or null.
#[inline]
pub(crate) fn current() -> *const Activation {
    CURRENT.with(|c| c.get())
}

/// Makes `act` the innermost activation; returns the previous one.
#[inline]
pub(crate) fn push(act: &Activation) {
    CURRENT.with(|c| c.set(act));
}

/// Restores the activation that was current before `act`.
#[inline]
pub(crate) fn pop(act: &Activation) {
    CURRENT.with(|c| c.set(act.prev));
}

const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// The handlers installed before Kiln's: written once inside `INSTALL`, read-only afterwards.
static mut PREVIOUS: [libc::sigaction; 4] = {
    // SAFETY: an all-zero `sigaction` is a valid value (SIG_DFL, empty mask, no flags).
    unsafe { std::mem::zeroed() }
};
static INSTALL: Once = Once::new();

/// Installs the fault handlers, once per process.
pub(crate) fn install_handlers() {
    INSTALL.call_once(|| {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: a zeroed sigaction is a valid starting point; we fill handler, flags and
            // mask. `PREVIOUS` is only written here, before any handler of ours can run.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handler as *const () as usize;
                // SA_NODEFER: the handler leaves by longjmp, which does not restore the mask.
                // SA_ONSTACK: a guest stack overflow must not prevent the handler from running.
                action.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let prev = ptr::addr_of_mut!(PREVIOUS[i]);
                if libc::sigaction(sig, &action, prev) != 0 {
                    panic!("cannot install the handler for signal {sig}");
                }
            }
        }
    });
}

/// Unblocks the fault signals on this thread, after a trap left its handler by a jump: Kiln's
/// own handlers run with `SA_NODEFER`, but a handler installed after Kiln's that passes guest
/// faults on to it may not, and the jump does not restore the mask it blocked.
pub(crate) fn unblock_fault_signals() {
    // SAFETY: `set` is initialized by `sigemptyset` before use; `pthread_sigmask` only changes
    // this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in SIGNALS {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, ptr::null_mut());
    }
}

/// Size of the alternate signal stack of each thread that runs guest code.
const ALT_STACK_SIZE: usize = 64 * 1024;

struct AltStack {
    base: *mut libc::c_void,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: disable the alternate stack before unmapping it; `base` came from mmap below.
        unsafe {
            let disable = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            libc::sigaltstack(&disable, ptr::null_mut());
            libc::munmap(self.base, ALT_STACK_SIZE);
        }
    }
}

thread_local! {
    /// The alternate stack Kiln made for this thread, unmapped when the thread exits.
    static ALT_STACK: RefCell<Option<AltStack>> = const { RefCell::new(None) };
    /// Whether this thread's alternate stack was checked (and made if it had none): the
    /// per-call fast path reads only this.
    static ALT_STACK_CHECKED: Cell<bool> = const { Cell::new(false) };
}

/// Gives this thread an alternate signal stack if it has none. Checked once per thread: later
/// calls cost one thread-local read.
#[inline]
pub(crate) fn ensure_alt_stack() {
    if !ALT_STACK_CHECKED.with(Cell::get) {
        init_alt_stack();
    }
}

#[cold]
fn init_alt_stack() {
    let state = make_alt_stack();
    ALT_STACK.with(|slot| *slot.borrow_mut() = state);
    ALT_STACK_CHECKED.with(|c| c.set(true));
}

/// The alternate stack made for this thread, if it had none and one could be made (without one,
/// a guest stack overflow falls to the default action).
fn make_alt_stack() -> Option<AltStack> {
    // SAFETY: query the current alternate stack; if one is set (by Rust's runtime for the main
    // thread, or by the embedder), keep it. Otherwise map one and install it; `stack` describes
    // that mapping exactly.
    unsafe {
        let mut old: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(ptr::null(), &mut old) == 0
            && old.ss_flags & libc::SS_DISABLE == 0
            && old.ss_size >= ALT_STACK_SIZE / 2
        {
            return None;
        }
        let base = libc::mmap(
            ptr::null_mut(),
            ALT_STACK_SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if base == libc::MAP_FAILED {
            return None;
        }
        let stack = libc::stack_t {
            ss_sp: base,
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        if libc::sigaltstack(&stack, ptr::null_mut()) != 0 {
            libc::munmap(base, ALT_STACK_SIZE);
            return None;
        }
        Some(AltStack { base })
    }
}

/// The PC and frame pointer of the interrupted context.
///
/// # Safety
/// `ucontext` must be the third argument of an `SA_SIGINFO` handler.
unsafe fn context_pc_fp(ucontext: *mut libc::c_void) -> (usize, usize) {
    let uc = ucontext as *const libc::ucontext_t;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: per the function's contract.
    return unsafe {
        let regs = &(*uc).uc_mcontext.gregs;
        (
            regs[libc::REG_RIP as usize] as usize,
            regs[libc::REG_RBP as usize] as usize,
        )
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: per the function's contract.
    return unsafe {
        (
            (*uc).uc_mcontext.pc as usize,
            (*uc).uc_mcontext.regs[29] as usize,
        )
    };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = uc;
        (0, 0)
    }
}

/// The artifacts whose code `act` may run.
pub(crate) fn artifacts(act: &Activation) -> &[Artifact] {
    // SAFETY: the store owning this vector is exclusively borrowed by the call in progress and
    // outlives the activation; nothing mutates it during the call.
    unsafe { &*act.artifacts }
}

/// Whether `pc` lies in the code of one of `act`'s artifacts.
pub(crate) fn in_guest_code(act: &Activation, pc: usize) -> bool {
    artifacts(act).iter().any(|a| a.code().contains(&pc))
}

/// Finds the trap at `pc` in `act`'s artifacts.
fn lookup(act: &Activation, pc: usize) -> Option<TrapKind> {
    artifacts(act).iter().find_map(|a| {
        let code = a.code();
        if !code.contains(&pc) {
            return None;
        }
        let offset = u32::try_from(pc - code.start).ok()?;
        TrapKind::from_code(a.validated_view()?.trap_at(offset)?)
    })
}

extern "C" fn handler(
    signum: libc::c_int,
    info: *mut libc::siginfo_t,
    ucontext: *mut libc::c_void,
) {
    let act = current();
    if !act.is_null() {
        // SAFETY: `ucontext` is the handler's third argument.
        let (pc, fp) = unsafe { context_pc_fp(ucontext) };
        // SAFETY: a non-null current activation lives on the stack of the call in progress.
        let act = unsafe { &*act };
        if let Some(kind) = lookup(act, pc) {
            let jmp = act.jmp_buf.get();
            if !jmp.is_null() {
                let mut frames = [0; MAX_FRAMES];
                let nframes = crate::trap::backtrace::walk_frames(act, fp, &mut frames);
                act.trap.set(Some(TrapSite {
                    kind,
                    pc,
                    frames,
                    nframes,
                }));
                // SAFETY: the buffer belongs to the `kiln_guest_call` frame still on this stack;
                // only guest frames, which own no resources, lie between it and here.
                unsafe { kiln_guest_longjmp(jmp) };
            }
        }
    }
    // Not ours: hand the signal to whoever was installed before us.
    let index = SIGNALS.iter().position(|&s| s == signum).unwrap_or(0);
    // SAFETY: PREVIOUS was filled before this handler was installed and is never written again.
    unsafe {
        let prev = &*ptr::addr_of!(PREVIOUS[index]);
        match prev.sa_sigaction {
            libc::SIG_DFL | libc::SIG_IGN => {
                // Restore the previous disposition and return: the instruction faults again
                // and the default action (or ignoring) applies.
                libc::sigaction(signum, prev, ptr::null_mut());
            }
            f if prev.sa_flags & libc::SA_SIGINFO != 0 => {
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    std::mem::transmute(f);
                f(signum, info, ucontext);
            }
            f => {
                let f: extern "C" fn(libc::c_int) = std::mem::transmute(f);
                f(signum);
            }
        }
    }
}
