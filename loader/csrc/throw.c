/*
 * Entry points of the exception builtins (`throw`, `throw_ref`, `throw_pending`): each passes
 * its own frame address to the Rust body, so that the unwinder starts from a known frame record
 * `[saved frame pointer, return address]` whose return address is in the guest code that threw.
 * Built with frame pointers and without sibling calls: the record must be this function's and
 * stay on the stack while the body runs.
 */
#include <stdint.h>

extern uint32_t kiln_throw_from(void *vmctx, uint32_t op, uint64_t a, uint64_t b, void *frame);

/* Keeps the call a real call (not a jump that would drop this frame). */
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

__attribute__((noinline)) uint32_t kiln_throw_entry(void *vmctx, uint32_t tag, uint64_t values) {
    uint32_t status = kiln_throw_from(vmctx, 0, tag, values, __builtin_frame_address(0));
    KEEP_FRAME();
    return status;
}

__attribute__((noinline)) uint32_t kiln_throw_ref_entry(void *vmctx, uint64_t exn) {
    uint32_t status = kiln_throw_from(vmctx, 1, exn, 0, __builtin_frame_address(0));
    KEEP_FRAME();
    return status;
}

__attribute__((noinline)) uint32_t kiln_throw_pending_entry(void *vmctx) {
    uint32_t status = kiln_throw_from(vmctx, 2, 0, 0, __builtin_frame_address(0));
    KEEP_FRAME();
    return status;
}
