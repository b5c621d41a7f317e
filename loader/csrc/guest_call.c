/*
 * The boundary between the host and guest code: a call that a trap can abandon.
 *
 * `kiln_guest_call` records a jump buffer, publishes its address through `*jmp_slot` (the Rust
 * side keeps it in the thread's current activation), and calls the entry trampoline. A trap's
 * signal handler calls `kiln_guest_longjmp` with that buffer, so `kiln_guest_call` returns 0.
 * Only guest frames lie between the two: host functions never let a trap unwind through them.
 *
 * The signal mask is not saved (sigsetjmp(..., 0)): handlers are installed with SA_NODEFER, so
 * no signal stays blocked after the jump, and a call needs no system call.
 */
#include <setjmp.h>
#include <stddef.h>

typedef void (*kiln_trampoline)(void *callee_vmctx, void *caller_vmctx, void *code,
                                void *values);

int kiln_guest_call(void **jmp_slot, kiln_trampoline trampoline, void *callee_vmctx,
                    void *caller_vmctx, void *code, void *values) {
    sigjmp_buf buf;
    if (sigsetjmp(buf, 0) == 0) {
        *jmp_slot = &buf;
        trampoline(callee_vmctx, caller_vmctx, code, values);
        *jmp_slot = NULL;
        return 1;
    }
    *jmp_slot = NULL;
    return 0;
}

void kiln_guest_longjmp(void *buf) {
    siglongjmp(*(sigjmp_buf *)buf, 1);
}
