/* A real-world workload: zlib compresses and decompresses a generated 1 MiB buffer at several
 * levels, in one call and in small streaming chunks (gzip format), and through a .gz file in the
 * directory given as argv[1]. Prints sizes and checksums, which must match a native build. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "zlib.h"

#define SIZE (1u << 20)

static unsigned char *make_input(void) {
    unsigned char *b = malloc(SIZE);
    uint32_t x = 2463534242u;
    static const char *words[] = {"kiln ", "wasm ", "ahead ", "of ", "time ", "compiler ",
                                  "runtime ", "preview ", "one\n", "sandbox "};
    size_t i = 0;
    while (i < SIZE) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if (x % 8 == 0) {
            /* A stretch of noise. */
            for (int k = 0; k < 16 && i < SIZE; k++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                b[i++] = (unsigned char)x;
            }
        } else {
            const char *w = words[x % 10];
            for (size_t k = 0; w[k] && i < SIZE; k++)
                b[i++] = (unsigned char)w[k];
        }
    }
    return b;
}

static int streaming(const unsigned char *in, unsigned char *packed, size_t packed_cap,
                     unsigned char *out) {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (deflateInit2(&s, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t fed = 0;
    s.next_out = packed;
    s.avail_out = 4096;
    int r;
    do {
        if (s.avail_in == 0 && fed < SIZE) {
            size_t chunk = SIZE - fed < 3000 ? SIZE - fed : 3000;
            s.next_in = (unsigned char *)in + fed;
            s.avail_in = (uInt)chunk;
            fed += chunk;
        }
        if (s.avail_out == 0) {
            size_t used = (size_t)(s.next_out - packed);
            s.avail_out = (uInt)(packed_cap - used < 4096 ? packed_cap - used : 4096);
        }
        r = deflate(&s, fed == SIZE ? Z_FINISH : Z_NO_FLUSH);
    } while (r == Z_OK || r == Z_BUF_ERROR);
    size_t packed_len = s.total_out;
    deflateEnd(&s);
    if (r != Z_STREAM_END)
        return -2;

    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, 15 + 16) != Z_OK)
        return -3;
    size_t given = 0;
    s.next_out = out;
    do {
        if (s.avail_in == 0) {
            size_t chunk = packed_len - given < 1000 ? packed_len - given : 1000;
            s.next_in = packed + given;
            s.avail_in = (uInt)chunk;
            given += chunk;
        }
        s.avail_out = 777;
        r = inflate(&s, Z_NO_FLUSH);
    } while (r == Z_OK);
    size_t out_len = s.total_out;
    inflateEnd(&s);
    if (r != Z_STREAM_END || out_len != SIZE || memcmp(in, out, SIZE) != 0)
        return -4;
    printf("stream gzip: %zu bytes, crc32 %08lx\n", packed_len,
           crc32(0, packed + 10, (uInt)(packed_len - 18)));
    return 0;
}

int main(int argc, char **argv) {
    unsigned char *in = make_input();
    uLong cap = compressBound(SIZE);
    unsigned char *packed = malloc(cap);
    unsigned char *out = malloc(SIZE);
    int failures = 0;

    printf("zlib %s\n", zlibVersion());
    printf("input: %u bytes, crc32 %08lx, adler32 %08lx\n", SIZE, crc32(0, in, SIZE),
           adler32(1, in, SIZE));
    static const int levels[] = {0, 1, 6, 9};
    for (int l = 0; l < 4; l++) {
        uLongf packed_len = cap;
        if (compress2(packed, &packed_len, in, SIZE, levels[l]) != Z_OK) {
            printf("level %d: compress failed\n", levels[l]);
            failures++;
            continue;
        }
        uLongf out_len = SIZE;
        memset(out, 0, SIZE);
        int r = uncompress(out, &out_len, packed, packed_len);
        int same = r == Z_OK && out_len == SIZE && memcmp(in, out, SIZE) == 0;
        failures += !same;
        printf("level %d: %lu bytes, crc32 %08lx, round trip %s\n", levels[l],
               (unsigned long)packed_len, crc32(0, packed, (uInt)packed_len),
               same ? "ok" : "FAILED");
    }
    int r = streaming(in, packed, cap, out);
    if (r != 0) {
        printf("stream gzip: FAILED (%d)\n", r);
        failures++;
    }

    if (argc > 1) {
        char path[512];
        snprintf(path, sizeof path, "%s/data.gz", argv[1]);
        gzFile g = gzopen(path, "wb9");
        if (!g || gzwrite(g, in, SIZE) != (int)SIZE || gzclose(g) != Z_OK) {
            printf("gz write: FAILED\n");
            failures++;
        } else {
            struct stat st;
            stat(path, &st);
            printf("gz file: %lld bytes\n", (long long)st.st_size);
            memset(out, 0, SIZE);
            g = gzopen(path, "rb");
            int got = g ? gzread(g, out, SIZE) : -1;
            if (g)
                gzclose(g);
            int same = got == (int)SIZE && memcmp(in, out, SIZE) == 0;
            failures += !same;
            printf("gz read back: %s\n", same ? "ok" : "FAILED");
        }
    }
    printf("%s\n", failures ? "FAILED" : "all ok");
    return failures;
}
