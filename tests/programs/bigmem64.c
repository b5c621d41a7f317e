/* A freestanding wasm64 program (no libc) that grows its memory past 4 GiB and touches it
 * sparsely: one byte every `stride` bytes from the end of its static data to the end of memory,
 * plus the bytes on either side of the 4 GiB line, so that the host commits only the pages
 * touched. Returns a checksum of what it read back (the test computes the same), or -1 if the
 * memory could not grow to `pages` 64 KiB pages. Built by build.sh with
 * --target=wasm64-unknown-unknown. */

typedef unsigned long long u64;
typedef unsigned char u8;

extern u8 __heap_base;

#define PAGE 65536ull

/* The byte stored at address `a`: a mix of its bits, never the same for two nearby pages. */
static u8 pattern(u64 a) {
    u64 x = a * 0x9e3779b97f4a7c15ull;
    return (u8)(x >> 56) ^ (u8)(a >> 16);
}

__attribute__((export_name("heap_base")))
u64 heap_base(void) {
    return (u64)&__heap_base;
}

__attribute__((export_name("memory_pages")))
u64 memory_pages(void) {
    return __builtin_wasm_memory_size(0);
}

__attribute__((export_name("run")))
u64 run(u64 pages, u64 stride) {
    u64 have = __builtin_wasm_memory_size(0);
    if (pages > have && __builtin_wasm_memory_grow(0, pages - have) == (u64)-1)
        return (u64)-1;
    u64 start = ((u64)&__heap_base + stride - 1) / stride * stride;
    u64 end = pages * PAGE;
    /* volatile: every access is a real load or store of linear memory. */
    volatile u8 *mem = (volatile u8 *)0;
    for (u64 a = start; a < end; a += stride)
        mem[a] = pattern(a);
    const u64 edges[] = {0xffffffffull, 0x100000000ull, end - 1};
    for (unsigned i = 0; i < sizeof edges / sizeof edges[0]; i++)
        if (edges[i] < end && edges[i] >= start)
            mem[edges[i]] = pattern(edges[i]);
    /* Read back from the top down, so that nothing but memory connects the two passes. */
    u64 sum = 0;
    for (u64 a = (end - 1 - start) / stride * stride + start;; a -= stride) {
        sum = sum * 31 + mem[a];
        if (a == start)
            break;
    }
    for (unsigned i = 0; i < sizeof edges / sizeof edges[0]; i++)
        if (edges[i] < end && edges[i] >= start)
            sum = sum * 31 + mem[edges[i]];
    return sum;
}
