/* Prints its arguments and its environment (sorted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=[%s]\n", i, argv[i]);
    size_t n = 0;
    while (environ[n])
        n++;
    char **vars = malloc((n + 1) * sizeof *vars);
    memcpy(vars, environ, n * sizeof *vars);
    qsort(vars, n, sizeof *vars, cmp);
    printf("envc=%zu\n", n);
    for (size_t i = 0; i < n; i++)
        printf("env[%zu]=[%s]\n", i, vars[i]);
    const char *g = getenv("GREETING");
    printf("getenv(GREETING)=[%s]\n", g ? g : "(unset)");
    return 0;
}
