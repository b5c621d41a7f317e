/* Direct imports of WASI functions, so that tests can pass any pointer or length (wasi-libc's
 * wrappers compute string lengths themselves). Every one returns a WASI errno. */
#ifndef WASI_IMPORTS_H
#define WASI_IMPORTS_H
#include <stdint.h>

#define WASI(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))

WASI(args_get) int32_t raw_args_get(uint32_t argv, uint32_t buf);
WASI(args_sizes_get) int32_t raw_args_sizes_get(uint32_t argc, uint32_t size);
WASI(environ_sizes_get) int32_t raw_environ_sizes_get(uint32_t count, uint32_t size);
WASI(clock_res_get) int32_t raw_clock_res_get(uint32_t id, uint32_t out);
WASI(clock_time_get) int32_t raw_clock_time_get(uint32_t id, uint64_t precision, uint32_t out);
WASI(fd_advise) int32_t raw_fd_advise(uint32_t fd, uint64_t offset, uint64_t len, uint32_t advice);
WASI(fd_allocate) int32_t raw_fd_allocate(uint32_t fd, uint64_t offset, uint64_t len);
WASI(fd_close) int32_t raw_fd_close(uint32_t fd);
WASI(fd_datasync) int32_t raw_fd_datasync(uint32_t fd);
WASI(fd_fdstat_get) int32_t raw_fd_fdstat_get(uint32_t fd, uint32_t out);
WASI(fd_fdstat_set_flags) int32_t raw_fd_fdstat_set_flags(uint32_t fd, uint32_t flags);
WASI(fd_fdstat_set_rights) int32_t raw_fd_fdstat_set_rights(uint32_t fd, uint64_t base, uint64_t inheriting);
WASI(fd_filestat_get) int32_t raw_fd_filestat_get(uint32_t fd, uint32_t out);
WASI(fd_filestat_set_size) int32_t raw_fd_filestat_set_size(uint32_t fd, uint64_t size);
WASI(fd_filestat_set_times) int32_t raw_fd_filestat_set_times(uint32_t fd, uint64_t atim, uint64_t mtim, uint32_t flags);
WASI(fd_pread) int32_t raw_fd_pread(uint32_t fd, uint32_t iovs, uint32_t n, uint64_t offset, uint32_t out);
WASI(fd_prestat_get) int32_t raw_fd_prestat_get(uint32_t fd, uint32_t out);
WASI(fd_prestat_dir_name) int32_t raw_fd_prestat_dir_name(uint32_t fd, uint32_t buf, uint32_t len);
WASI(fd_pwrite) int32_t raw_fd_pwrite(uint32_t fd, uint32_t iovs, uint32_t n, uint64_t offset, uint32_t out);
WASI(fd_read) int32_t raw_fd_read(uint32_t fd, uint32_t iovs, uint32_t n, uint32_t out);
WASI(fd_readdir) int32_t raw_fd_readdir(uint32_t fd, uint32_t buf, uint32_t len, uint64_t cookie, uint32_t out);
WASI(fd_renumber) int32_t raw_fd_renumber(uint32_t fd, uint32_t to);
WASI(fd_seek) int32_t raw_fd_seek(uint32_t fd, int64_t offset, uint32_t whence, uint32_t out);
WASI(fd_sync) int32_t raw_fd_sync(uint32_t fd);
WASI(fd_tell) int32_t raw_fd_tell(uint32_t fd, uint32_t out);
WASI(fd_write) int32_t raw_fd_write(uint32_t fd, uint32_t iovs, uint32_t n, uint32_t out);
WASI(path_create_directory) int32_t raw_path_create_directory(uint32_t fd, uint32_t path, uint32_t len);
WASI(path_filestat_get) int32_t raw_path_filestat_get(uint32_t fd, uint32_t flags, uint32_t path, uint32_t len, uint32_t out);
WASI(path_open) int32_t raw_path_open(uint32_t fd, uint32_t dirflags, uint32_t path, uint32_t len, uint32_t oflags, uint64_t base, uint64_t inheriting, uint32_t fdflags, uint32_t out);
WASI(path_readlink) int32_t raw_path_readlink(uint32_t fd, uint32_t path, uint32_t len, uint32_t buf, uint32_t buf_len, uint32_t out);
WASI(path_symlink) int32_t raw_path_symlink(uint32_t old, uint32_t old_len, uint32_t fd, uint32_t path, uint32_t len);
WASI(poll_oneoff) int32_t raw_poll_oneoff(uint32_t in, uint32_t out, uint32_t n, uint32_t nevents);
WASI(proc_raise) int32_t raw_proc_raise(uint32_t sig);
WASI(random_get) int32_t raw_random_get(uint32_t buf, uint32_t len);
WASI(sched_yield) int32_t raw_sched_yield(void);
WASI(sock_accept) int32_t raw_sock_accept(uint32_t fd, uint32_t flags, uint32_t out);
WASI(sock_shutdown) int32_t raw_sock_shutdown(uint32_t fd, uint32_t how);

/* A guest pointer as the integer WASI sees. */
#define P(x) ((uint32_t)(uintptr_t)(x))
/* The first address past the end of memory 0. */
#define MEM_END ((uint32_t)(__builtin_wasm_memory_size(0) * 65536u))

#endif
