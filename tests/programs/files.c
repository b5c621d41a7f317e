/* File system operations inside a preopened directory, given as argv[1]: create, write, read
 * back, seek, pread/pwrite, truncate, append, rename, links, timestamps, directory listings and
 * removal. Prints a transcript; leaves result files for the host to check. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errname.h"

static char base[256];

static const char *at(const char *rel) {
    static char buf[2][512];
    static int which;
    which ^= 1;
    snprintf(buf[which], sizeof buf[which], "%s/%s", base, rel);
    return buf[which];
}

#define CHECK(what, expr)                                                                         \
    do {                                                                                          \
        errno = 0;                                                                                \
        long r_ = (long)(expr);                                                                   \
        printf("%s: %s\n", what, r_ < 0 ? errname(errno) : "OK");                                 \
    } while (0)

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists a directory: sorted names with a type letter, without "." and "..". */
static void list(const char *rel) {
    DIR *d = opendir(at(rel));
    if (!d) {
        printf("opendir %s: %s\n", rel, errname(errno));
        return;
    }
    char *names[16];
    int n = 0;
    struct dirent *e;
    int dots = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
            dots++;
            continue;
        }
        char *s = malloc(strlen(e->d_name) + 3);
        char t = e->d_type == DT_DIR ? 'd' : e->d_type == DT_REG ? 'f' : e->d_type == DT_LNK ? 'l' : '?';
        sprintf(s, "%s:%c", e->d_name, t);
        if (n < 16)
            names[n++] = s;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp);
    printf("list %s (%d dots):", rel, dots);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: files DIR\n");
        return 2;
    }
    snprintf(base, sizeof base, "%s", argv[1]);

    CHECK("mkdir work", mkdir(at("work"), 0755));
    CHECK("mkdir work again", mkdir(at("work"), 0755));

    /* Create and write with stdio. */
    FILE *f = fopen(at("work/data.txt"), "w");
    if (!f) {
        printf("fopen: %s\n", errname(errno));
        return 1;
    }
    fprintf(f, "Hello, WASI world!\n");
    fprintf(f, "second line\n");
    fclose(f);

    /* Read it back. */
    int fd = open(at("work/data.txt"), O_RDWR);
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n < 0 ? 0 : n] = 0;
    printf("read %zd: %s", n, buf);

    /* Seek. */
    off_t pos = lseek(fd, 7, SEEK_SET);
    n = read(fd, buf, 4);
    buf[n] = 0;
    printf("seek set %lld -> [%s]\n", (long long)pos, buf);
    pos = lseek(fd, -5, SEEK_END);
    n = read(fd, buf, 4);
    buf[n] = 0;
    printf("seek end %lld -> [%s]\n", (long long)pos, buf);
    pos = lseek(fd, -10, SEEK_CUR);
    printf("seek cur %lld\n", (long long)pos);
    CHECK("seek before start", lseek(fd, -100, SEEK_SET));

    /* pread/pwrite do not move the offset. */
    n = pwrite(fd, "HELLO", 5, 0);
    printf("pwrite %zd\n", n);
    n = pread(fd, buf, 12, 0);
    buf[n] = 0;
    printf("pread [%s]\n", buf);
    printf("offset still %lld\n", (long long)lseek(fd, 0, SEEK_CUR));

    /* Truncate and stat. */
    CHECK("ftruncate", ftruncate(fd, 13));
    struct stat st;
    fstat(fd, &st);
    printf("size after truncate %lld, regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));
    close(fd);

    /* Append. */
    fd = open(at("work/data.txt"), O_WRONLY | O_APPEND);
    lseek(fd, 0, SEEK_SET);
    n = write(fd, " appended\n", 10);
    close(fd);
    stat(at("work/data.txt"), &st);
    printf("size after append %lld\n", (long long)st.st_size);

    /* Exclusive create. */
    CHECK("create exclusive existing", open(at("work/data.txt"), O_WRONLY | O_CREAT | O_EXCL, 0644));
    CHECK("open missing", open(at("work/missing.txt"), O_RDONLY));
    CHECK("open file as directory", open(at("work/data.txt"), O_RDONLY | O_DIRECTORY));

    /* Rename. */
    CHECK("rename", rename(at("work/data.txt"), at("work/renamed.txt")));
    CHECK("stat old name", stat(at("work/data.txt"), &st));
    CHECK("stat new name", stat(at("work/renamed.txt"), &st));

    /* More entries, then list. */
    close(open(at("work/b.txt"), O_WRONLY | O_CREAT, 0644));
    close(open(at("work/a.txt"), O_WRONLY | O_CREAT, 0644));
    CHECK("mkdir work/sub", mkdir(at("work/sub"), 0755));
    CHECK("symlink", symlink("renamed.txt", at("work/link")));
    list("work");

    /* Links. */
    n = readlink(at("work/link"), buf, sizeof buf);
    buf[n < 0 ? 0 : n] = 0;
    printf("readlink %zd [%s]\n", n, buf);
    stat(at("work/link"), &st);
    printf("stat through link: size %lld regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));
    lstat(at("work/link"), &st);
    printf("lstat link: symlink %d\n", S_ISLNK(st.st_mode));
    CHECK("hard link", link(at("work/renamed.txt"), at("work/hard.txt")));
    stat(at("work/hard.txt"), &st);
    printf("nlink %lu\n", (unsigned long)st.st_nlink);

    /* Timestamps. */
    struct timespec times[2] = {{1000000000, 0}, {1234567890, 500}};
    CHECK("utimensat", utimensat(AT_FDCWD, at("work/renamed.txt"), times, 0));
    stat(at("work/renamed.txt"), &st);
    printf("atime %lld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    fd = open(at("work/a.txt"), O_WRONLY);
    struct timespec ftimes[2] = {{0, UTIME_OMIT}, {2000000000, 0}};
    CHECK("futimens", futimens(fd, ftimes));
    fstat(fd, &st);
    printf("a.txt mtime %lld\n", (long long)st.st_mtim.tv_sec);
    close(fd);

    /* Many entries: listing continues across several fd_readdir calls. */
    CHECK("mkdir many", mkdir(at("many"), 0755));
    for (int i = 0; i < 300; i++) {
        char name[128];
        snprintf(name, sizeof name, "many/a-rather-long-file-name-to-fill-buffers-%03d.txt", i);
        close(open(at(name), O_WRONLY | O_CREAT, 0644));
    }
    DIR *d = opendir(at("many"));
    int count = 0;
    unsigned long sum = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        count++;
        sum += (unsigned long)atoi(e->d_name + 40);
    }
    closedir(d);
    printf("many: %d entries, index sum %lu\n", count, sum);

    /* Errors on removal. */
    CHECK("rmdir non-empty", rmdir(at("work")));
    CHECK("rmdir a file", rmdir(at("work/a.txt")));
    CHECK("unlink a directory", unlink(at("work/sub")));
    CHECK("unlink missing", unlink(at("work/missing")));

    /* Remove everything under work but one file, which is moved to the top. */
    CHECK("unlink link", unlink(at("work/link")));
    CHECK("unlink hard", unlink(at("work/hard.txt")));
    CHECK("unlink a", unlink(at("work/a.txt")));
    CHECK("unlink b", unlink(at("work/b.txt")));
    CHECK("rmdir sub", rmdir(at("work/sub")));
    CHECK("move out", rename(at("work/renamed.txt"), at("result.txt")));
    CHECK("rmdir work", rmdir(at("work")));
    for (int i = 0; i < 300; i++) {
        char name[128];
        snprintf(name, sizeof name, "many/a-rather-long-file-name-to-fill-buffers-%03d.txt", i);
        if (unlink(at(name)) != 0)
            printf("unlink %s: %s\n", name, errname(errno));
    }
    CHECK("rmdir many", rmdir(at("many")));
    list(".");

    /* A binary file the host checks byte for byte. */
    f = fopen(at("bytes.bin"), "wb");
    for (int i = 0; i < 100000; i++)
        fputc((i * 7 + 3) & 0xff, f);
    fclose(f);
    printf("done\n");
    return 0;
}
