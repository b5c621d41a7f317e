/* Clocks, sleeping, random bytes and poll(): prints one line per check, "ok" or what went
 * wrong, so that the transcript is the same on every run. */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(const char *what, int ok, long long detail) {
    if (ok) {
        printf("%s: ok\n", what);
    } else {
        printf("%s: FAILED (%lld)\n", what, detail);
        failures++;
    }
}

static long long ns(struct timespec t) {
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long long monotonic(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return ns(t);
}

int main(void) {
    struct timespec t;
    check("realtime after 2020", clock_gettime(CLOCK_REALTIME, &t) == 0 && t.tv_sec > 1577836800,
          (long long)t.tv_sec);
    time_t now = time(NULL);
    check("time() agrees with realtime", now >= t.tv_sec && now - t.tv_sec < 5, (long long)now);
    check("monotonic resolution", clock_getres(CLOCK_MONOTONIC, &t) == 0 && ns(t) > 0 && ns(t) <= 1000000,
          ns(t));
    check("realtime resolution", clock_getres(CLOCK_REALTIME, &t) == 0 && ns(t) > 0, ns(t));

    long long a = monotonic(), b = monotonic();
    check("monotonic does not go back", b >= a, b - a);

    long long start = monotonic();
    struct timespec req = {0, 50 * 1000000};
    int r = nanosleep(&req, NULL);
    long long slept = monotonic() - start;
    check("nanosleep 50ms", r == 0 && slept >= 50000000 && slept < 5000000000LL, slept);

    start = monotonic();
    usleep(20000);
    slept = monotonic() - start;
    check("usleep 20ms", slept >= 20000000 && slept < 5000000000LL, slept);

    struct timespec wake;
    clock_gettime(CLOCK_MONOTONIC, &wake);
    wake.tv_nsec += 30000000;
    if (wake.tv_nsec >= 1000000000) {
        wake.tv_sec++;
        wake.tv_nsec -= 1000000000;
    }
    start = monotonic();
    r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL);
    check("clock_nanosleep absolute", r == 0 && monotonic() >= ns(wake), monotonic() - ns(wake));

    unsigned char x[64], y[64], zero[64] = {0};
    check("getentropy", getentropy(x, sizeof x) == 0 && getentropy(y, sizeof y) == 0, 0);
    check("random bytes differ", memcmp(x, y, sizeof x) != 0, 0);
    check("random bytes are not zero", memcmp(x, zero, sizeof x) != 0, 0);
    int ones = 0;
    static unsigned char big[65536];
    arc4random_buf(big, sizeof big);
    for (size_t i = 0; i < sizeof big; i++)
        ones += __builtin_popcount(big[i]);
    check("random bits are balanced", ones > 250000 && ones < 274288, ones);

    start = monotonic();
    r = poll(NULL, 0, 30);
    slept = monotonic() - start;
    check("poll timeout 30ms", r == 0 && slept >= 30000000, slept);

    struct pollfd fds[2] = {{.fd = 1, .events = POLLWRNORM}, {.fd = 0, .events = POLLRDNORM}};
    r = poll(fds, 2, 2000);
    check("poll: stdout writable", r >= 1 && (fds[0].revents & POLLWRNORM), fds[0].revents);
    check("poll: stdin readable", r == 2 && (fds[1].revents & POLLRDNORM), fds[1].revents);
    char c[16];
    ssize_t n = read(0, c, sizeof c);
    check("read what poll announced", n == 6 && memcmp(c, "ready\n", 6) == 0, n);

    printf("%s\n", failures ? "FAILED" : "all ok");
    return failures;
}
