/* A C host: runs the artifact linked into this executable (`kiln compile --emit obj`, symbol
 * `kiln_artifact_guest`), then the file given as argv[1] through a buffer, and shows a trap's
 * and a refused artifact's messages. */
#include "kiln.h"
#include <stdio.h>
#include <stdlib.h>

extern const uint8_t kiln_artifact_guest[];
extern const uint64_t kiln_artifact_guest_len;

static int run(const char *what, kiln_artifact *artifact) {
    char err[512];
    kiln_instance *instance = kiln_instance_new(artifact, err, sizeof err);
    if (!instance) {
        printf("%s: instantiation failed: %s\n", what, err);
        return 1;
    }
    uint64_t args[1] = {20}, result = 0;
    if (kiln_instance_call(instance, "fib", args, 1, &result, 1, err, sizeof err) != 0) {
        printf("%s: call failed: %s\n", what, err);
        return 1;
    }
    printf("%s: fib(20) = %llu\n", what, (unsigned long long)result);
    if (kiln_instance_call(instance, "trap", NULL, 0, NULL, 0, err, sizeof err) == 0) {
        printf("%s: the trap did not trap\n", what);
        return 1;
    }
    printf("%s: %s\n", what, err);
    kiln_instance_free(instance);
    return 0;
}

int main(int argc, char **argv) {
    char err[512];
    kiln_artifact *linked = kiln_artifact_from_static(kiln_artifact_guest,
                                                      (size_t)kiln_artifact_guest_len, err, sizeof err);
    if (!linked) {
        printf("linked: %s\n", err);
        return 1;
    }
    if (run("linked", linked)) return 1;
    kiln_artifact_free(linked);

    if (argc > 1) {
        FILE *f = fopen(argv[1], "rb");
        if (!f) return 2;
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        kiln_artifact *from_bytes = kiln_artifact_from_bytes(buf, n, err, sizeof err);
        if (!from_bytes) {
            printf("bytes: %s\n", err);
        } else {
            if (run("bytes", from_bytes)) return 1;
            kiln_artifact_free(from_bytes);
        }
    }
    if (!kiln_artifact_open("/nonexistent.kiln", err, sizeof err)) printf("open: %s\n", err);
    return 0;
}
