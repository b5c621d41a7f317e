/* A C host running a WASI command: c_wasi_host ARTIFACT DIR [ARG...] runs ARTIFACT with the
 * arguments, GREETING=from-c in its environment, DIR preopened as /sandbox (unless DIR is "-"),
 * and the host's stdio; prints the exit status, or the error. */
#include "kiln.h"
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    char err[512];
    if (argc < 3) return 2;
    kiln_artifact *artifact = kiln_artifact_open(argv[1], err, sizeof err);
    if (!artifact) {
        printf("open: %s\n", err);
        return 1;
    }
    kiln_wasi_config *config = kiln_wasi_config_new();
    kiln_wasi_config_arg(config, "guest");
    for (int i = 3; i < argc; i++) kiln_wasi_config_arg(config, argv[i]);
    kiln_wasi_config_env(config, "GREETING", "from-c");
    if (strcmp(argv[2], "-") != 0) kiln_wasi_config_preopen_dir(config, argv[2], "/sandbox");
    kiln_wasi_config_inherit_stdio(config);
    kiln_instance *instance = kiln_instance_new_wasi(artifact, config, err, sizeof err);
    kiln_wasi_config_free(config);
    if (!instance) {
        printf("instantiate: %s\n", err);
        return 1;
    }
    int status = -1;
    fflush(stdout);
    if (kiln_instance_run(instance, &status, err, sizeof err) != 0) {
        printf("run: %s\n", err);
    } else {
        printf("status: %d\n", status);
    }
    kiln_instance_free(instance);
    kiln_artifact_free(artifact);
    return 0;
}
