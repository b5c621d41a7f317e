/* Kiln's minimal C entry point: load an artifact (from a file, a buffer, or an image linked into
 * the executable by `kiln compile --emit obj`), instantiate it without imports or with WASI
 * preview 1, call an export by name or run a WASI command. Link with libkiln_capi.a and
 * -lpthread -ldl -lm.
 *
 * Functions that fail return NULL or -1 and write a NUL-terminated message into `err` (of
 * `err_len` bytes; may be NULL). Values are 64-bit words: an i32 in the low half, floats as bits. */
#ifndef KILN_H
#define KILN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct KilnArtifact kiln_artifact;
typedef struct KilnInstance kiln_instance;
typedef struct KilnWasiConfig kiln_wasi_config;

kiln_artifact *kiln_artifact_open(const char *path, char *err, size_t err_len);
kiln_artifact *kiln_artifact_from_bytes(const uint8_t *bytes, size_t len, char *err, size_t err_len);
/* `image` must be mapped read+exec and never written for the life of the process, as the section
 * of a linked `kiln compile --emit obj` object is; page-aligned. */
kiln_artifact *kiln_artifact_from_static(const uint8_t *image, size_t len, char *err, size_t err_len);
void kiln_artifact_free(kiln_artifact *artifact);

kiln_instance *kiln_instance_new(const kiln_artifact *artifact, char *err, size_t err_len);
void kiln_instance_free(kiln_instance *instance);
int kiln_instance_call(kiln_instance *instance, const char *name, const uint64_t *args, size_t nargs,
                       uint64_t *results, size_t nresults, char *err, size_t err_len);

/* WASI: a configuration (no arguments, environment or directories, stdio closed until asked),
 * checked at instantiation. The first argument is the program's name. */
kiln_wasi_config *kiln_wasi_config_new(void);
void kiln_wasi_config_arg(kiln_wasi_config *config, const char *arg);
void kiln_wasi_config_env(kiln_wasi_config *config, const char *name, const char *value);
void kiln_wasi_config_preopen_dir(kiln_wasi_config *config, const char *host_path, const char *guest_path);
void kiln_wasi_config_inherit_stdio(kiln_wasi_config *config);
void kiln_wasi_config_free(kiln_wasi_config *config);
/* Instantiates with WASI (any other import is an error); `config` may be freed afterwards. */
kiln_instance *kiln_instance_new_wasi(const kiln_artifact *artifact, const kiln_wasi_config *config,
                                      char *err, size_t err_len);
/* Runs `_start`. Returns 0 with the guest's exit status in *status (0 if `_start` returned, the
 * `proc_exit` status otherwise), or -1 with the error (a trap, no `_start`). */
int kiln_instance_run(kiln_instance *instance, int *status, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
