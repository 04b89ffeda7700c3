/* deadline.h - a total deadline for each request's headers and body (see deadline.c). Thread-safe:
 * libmicrohttpd calls these from each connection's own thread. */
#ifndef QWEN3_SERVER_DEADLINE_H
#define QWEN3_SERVER_DEADLINE_H

typedef struct srv_deadlines srv_deadlines;
typedef struct srv_deadline_conn srv_deadline_conn;

/* Starts the watchdog: a request's headers and body must arrive within limit_s seconds. NULL when
 * out of memory or threads. */
srv_deadlines *srv_deadlines_new(double limit_s);
/* Stops the watchdog; every connection must have been closed (srv_deadline_close) or is closed now. */
void srv_deadlines_free(srv_deadlines *d);

/* A new connection on socket fd, its deadline armed. NULL when out of memory or descriptors (the
 * connection then has no deadline beyond the idle timeout). */
srv_deadline_conn *srv_deadline_open(srv_deadlines *d, int fd);
/* on = 1: the next request starts now (deadline re-armed); 0: the request is in, no deadline. */
void srv_deadline_arm(srv_deadlines *d, srv_deadline_conn *c, int on);
/* The connection is closed: forget it. */
void srv_deadline_close(srv_deadlines *d, srv_deadline_conn *c);

#endif
