/* deadline.c - a total deadline for each request's headers and body (slow clients, "slowloris").
 *
 * libmicrohttpd's connection timeout is an idle timeout: every byte restarts it, so a client that
 * sends one header byte every few seconds holds its connection for ever, and a swarm of them holds
 * every connection its address may open (and, without a per-address limit, the server's). Here each
 * connection also carries a deadline by which the request's headers and body must all be in. It
 * is armed when the connection opens and again when a request is answered (the next request on a
 * kept-alive connection), and disarmed once the body is complete (what follows is the server's
 * pace, not the client's). A watchdog thread shuts down the socket of any connection past its
 * deadline; libmicrohttpd's own poll then sees the end of the stream and closes the connection the
 * normal way, on its own thread.
 *
 * The watchdog works on a dup() of each connection's descriptor, closed when libmicrohttpd reports
 * the connection closed: whatever the order in which libmicrohttpd closes its descriptor and tells
 * us, a shutdown can never reach a socket that a new connection re-used the number of. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/deadline.h"

struct srv_deadline_conn {
    srv_deadline_conn *prev, *next;
    int fd;            /* our duplicate of the connection's socket */
    int armed;
    double due;        /* CLOCK_MONOTONIC seconds */
};

struct srv_deadlines {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t thread;
    int started, stop;
    double limit_s;
    srv_deadline_conn head; /* sentinel of a circular list */
};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *watchdog(void *arg) {
    srv_deadlines *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        double t = now_s(), next = t + 1.0;
        for (srv_deadline_conn *c = d->head.next; c != &d->head; c = c->next) {
            if (!c->armed) continue;
            if (c->due <= t) {
                shutdown(c->fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes the connection */
                c->armed = 0;
            } else if (c->due < next) {
                next = c->due;
            }
        }
        /* the condition variable runs on CLOCK_MONOTONIC (see srv_deadlines_new) */
        struct timespec ts;
        ts.tv_sec = (time_t)next;
        ts.tv_nsec = (long)((next - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&d->cond, &d->mu, &ts);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

srv_deadlines *srv_deadlines_new(double limit_s) {
    srv_deadlines *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->limit_s = limit_s;
    d->head.next = d->head.prev = &d->head;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&d->mu, NULL);
    if (pthread_create(&d->thread, NULL, watchdog, d)) {
        srv_deadlines_free(d);
        return NULL;
    }
    d->started = 1;
    return d;
}

void srv_deadlines_free(srv_deadlines *d) {
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->mu);
    if (d->started) pthread_join(d->thread, NULL);
    while (d->head.next != &d->head) srv_deadline_close(d, d->head.next);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

srv_deadline_conn *srv_deadline_open(srv_deadlines *d, int fd) {
    srv_deadline_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if ((c->fd = dup(fd)) < 0) {
        free(c);
        return NULL;
    }
    pthread_mutex_lock(&d->mu);
    c->next = &d->head;
    c->prev = d->head.prev;
    c->prev->next = c;
    d->head.prev = c;
    c->armed = 1;
    c->due = now_s() + d->limit_s;
    pthread_mutex_unlock(&d->mu);
    return c;
}

void srv_deadline_arm(srv_deadlines *d, srv_deadline_conn *c, int on) {
    if (!c) return;
    pthread_mutex_lock(&d->mu);
    c->armed = on;
    if (on) c->due = now_s() + d->limit_s;
    pthread_mutex_unlock(&d->mu);
}

void srv_deadline_close(srv_deadlines *d, srv_deadline_conn *c) {
    if (!c) return;
    pthread_mutex_lock(&d->mu);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    pthread_mutex_unlock(&d->mu);
    close(c->fd);
    free(c);
}
