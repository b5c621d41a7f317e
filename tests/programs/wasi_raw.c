/* Calls WASI functions directly with good and bad arguments and checks the errno values, the
 * struct layouts and that nothing outside a result struct is written. Needs one preopened
 * directory (fd 3) named "/sandbox" that is writable. Prints a line per failed check and a
 * summary; the exit status is the number of failures. */
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

#include "wasi_imports.h"

static int checks, failures;

static void expect(int line, const char *what, long long got, long long want) {
    checks++;
    if (got != want) {
        failures++;
        printf("FAIL line %d: %s: got %lld, want %lld\n", line, what, got, want);
    }
}

#define EXPECT(expr, want) expect(__LINE__, #expr, (long long)(expr), (long long)(want))

static uint64_t u64_at(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t u32_at(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint16_t u16_at(const unsigned char *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* A buffer filled with 0xAA: checks that a call writes only its struct. */
static _Alignas(8) unsigned char out[256];

static void poison(void) {
    memset(out, 0xAA, sizeof out);
}

static int untouched(size_t from, size_t to) {
    for (size_t i = from; i < to; i++)
        if (out[i] != 0xAA)
            return 0;
    return 1;
}

int main(void) {
    uint32_t end = MEM_END;
    uint32_t n = 0;
    uint64_t t = 0;
    __wasi_ciovec_t iov = {(const uint8_t *)"hi\n", 3};
    __wasi_ciovec_t iovs[2];

    /* Bad pointers: EFAULT, misaligned: EINVAL, and nothing is written. */
    EXPECT(raw_fd_write(1, end, 1, P(&n)), __WASI_ERRNO_FAULT);
    EXPECT(raw_fd_write(1, end - 4, 1, P(&n)), __WASI_ERRNO_FAULT);
    iovs[0].buf = (const uint8_t *)(uintptr_t)end;
    iovs[0].buf_len = 1;
    EXPECT(raw_fd_write(1, P(iovs), 1, P(&n)), __WASI_ERRNO_FAULT);
    iovs[0].buf = (const uint8_t *)(uintptr_t)(end - 4);
    iovs[0].buf_len = 8;
    EXPECT(raw_fd_write(1, P(iovs), 1, P(&n)), __WASI_ERRNO_FAULT);
    iovs[0].buf = (const uint8_t *)"x";
    iovs[0].buf_len = 0xFFFFFFFFu;
    EXPECT(raw_fd_write(1, P(iovs), 1, P(&n)), __WASI_ERRNO_FAULT);
    EXPECT(raw_fd_write(1, P(&iov), 1, end), __WASI_ERRNO_FAULT);
    EXPECT(raw_fd_write(1, P(&iov), 1, 0xFFFFFFFFu), __WASI_ERRNO_FAULT);
    EXPECT(raw_fd_write(1, P(&iov), 0x20000000u, P(&n)), __WASI_ERRNO_FAULT);
    EXPECT(raw_fd_write(1, P(out) + 2, 1, P(&n)), __WASI_ERRNO_INVAL);
    EXPECT(raw_fd_write(1, P(&iov), 1, P(out) + 1), __WASI_ERRNO_INVAL);
    EXPECT(raw_args_sizes_get(end, P(&n)), __WASI_ERRNO_FAULT);
    EXPECT(raw_args_sizes_get(P(&n), end - 2), __WASI_ERRNO_FAULT);
    EXPECT(raw_args_get(P(out), end), __WASI_ERRNO_FAULT);
    EXPECT(raw_args_get(end, P(out)), __WASI_ERRNO_FAULT);
    EXPECT(raw_environ_sizes_get(P(&n), end), __WASI_ERRNO_FAULT);
    EXPECT(raw_clock_time_get(__WASI_CLOCKID_MONOTONIC, 0, end), __WASI_ERRNO_FAULT);
    EXPECT(raw_clock_time_get(__WASI_CLOCKID_MONOTONIC, 0, P(out) + 4), __WASI_ERRNO_INVAL);
    EXPECT(raw_random_get(end - 8, 16), __WASI_ERRNO_FAULT);
    EXPECT(raw_random_get(end, 0), 0);
    EXPECT(raw_fd_fdstat_get(1, end - 8), __WASI_ERRNO_FAULT);
    EXPECT(raw_fd_prestat_dir_name(3, end - 2, 100), __WASI_ERRNO_FAULT);
    EXPECT(raw_path_open(3, 0, end - 1, 10, 0, 0, 0, 0, P(&n)), __WASI_ERRNO_FAULT);
    EXPECT(raw_path_open(3, 0, P("x\xff"), 2, 0, 0, 0, 0, P(&n)), __WASI_ERRNO_ILSEQ);
    EXPECT(raw_poll_oneoff(end, P(out), 1, P(&n)), __WASI_ERRNO_FAULT);
    EXPECT(raw_poll_oneoff(P(out), end - 16, 1, P(&n)), __WASI_ERRNO_FAULT);

    /* Arguments and clocks. */
    uint32_t argc = 0, argsz = 0;
    EXPECT(raw_args_sizes_get(P(&argc), P(&argsz)), 0);
    EXPECT(argc, 2);
    EXPECT(argsz, strlen("wasi_raw.kiln") + 1 + strlen("arg-1") + 1);
    poison();
    EXPECT(raw_args_get(P(out), P(out) + 16), 0);
    EXPECT(u32_at(out), P(out) + 16);
    EXPECT(u32_at(out + 4), P(out) + 16 + 14);
    EXPECT(strcmp((char *)out + 30, "arg-1"), 0);
    EXPECT(untouched(8, 16), 1);
    EXPECT(untouched(16 + argsz, 64), 1);
    EXPECT(raw_clock_time_get(99, 0, P(&t)), __WASI_ERRNO_INVAL);
    EXPECT(raw_clock_res_get(4, P(&t)), __WASI_ERRNO_INVAL);
    EXPECT(raw_clock_time_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, 0, P(&t)), 0);
    EXPECT(t > 0, 1);
    EXPECT(raw_clock_time_get(__WASI_CLOCKID_THREAD_CPUTIME_ID, 0, P(&t)), 0);
    EXPECT(raw_clock_res_get(__WASI_CLOCKID_REALTIME, P(&t)), 0);
    EXPECT(t > 0 && t <= 1000000000, 1);
    EXPECT(raw_sched_yield(), 0);

    /* Preopens: prestat is 8 bytes, the name has no NUL. */
    poison();
    EXPECT(raw_fd_prestat_get(3, P(out)), 0);
    EXPECT(out[0], __WASI_PREOPENTYPE_DIR);
    EXPECT(u32_at(out + 4), 8);
    EXPECT(untouched(8, 16), 1);
    EXPECT(raw_fd_prestat_dir_name(3, P(out), 7), __WASI_ERRNO_NAMETOOLONG);
    poison();
    EXPECT(raw_fd_prestat_dir_name(3, P(out), 100), 0);
    EXPECT(memcmp(out, "/sandbox", 8), 0);
    EXPECT(out[8], 0xAA);
    EXPECT(raw_fd_prestat_get(0, P(out)), __WASI_ERRNO_BADF);
    EXPECT(raw_fd_prestat_get(4, P(out)), __WASI_ERRNO_BADF);

    /* fdstat is 24 bytes. */
    poison();
    EXPECT(raw_fd_fdstat_get(3, P(out)), 0);
    EXPECT(out[0], __WASI_FILETYPE_DIRECTORY);
    EXPECT(u16_at(out + 2), 0);
    EXPECT((u64_at(out + 8) & __WASI_RIGHTS_PATH_OPEN) != 0, 1);
    EXPECT(untouched(24, 32), 1);
    poison();
    EXPECT(raw_fd_fdstat_get(1, P(out)), 0);
    EXPECT((u64_at(out + 8) & __WASI_RIGHTS_FD_WRITE) != 0, 1);
    EXPECT((u64_at(out + 8) & (__WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL)), 0);
    EXPECT(raw_fd_fdstat_get(77, P(out)), __WASI_ERRNO_BADF);

    /* A file: open, write, seek, read, stat (64 bytes). */
    uint32_t fd = 0;
    uint64_t rw = __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK |
                  __WASI_RIGHTS_FD_TELL | __WASI_RIGHTS_FD_FILESTAT_GET |
                  __WASI_RIGHTS_FD_FILESTAT_SET_SIZE;
    EXPECT(raw_path_open(3, 0, P("raw.txt"), 7, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, rw, 0,
                         0, P(&fd)),
           0);
    EXPECT(fd, 4);
    EXPECT(raw_path_open(3, 0, P("raw.txt"), 7, 0x10, rw, 0, 0, P(&n)), __WASI_ERRNO_INVAL);
    EXPECT(raw_path_open(3, 0, P("raw.txt"), 7, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, rw, 0, 0, P(&n)),
           __WASI_ERRNO_EXIST);
    EXPECT(raw_path_open(3, 0, P("raw.txt"), 7, __WASI_OFLAGS_DIRECTORY, rw, 0, 0, P(&n)),
           __WASI_ERRNO_NOTDIR);
    EXPECT(raw_path_open(3, 0, P("raw.txt"), 7, __WASI_OFLAGS_DIRECTORY | __WASI_OFLAGS_CREAT, rw, 0, 0, P(&n)),
           __WASI_ERRNO_INVAL);
    EXPECT(raw_path_open(0, 0, P("raw.txt"), 7, 0, rw, 0, 0, P(&n)), __WASI_ERRNO_NOTDIR);
    EXPECT(raw_path_open(3, 0, P("nope/raw.txt"), 12, 0, rw, 0, 0, P(&n)), __WASI_ERRNO_NOENT);
    EXPECT(raw_path_open(3, 0, P("raw.txt"), 7, 0, rw, 0, 0, end), __WASI_ERRNO_FAULT);
    iov.buf = (const uint8_t *)"hello world";
    iov.buf_len = 11;
    EXPECT(raw_fd_write(fd, P(&iov), 1, P(&n)), 0);
    EXPECT(n, 11);
    EXPECT(raw_fd_tell(fd, P(&t)), 0);
    EXPECT(t, 11);
    EXPECT(raw_fd_seek(fd, -1, __WASI_WHENCE_SET, P(&t)), __WASI_ERRNO_INVAL);
    EXPECT(raw_fd_seek(fd, 0, 3, P(&t)), __WASI_ERRNO_INVAL);
    EXPECT(raw_fd_seek(fd, 0, 256, P(&t)), __WASI_ERRNO_INVAL);
    EXPECT(raw_fd_seek(fd, -5, __WASI_WHENCE_END, P(&t)), 0);
    EXPECT(t, 6);
    char rd[16] = {0};
    __wasi_iovec_t riov[2] = {{(uint8_t *)rd, 2}, {(uint8_t *)rd + 8, 8}};
    EXPECT(raw_fd_read(fd, P(riov), 2, P(&n)), 0);
    EXPECT(n, 5);
    EXPECT(memcmp(rd, "wo", 2) == 0 && memcmp(rd + 8, "rld", 3) == 0, 1);
    EXPECT(raw_fd_read(fd, P(riov), 2, P(&n)), 0);
    EXPECT(n, 0);
    memset(rd, 0, sizeof rd);
    EXPECT(raw_fd_pread(fd, P(riov), 1, 0, P(&n)), 0);
    EXPECT(n, 2);
    EXPECT(raw_fd_tell(fd, P(&t)), 0);
    EXPECT(t, 11);
    iov.buf = (const uint8_t *)"J";
    iov.buf_len = 1;
    EXPECT(raw_fd_pwrite(fd, P(&iov), 1, 6, P(&n)), 0);
    EXPECT(n, 1);
    poison();
    EXPECT(raw_fd_filestat_get(fd, P(out)), 0);
    EXPECT(u64_at(out + 32), 11);
    EXPECT(out[16], __WASI_FILETYPE_REGULAR_FILE);
    EXPECT(u64_at(out + 24), 1);
    EXPECT(untouched(64, 72), 1);
    EXPECT(raw_fd_filestat_get(fd, P(out) + 4), __WASI_ERRNO_INVAL);
    poison();
    EXPECT(raw_path_filestat_get(3, 1, P("raw.txt"), 7, P(out)), 0);
    EXPECT(u64_at(out + 32), 11);
    EXPECT(raw_path_filestat_get(3, 2, P("raw.txt"), 7, P(out)), __WASI_ERRNO_INVAL);
    EXPECT(raw_path_filestat_get(3, 0, P("nothing"), 7, P(out)), __WASI_ERRNO_NOENT);
    poison();
    EXPECT(raw_fd_fdstat_get(fd, P(out)), 0);
    EXPECT(out[0], __WASI_FILETYPE_REGULAR_FILE);
    EXPECT(u16_at(out + 2), 0);
    EXPECT(raw_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_APPEND), 0);
    EXPECT(raw_fd_fdstat_get(fd, P(out)), 0);
    EXPECT(u16_at(out + 2), __WASI_FDFLAGS_APPEND);
    EXPECT(raw_fd_fdstat_set_flags(fd, 0), 0);
    EXPECT(raw_fd_fdstat_set_flags(fd, 0x100), __WASI_ERRNO_INVAL);
    EXPECT(raw_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_SYNC), __WASI_ERRNO_NOTSUP);
    EXPECT(raw_fd_allocate(fd, 0, 100), 0);
    EXPECT(raw_fd_filestat_get(fd, P(out)), 0);
    EXPECT(u64_at(out + 32), 100);
    EXPECT(raw_fd_allocate(fd, 0, 0), __WASI_ERRNO_INVAL);
    EXPECT(raw_fd_filestat_set_size(fd, 3), 0);
    EXPECT(raw_fd_filestat_get(fd, P(out)), 0);
    EXPECT(u64_at(out + 32), 3);
    EXPECT(raw_fd_filestat_set_times(fd, 5000000000ull, 7000000001ull, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM), 0);
    EXPECT(raw_fd_filestat_get(fd, P(out)), 0);
    EXPECT(u64_at(out + 40), 5000000000ull);
    EXPECT(u64_at(out + 48), 7000000001ull);
    EXPECT(raw_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW),
           __WASI_ERRNO_INVAL);
    EXPECT(raw_fd_advise(fd, 0, 0, __WASI_ADVICE_SEQUENTIAL), 0);
    EXPECT(raw_fd_advise(fd, 0, 0, 6), __WASI_ERRNO_INVAL);
    EXPECT(raw_fd_sync(fd), 0);
    EXPECT(raw_fd_datasync(fd), 0);
    EXPECT(raw_fd_readdir(fd, P(out), 64, 0, P(&n)), __WASI_ERRNO_NOTDIR);

    /* Rights can be dropped, not regained. */
    EXPECT(raw_fd_fdstat_set_rights(fd, rw & ~__WASI_RIGHTS_FD_SEEK, 0), 0);
    EXPECT(raw_fd_fdstat_get(fd, P(out)), 0);
    EXPECT(u64_at(out + 8), rw & ~__WASI_RIGHTS_FD_SEEK);
    EXPECT(raw_fd_fdstat_set_rights(fd, rw, 0), __WASI_ERRNO_NOTCAPABLE);

    /* Streams and directories refuse what does not apply to them. */
    EXPECT(raw_fd_seek(1, 0, __WASI_WHENCE_CUR, P(&t)), __WASI_ERRNO_SPIPE);
    EXPECT(raw_fd_tell(0, P(&t)), __WASI_ERRNO_SPIPE);
    EXPECT(raw_fd_pread(0, P(riov), 1, 0, P(&n)), __WASI_ERRNO_SPIPE);
    EXPECT(raw_fd_read(3, P(riov), 1, P(&n)), __WASI_ERRNO_ISDIR);
    EXPECT(raw_fd_write(3, P(&iov), 1, P(&n)), __WASI_ERRNO_ISDIR);
    EXPECT(raw_fd_filestat_set_size(3, 0), __WASI_ERRNO_ISDIR);

    /* Renumbering and closing. */
    uint32_t fd2 = 0;
    EXPECT(raw_path_open(3, 0, P("raw.txt"), 7, 0, __WASI_RIGHTS_FD_READ, 0, 0, P(&fd2)), 0);
    EXPECT(fd2, 5);
    EXPECT(raw_fd_renumber(fd, 77), __WASI_ERRNO_BADF);
    EXPECT(raw_fd_renumber(77, fd), __WASI_ERRNO_BADF);
    EXPECT(raw_fd_renumber(fd, fd2), 0);
    EXPECT(raw_fd_fdstat_get(fd, P(out)), __WASI_ERRNO_BADF);
    EXPECT(raw_fd_tell(fd2, P(&t)), 0);
    EXPECT(t, 11);
    EXPECT(raw_fd_close(fd2), 0);
    EXPECT(raw_fd_close(fd2), __WASI_ERRNO_BADF);

    /* Directories: readdir (dirent is 24 bytes + name), mkdir, symlinks. */
    EXPECT(raw_path_create_directory(3, P("dir"), 3), 0);
    EXPECT(raw_path_create_directory(3, P("dir"), 3), __WASI_ERRNO_EXIST);
    uint32_t dfd = 0;
    EXPECT(raw_path_open(3, 0, P("dir"), 3, __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READDIR, ~0ull, 0, P(&dfd)), 0);
    EXPECT(raw_path_open(dfd, 0, P("f"), 1, __WASI_OFLAGS_CREAT, rw, 0, 0, P(&fd)), 0);
    EXPECT(raw_fd_close(fd), 0);
    poison();
    EXPECT(raw_fd_readdir(dfd, P(out), 256, 0, P(&n)), 0);
    EXPECT(n, 3 * 24 + 1 + 2 + 1);
    EXPECT(u64_at(out), 1);
    EXPECT(u32_at(out + 16), 1);
    EXPECT(out[20], __WASI_FILETYPE_DIRECTORY);
    EXPECT(out[24], '.');
    EXPECT(u64_at(out + 25), 2);
    EXPECT(u32_at(out + 25 + 16), 2);
    EXPECT(u64_at(out + 51), 3);
    EXPECT(u32_at(out + 51 + 16), 1);
    EXPECT(out[51 + 20], __WASI_FILETYPE_REGULAR_FILE);
    EXPECT(out[75], 'f');
    EXPECT(out[76], 0xAA);
    EXPECT(raw_fd_readdir(dfd, P(out), 10, 0, P(&n)), 0);
    EXPECT(n, 10);
    EXPECT(raw_fd_readdir(dfd, P(out), 256, 2, P(&n)), 0);
    EXPECT(n, 25);
    EXPECT(raw_fd_readdir(dfd, P(out), 256, 3, P(&n)), 0);
    EXPECT(n, 0);
    EXPECT(raw_fd_readdir(dfd, end - 4, 256, 0, P(&n)), __WASI_ERRNO_FAULT);
    EXPECT(raw_path_symlink(P("f"), 1, dfd, P("l"), 1), 0);
    memset(rd, 0, sizeof rd);
    EXPECT(raw_path_readlink(dfd, P("l"), 1, P(rd), 16, P(&n)), 0);
    EXPECT(n, 1);
    EXPECT(rd[0], 'f');
    EXPECT(raw_path_readlink(dfd, P("f"), 1, P(rd), 16, P(&n)), __WASI_ERRNO_INVAL);
    EXPECT(raw_path_open(dfd, 0, P("l"), 1, 0, __WASI_RIGHTS_FD_READ, 0, 0, P(&fd)), __WASI_ERRNO_LOOP);
    EXPECT(raw_path_open(dfd, 1, P("l"), 1, 0, __WASI_RIGHTS_FD_READ, 0, 0, P(&fd)), 0);
    EXPECT(raw_fd_close(fd), 0);
    EXPECT(raw_fd_close(dfd), 0);

    /* poll_oneoff: subscription 48 bytes, event 32 bytes. */
    __wasi_subscription_t subs[3];
    memset(subs, 0, sizeof subs);
    subs[0].userdata = 0x1111;
    subs[0].u.tag = __WASI_EVENTTYPE_CLOCK;
    subs[0].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    subs[0].u.u.clock.timeout = 1000000;
    subs[1].userdata = 0x2222;
    subs[1].u.tag = __WASI_EVENTTYPE_FD_WRITE;
    subs[1].u.u.fd_write.file_descriptor = 1;
    subs[2].userdata = 0x3333;
    subs[2].u.tag = __WASI_EVENTTYPE_FD_READ;
    subs[2].u.u.fd_read.file_descriptor = 77;
    EXPECT(raw_poll_oneoff(P(subs), P(out), 0, P(&n)), __WASI_ERRNO_INVAL);
    poison();
    EXPECT(raw_poll_oneoff(P(subs), P(out), 3, P(&n)), 0);
    EXPECT(n, 2);
    EXPECT(u64_at(out), 0x2222);
    EXPECT(u16_at(out + 8), 0);
    EXPECT(out[10], __WASI_EVENTTYPE_FD_WRITE);
    EXPECT(u64_at(out + 32), 0x3333);
    EXPECT(u16_at(out + 40), __WASI_ERRNO_BADF);
    EXPECT(out[42], __WASI_EVENTTYPE_FD_READ);
    EXPECT(untouched(64, 96), 1);
    poison();
    EXPECT(raw_poll_oneoff(P(subs), P(out), 1, P(&n)), 0);
    EXPECT(n, 1);
    EXPECT(u64_at(out), 0x1111);
    EXPECT(u16_at(out + 8), 0);
    EXPECT(out[10], __WASI_EVENTTYPE_CLOCK);
    subs[0].u.u.clock.id = 9;
    EXPECT(raw_poll_oneoff(P(subs), P(out), 1, P(&n)), 0);
    EXPECT(n, 1);
    EXPECT(u16_at(out + 8), __WASI_ERRNO_INVAL);
    subs[0].u.tag = 7;
    EXPECT(raw_poll_oneoff(P(subs), P(out), 1, P(&n)), __WASI_ERRNO_INVAL);
    EXPECT(raw_poll_oneoff(P(subs) + 4, P(out), 1, P(&n)), __WASI_ERRNO_INVAL);

    /* Unsupported: a proper errno, not a trap. */
    EXPECT(raw_proc_raise(15 /* SIGTERM */), __WASI_ERRNO_NOSYS);
    EXPECT(raw_sock_accept(3, 0, P(&n)), __WASI_ERRNO_NOTSOCK);
    EXPECT(raw_sock_shutdown(77, 0), __WASI_ERRNO_BADF);

    /* Still able to write after all of that. */
    iov.buf = (const uint8_t *)"still alive\n";
    iov.buf_len = 12;
    EXPECT(raw_fd_write(1, P(&iov), 1, P(&n)), 0);
    EXPECT(n, 12);

    printf("%d checks, %d failed\n", checks, failures);
    return failures;
}
