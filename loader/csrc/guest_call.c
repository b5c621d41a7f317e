/*
 * The boundary between the host and guest code: a call that a trap can abandon.
 *
 * `kiln_guest_call` records a jump buffer, publishes its address through `*jmp_slot` (the Rust
 * side keeps it in the thread's current activation), and calls the entry trampoline. A trap's
 * signal handler calls `kiln_guest_longjmp` with that buffer, so `kiln_guest_call` returns 0.
 * Only guest frames lie between the two: host functions never let a trap unwind through them.
 *
 * The buffer is the compiler's `__builtin_setjmp` one (frame pointer, stack pointer and resume
 * address; the compiler saves the callee-saved registers around the call itself), not libc's
 * `sigsetjmp`: no signal mask is saved (handlers are installed with SA_NODEFER, so no signal stays
 * blocked after the jump) and there is no pointer mangling, which makes entering guest code a
 * few stores instead of a libc call.
 */
#include <stddef.h>

typedef void (*kiln_trampoline)(void *callee_vmctx, void *caller_vmctx, void *code,
                                void *values);

/* `__builtin_setjmp` needs five words. */
typedef void *kiln_jmp_buf[5];

/* noinline: `__builtin_setjmp` must not be merged into a caller that also longjmps. */
__attribute__((noinline)) int kiln_guest_call(void **jmp_slot, kiln_trampoline trampoline,
                                              void *callee_vmctx, void *caller_vmctx, void *code,
                                              void *values) {
    kiln_jmp_buf buf;
    if (__builtin_setjmp(buf) == 0) {
        *jmp_slot = buf;
        trampoline(callee_vmctx, caller_vmctx, code, values);
        *jmp_slot = NULL;
        return 1;
    }
    *jmp_slot = NULL;
    return 0;
}

__attribute__((noinline)) void kiln_guest_longjmp(void *buf) {
    __builtin_longjmp((void **)buf, 1);
}
