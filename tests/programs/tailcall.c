// Tail calls in C (`musttail`, clang -mtail-call): a threaded bytecode interpreter whose handlers
// tail-call the next one, and mutual recursion as deep as the argument. Without tail calls both
// would need stack in proportion to the work; with them, constant stack.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { OP_ADD, OP_DEC, OP_JNZ, OP_HALT };

typedef struct {
    const uint8_t *code;
    int64_t acc, counter;
} Vm;

typedef int64_t (*Handler)(Vm *vm, const uint8_t *pc);
static const Handler handlers[];

#define DISPATCH(vm, pc) __attribute__((musttail)) return handlers[*(pc)]((vm), (pc))

static int64_t op_add(Vm *vm, const uint8_t *pc) {
    vm->acc += vm->counter;
    DISPATCH(vm, pc + 1);
}
static int64_t op_dec(Vm *vm, const uint8_t *pc) {
    vm->counter -= 1;
    DISPATCH(vm, pc + 1);
}
static int64_t op_jnz(Vm *vm, const uint8_t *pc) {
    const uint8_t *next = vm->counter != 0 ? vm->code + pc[1] : pc + 2;
    DISPATCH(vm, next);
}
static int64_t op_halt(Vm *vm, const uint8_t *pc) {
    (void)pc;
    return vm->acc;
}
static const Handler handlers[] = {op_add, op_dec, op_jnz, op_halt};

// Sum of 1..n: three instructions per iteration, each a tail call.
static int64_t interpret_sum(int64_t n) {
    static const uint8_t program[] = {OP_ADD, OP_DEC, OP_JNZ, 0, OP_HALT};
    Vm vm = {program, 0, n};
    return handlers[program[0]](&vm, program);
}

static int is_odd(uint64_t n);
static int is_even(uint64_t n) {
    if (n == 0) return 1;
    __attribute__((musttail)) return is_odd(n - 1);
}
static int is_odd(uint64_t n) {
    if (n == 0) return 0;
    __attribute__((musttail)) return is_even(n - 1);
}

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? atoll(argv[1]) : 10000000;
    printf("sum 1..%lld = %lld\n", (long long)n, (long long)interpret_sum(n));
    printf("is_even(%lld) = %d\n", (long long)(3 * n + 1), is_even((uint64_t)(3 * n + 1)));
    return 0;
}
