/* random.c - ids and default seeds for the server: a splitmix64 stream over an atomic counter,
 * keyed once from getrandom(2) (or the clock when that fails), so two servers never share ids and
 * no two calls in one server return the same value. Not for secrets. */
#include <pthread.h>
#include <sys/random.h>
#include <time.h>

#include "server/server.h"

static uint64_t key;
static uint64_t counter;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_key(void) {
    if (getrandom(&key, sizeof key, GRND_NONBLOCK) != (ssize_t)sizeof key) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        key = (uint64_t)t.tv_sec * 1000000007u ^ (uint64_t)t.tv_nsec;
    }
}

uint64_t srv_random64(void) {
    pthread_once(&once, init_key);
    uint64_t z = key + __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
