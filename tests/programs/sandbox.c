/* Tries to reach files outside its only preopened directory, /sandbox, every way it can; each
 * attempt must fail. Also checks that what stays inside keeps working. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errname.h"
#include "wasi_imports.h"

#define RIGHTS_READ ((uint64_t)1 << 1)

static void try_open(const char *what, const char *path, int flags) {
    errno = 0;
    int fd = open(path, flags, 0644);
    if (fd < 0) {
        printf("%s: denied %s\n", what, errname(errno));
        return;
    }
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n < 0 ? 0 : n] = 0;
    if (n > 0 && buf[n - 1] == '\n')
        buf[n - 1] = 0;
    printf("%s: ALLOWED [%s]\n", what, buf);
    close(fd);
}

static void result(const char *what, int r) {
    printf("%s: %s\n", what, r == 0 ? "ALLOWED" : errname(errno));
}

static void raw_open(const char *what, uint32_t dirfd, const char *path) {
    int32_t fd = -1;
    int32_t e = raw_path_open(dirfd, 1, P(path), (uint32_t)strlen(path), 0, RIGHTS_READ, 0, 0, P(&fd));
    printf("%s: %s\n", what, e == 0 ? "ALLOWED" : errname(e));
    if (e == 0)
        close(fd);
}

int main(void) {
    struct stat st;
    char buf[64];

    try_open("dotdot", "/sandbox/../outside/secret.txt", O_RDONLY);
    try_open("dotdot from a subdirectory", "/sandbox/sub/../../outside/secret.txt", O_RDONLY);
    try_open("absolute host path", "/etc/passwd", O_RDONLY);
    try_open("relative symlink out", "/sandbox/escape_dir/secret.txt", O_RDONLY);
    try_open("absolute symlink to a directory", "/sandbox/escape_abs/secret.txt", O_RDONLY);
    try_open("absolute symlink to a file", "/sandbox/escape_file", O_RDONLY);
    try_open("create through a symlink", "/sandbox/escape_dir/created.txt", O_WRONLY | O_CREAT);
    try_open("truncate through a symlink", "/sandbox/escape_file", O_WRONLY | O_TRUNC);

    errno = 0;
    result("mkdir outside", mkdir("/sandbox/../made", 0755));
    errno = 0;
    result("rename out", rename("/sandbox/ok.txt", "/sandbox/../stolen.txt"));
    errno = 0;
    result("rename in", rename("/sandbox/../outside/secret.txt", "/sandbox/stolen.txt"));
    errno = 0;
    result("hard link in", link("/sandbox/../outside/secret.txt", "/sandbox/linked"));
    errno = 0;
    result("hard link through a symlink", link("/sandbox/escape_dir/secret.txt", "/sandbox/linked"));
    errno = 0;
    result("unlink outside", unlink("/sandbox/../outside/secret.txt"));
    errno = 0;
    result("unlink through a symlink", unlink("/sandbox/escape_dir/secret.txt"));
    errno = 0;
    result("symlink to an absolute path", symlink("/etc/passwd", "/sandbox/abs_link"));
    errno = 0;
    result("stat through a symlink", stat("/sandbox/escape_dir", &st));
    errno = 0;
    result("utimensat through a symlink", utimensat(AT_FDCWD, "/sandbox/escape_file", NULL, 0));
    errno = 0;
    DIR *d = opendir("/sandbox/..");
    printf("opendir parent: %s\n", d ? "ALLOWED" : errname(errno));
    errno = 0;
    ssize_t n = readlink("/sandbox/escape_abs", buf, sizeof buf);
    printf("readlink absolute target: %s\n", n >= 0 ? "ALLOWED" : errname(errno));

    /* Raw calls, past wasi-libc's own path handling. */
    raw_open("raw dotdot", 3, "../outside/secret.txt");
    raw_open("raw absolute", 3, "/etc/passwd");
    raw_open("raw absolute to the sandbox itself", 3, "/sandbox/ok.txt");
    raw_open("raw dotdot through a subdirectory", 3, "sub/../../outside/secret.txt");
    int32_t sub = -1;
    int32_t e = raw_path_open(3, 1, P("sub"), 3, 2 /* directory */, RIGHTS_READ, ~(uint64_t)0, 0, P(&sub));
    printf("open sub: %s\n", errname(e));
    raw_open("raw dotdot from an opened subdirectory", (uint32_t)sub, "../ok.txt");
    struct { char b[64]; } fst;
    e = raw_path_filestat_get(3, 1, P(".."), 2, P(&fst));
    printf("raw filestat of ..: %s\n", errname(e));
    e = raw_path_symlink(P("/etc"), 4, 3, P("abs"), 3);
    printf("raw absolute symlink: %s\n", errname(e));

    /* What stays inside works. */
    try_open("inside", "/sandbox/ok.txt", O_RDONLY);
    try_open("dotdot staying inside", "/sandbox/sub/../ok.txt", O_RDONLY);
    try_open("symlink inside", "/sandbox/inner_link", O_RDONLY);
    try_open("symlink up staying inside", "/sandbox/sub/up_link", O_RDONLY);
    errno = 0;
    result("lstat of an escaping symlink", lstat("/sandbox/escape_abs", &st));
    n = readlink("/sandbox/escape_dir", buf, sizeof buf - 1);
    buf[n < 0 ? 0 : n] = 0;
    printf("readlink relative target: [%s]\n", buf);
    return 0;
}
