/* Ends in the way its arguments ask: exit(N), return N from main, _Exit(N) with unflushed output,
 * or a trap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        printf("usage: exit_code exit|return|_Exit|trap N\n");
        return 0;
    }
    const char *how = argv[1];
    int code = atoi(argv[2]);
    printf("%s %d\n", how, code);
    if (!strcmp(how, "exit"))
        exit(code);
    if (!strcmp(how, "return"))
        return code;
    if (!strcmp(how, "_Exit"))
        _Exit(code); /* the buffered line above is lost */
    if (!strcmp(how, "trap")) {
        fflush(stdout);
        __builtin_trap();
    }
    return 100;
}
