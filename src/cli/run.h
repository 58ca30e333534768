/*
 * "fdshare run": the command (run.c), the supervisor's loop (run_loop.c)
 * and its file descriptor store (run_store.c).
 */
#ifndef FDSHARE_RUN_H
#define FDSHARE_RUN_H

#include <stddef.h>
#include <sys/types.h>

#include "../lib/notify.h"
#include "activate.h"
#include "fdshare.h"

/*
 * The fd store: systemd's FileDescriptorStoreMax= without systemd.  Fds an
 * instance sends with FDSTORE=1 are kept under their FDNAME and passed to
 * every later instance after the ADDR sockets; with --holder they are also
 * kept in the holder, under PREFIX + FDNAME, so that a new supervisor
 * finds them.
 */

#define STORE_NAME_MAX 255

struct stored {
	char name[STORE_NAME_MAX + 1];
	int fd;
	int poll;               /* watched: dropped on EPOLLHUP/EPOLLERR */
	unsigned long long id;  /* the epoll key */
};

struct fdstore {
	struct stored *v;
	size_t n, max;
	int epfd;               /* polled fds, for their hang-ups */
	unsigned long long next_id;
	/* the holder's copy, with --holder */
	int use_holder;
	struct fdshare_holder *h;
	const char *socket;     /* NULL: the default path */
	const char *prefix;
};

/* 0, or -1 and errno (epoll_create1). */
int fdstore_init(struct fdstore *s, size_t max);
/* What the holder kept under the prefix, into an empty store: 0 or -1. */
int fdstore_load(struct fdstore *s);
/* Take n fds under name (duplicates of stored files and overflow closed). */
void fdstore_add(struct fdstore *s, const char *name, const int *fds, size_t n, int poll);
void fdstore_remove(struct fdstore *s, const char *name);
/* Drop the polled fds that hung up (s->epfd is readable). */
void fdstore_hangups(struct fdstore *s);
/* pass[0..n) of the stored fds; n = s->n. */
void fdstore_pass(const struct fdstore *s, struct fdshare_pass *pass);
void fdstore_free(struct fdstore *s);

/* The supervisor: instances of CMD, and what they share. */
#define MAX_INST 8              /* instances at once, stopping ones included */
#define NO_DEADLINE (-1LL)

enum role { CURRENT, STARTING, STOPPING };

struct inst {
	pid_t pid;
	int role;
	int ready;
	long long started, deadline;    /* ms, CLOCK_MONOTONIC */
};

struct run {
	char **cmd, **env;
	struct activation act;
	struct fdstore store;
	struct inst inst[MAX_INST];
	size_t ninst;
	int sigfd, notifyfd;
	char dir[96], path[128];
	int wait_ready, stopping, fails;
	long long ready_ms, stop_ms, restart_at;
	struct notify_rx rx;
};

/* A new instance of CMD with the sockets and the fd store, or NULL. */
struct inst *run_start(struct run *r, int role);
/* Until stopped by a signal and every instance is gone. */
void run_loop(struct run *r);

#endif
