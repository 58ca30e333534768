/*
 * The event loop: one epoll set for the listening socket, the signals
 * (signalfd), the clients, the --notify-socket and the watched fds of
 * drop-on-hangup entries;
 * its timeout is the next expiry or client deadline.  Whatever is freed
 * during a round of events waits in limbo until the round is over, since
 * later events of the same round may point to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "holder.h"
#include "../lib/internal.h"

#define EVENTS 256
#define ACCEPT_MAX 64 /* accept4 calls per wake-up, at most */

void hlog(struct holder *h, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	(void)h;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "fdshare holder[%d]: %s\n", (int)getpid(), buf);
}

int holder_listen_add(struct holder *h)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &h->listen_kind };

	return epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->lfd, &e);
}

/* Stop accepting: the socket file goes too, if it is still ours. */
void holder_listen_stop(struct holder *h)
{
	hnotify_stop(h);
	if (h->lfd < 0)
		return;
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->lfd, NULL);
	close(h->lfd);
	h->lfd = -1;
	if (h->state == H_RUN)
		sockpath_unlink(&h->sp);
}

/* Over --max-clients or out of fds: say so, then hang up. */
static void refuse_client(struct holder *h, int fd, uint32_t code)
{
	unsigned char b[FRAME_HDR_LEN + 8];
	struct iovec iov = { .iov_base = b, .iov_len = sizeof b };

	frame_put_header(b, HP_REPLY, 8, 0);
	put_le32(b + FRAME_HDR_LEN, code);
	put_le32(b + FRAME_HDR_LEN + 4, 0);
	fds_sendmsg(fd, &iov, 1, NULL, 0, MSG_DONTWAIT);
	close(fd);
	(void)h;
}

/*
 * Past --max-clients, root and the holder's own user still have
 * ADMIN_CONNS connections (out of the descriptors kept for the holder's
 * own use): a full holder can still be listed, emptied or taken over.
 */
#define ADMIN_CONNS 4

static int admin_may_enter(const struct holder *h, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof cr;

	if (h->nconns >= h->cf.max_clients + ADMIN_CONNS)
		return 0;
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 &&
	       (cr.uid == 0 || cr.uid == h->self_uid);
}

int accept_clients(struct holder *h, int max)
{
	for (int i = 0; i < max && h->lfd >= 0; i++) {
		struct conn *c;
		int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0 && (errno == EMFILE || errno == ENFILE) && h->reserve_fd >= 0) {
			close(h->reserve_fd);
			fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd >= 0)
				refuse_client(h, fd, HP_ENFILE);
			h->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			hlog(h, "out of descriptors: a client was refused");
			return 1;
		}
		if (fd < 0)
			return 0;
		if (h->nconns >= h->cf.max_clients && !admin_may_enter(h, fd)) {
			hlog(h, "--max-clients %zu reached: a client was refused",
			     h->cf.max_clients);
			refuse_client(h, fd, HP_EUSERS);
			continue;
		}
		c = conn_new(h, fd);
		if (c == NULL && errno == EUSERS) {
			refuse_client(h, fd, HP_EUSERS); /* conn_new said why */
			continue;
		}
		if (c == NULL) {
			hlog(h, "a client could not be taken: %s", strerror(errno));
			refuse_client(h, fd, HP_ENOMEM);
			continue;
		}
		/* A client sends its request as soon as it is connected: by
		 * now it is likely there, and one read saves a round of epoll.
		 * Once it is answered, most clients hang up (one request per
		 * connection: the CLI): on a busy CPU the reply let the client
		 * run, and a read finds the end, which saves watching it. */
		conn_event(h, c, EPOLLIN);
		if (!c->dead && c->served && conn_idle(c))
			conn_event(h, c, EPOLLIN);
		conn_watch(h, c);
	}
	return 1;
}

/*
 * Accept a batch per wake-up, not until EAGAIN: a client that connects
 * alone costs one accept4.  The batch doubles while the listening socket
 * is ready again in the very next round after a full batch (a burst, or
 * clients that come back while the batch is served), and is back to one
 * once a batch ends on EAGAIN.  Between batches the loop serves the
 * clients it has (epoll is level-triggered).
 */
static void accept_batch(struct holder *h)
{
	unsigned n = h->accept_batch ? h->accept_batch : 1;

	if (h->accept_full && h->accept_full + 1 == h->rounds && n < ACCEPT_MAX)
		n *= 2;
	h->accept_full = 0;
	if (accept_clients(h, (int)n) == 0)
		n = 1;
	else
		h->accept_full = h->rounds;
	h->accept_batch = n;
}

/*
 * Close the connections that are not needed: the idle ones, or (busy) every
 * one; never that of a takeover under way.  Whether none is left.
 */
static int close_conns(struct holder *h, int busy)
{
	struct conn *c = h->conns, *next;

	for (; c; c = next) {
		next = c->next;
		if ((busy || conn_idle(c)) &&
		    !(c->takeover && h->state == H_MOVED && !h->handed_over))
			conn_close(h, c);
	}
	return h->conns == NULL;
}

static void on_signal(struct holder *h)
{
	struct signalfd_siginfo si;

	while (read(h->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			holder_load_rules(h, 0);
		} else if (!h->stopping) {
			hlog(h, "signal %u: finishing the requests in flight, then exiting",
			     si.ssi_signo);
			h->stopping = 1;
			while (h->state == H_RUN && accept_clients(h, 1024))
				; /* what waits in the backlog is in flight too */
			holder_listen_stop(h);
		} else {
			/* a client may take for ever (--timeout 0): not the operator */
			hlog(h, "signal %u again: dropping the requests still in flight",
			     si.ssi_signo);
			close_conns(h, 1);
		}
	}
}

static void free_limbo(struct holder *h)
{
	while (h->limbo_e) {
		struct entry *e = h->limbo_e;

		h->limbo_e = e->limbo;
		free(e->fds);
		free(e);
	}
	while (h->limbo_c) {
		struct conn *c = h->limbo_c;

		h->limbo_c = c->limbo;
		free(c);
	}
}

static int next_timeout(struct holder *h, int64_t now)
{
	int64_t t = -1;
	struct entry *e = h->state == H_MOVED ? NULL : store_heap_top(&h->store);

	if (e)
		t = e->expires;
	if (h->thead && (t < 0 || h->thead->deadline < t))
		t = h->thead->deadline;
	if (h->retry_at && (t < 0 || h->retry_at < t))
		t = h->retry_at;
	if (h->ready)
		t = now;
	if (t < 0)
		return -1;
	if (t <= now)
		return 0;
	return t - now > 60000 ? 60000 : (int)(t - now);
}

/* Stopping: clients with nothing in flight are closed; 1 when none left. */
static void dispatch(struct holder *h, struct epoll_event *ev)
{
	int kind = *(int *)ev->data.ptr;

	if (kind == W_LISTEN)
		accept_batch(h);
	else if (kind == W_SIGNAL)
		on_signal(h);
	else if (kind == W_CONN)
		conn_event(h, ev->data.ptr, ev->events);
	else if (kind == W_NOTIFY)
		hnotify_event(h);
	else if (kind == W_ENTRY && h->state != H_MOVED)
		entry_drop(h, ev->data.ptr, "hang-up");
	else if (kind == W_ENTRY)
		entry_hangup_later(h, ev->data.ptr); /* frozen: level-triggered */
}

int holder_run(struct holder *h)
{
	struct epoll_event ev[EVENTS];

	for (;;) {
		int64_t now = mono_ms();
		int n;

		if ((h->stopping || h->handed_over) && close_conns(h, 0))
			break;
		n = epoll_wait(h->epfd, ev, EVENTS, next_timeout(h, now));
		if (n < 0 && errno != EINTR) {
			hlog(h, "epoll_wait: %s", strerror(errno));
			return 1;
		}
		h->rounds++;
		for (int i = 0; i < n; i++)
			dispatch(h, &ev[i]);
		conn_run_ready(h);
		now = mono_ms();
		if (h->state != H_MOVED)
			expiry_run(h, now);
		if (h->retry_at && h->retry_at <= now)
			conn_retry_out(h);
		conn_timeout_sweep(h, now);
		free_limbo(h);
	}
	free_limbo(h);
	return 0;
}
