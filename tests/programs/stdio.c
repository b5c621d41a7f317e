/* Echoes standard input to standard output with raw reads and writes, then reports on standard
 * error and through buffered stdio. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    static char buf[3000];
    size_t total = 0;
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(1, buf + off, (size_t)(n - off));
            if (w < 0) {
                perror("write");
                return 1;
            }
            off += w;
        }
        total += (size_t)n;
    }
    if (n < 0) {
        perror("read");
        return 1;
    }
    fprintf(stderr, "echoed %zu bytes\n", total);
    printf("stdout via stdio: %d\n", 42);
    return 0;
}
