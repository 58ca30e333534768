/*
 * Hand-over from a running holder (old) to a new one on the same path.
 *
 *   new -> old  TAKEOVER       old freezes: from now on it changes nothing
 *                              and answers every other request "moved";
 *   old -> new  the DUMP       every entry with its fds;
 *   new         binds PATH.tmp, renames it over PATH: new clients reach it;
 *   new -> old  TAKEOVER_DONE  old accepts what waits in its backlog (to
 *                              answer "moved"), closes its socket, closes
 *                              each client once nothing is in flight, exits.
 *
 * A client answered "moved", or whose connection the old holder closed
 * without an answer, reconnects and retries: the old holder processed
 * nothing after the dump, so a retry never repeats a request.  If the new
 * holder goes away before TAKEOVER_DONE, the old one thaws and carries on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "holder.h"
#include "../lib/internal.h"

#define TAKEOVER_WAIT_S 60

void takeover_begin(struct holder *h, struct conn *c)
{
	if (!acl_is_admin(h, c)) {
		conn_reply_err(h, c, HP_TAKEOVER, HP_EACCES, 0);
		return;
	}
	if (h->stopping) {
		conn_reply_err(h, c, HP_TAKEOVER, HP_ESHUTDOWN, 0);
		return;
	}
	hlog(h, "pid %d takes over: %zu entries, %zu fds handed over",
	     (int)c->peer.pid, h->store.count, h->store.fds);
	h->state = H_MOVED;
	hnotify_pause(h, 1);
	h->moved_by = c;
	c->takeover = 1;
	ops_dump_reply(h, c);
}

/* Frozen, the path another holder's: answer "moved", exit once idle. */
static void hand_over(struct holder *h)
{
	h->handed_over = 1;
	while (accept_clients(h, 1024))
		;
	holder_listen_stop(h); /* the path is the new holder's: not unlinked */
}

void takeover_done(struct holder *h, struct conn *c)
{
	if (!c->takeover) {
		conn_reply_err(h, c, HP_TAKEOVER_DONE, HP_EINVAL, 0);
		return;
	}
	hand_over(h);
	hlog(h, "handed over; exiting once the %zu clients left are answered",
	     h->nconns - 1);
	conn_reply_err(h, c, HP_TAKEOVER_DONE, HP_OK, 0);
}

/* The path leads to a socket that is not ours (the new holder's). */
static int path_taken(struct holder *h)
{
	struct stat st;

	if (h->lfd < 0 || stat(h->sp.path, &st) < 0)
		return 0;
	return st.st_dev != h->sp.dev || st.st_ino != h->sp.ino;
}

/*
 * The path leads to a socket nobody listens on (the new holder renamed
 * its own over it, then died): a listening socket of ours there again,
 * in the epoll set.  Its fd, or -1 (a live holder answers there).
 */
static int retake_path(struct holder *h, struct sockpath *sp)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &h->listen_kind };
	gid_t gid = h->cf.have_group ? h->cf.group : (gid_t)-1;
	int fd;

	if (sockpath_check(sp, h->cf.socket, 0) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &e) < 0 ||
	    sockpath_bind(sp, fd, h->cf.mode, gid, 4096, SOCKPATH_RENAME) < 0) {
		close_keep_errno(fd); /* and out of the epoll set */
		return -1;
	}
	return fd;
}

/* Serving again: the clients waiting on the old socket, then the new one. */
static void swap_listener(struct holder *h, int fd, const struct sockpath *sp)
{
	while (h->lfd >= 0 && accept_clients(h, 1024))
		;
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->lfd, NULL);
	close(h->lfd);
	h->lfd = fd;
	h->sp = *sp;
}

void takeover_abort(struct holder *h, struct conn *c)
{
	struct sockpath sp;
	int fd = -1;

	(void)c;
	h->moved_by = NULL;
	if (h->handed_over || h->state != H_MOVED)
		return;
	/* TAKEOVER_DONE lost, but the new holder has the path already. */
	if (path_taken(h) && (fd = retake_path(h, &sp)) < 0) {
		hand_over(h);
		hlog(h, "the new holder has the path, its connection was lost: "
		     "handed over; exiting once the %zu clients left are answered",
		     h->nconns > 0 ? h->nconns - 1 : 0);
		return;
	}
	h->state = H_RUN;
	if (fd >= 0) {
		swap_listener(h, fd, &sp);
		hlog(h, "the new holder left a dead socket at %s: taken back", h->sp.path);
	}
	hnotify_pause(h, 0); /* and its path taken back, if need be */
	hlog(h, "the takeover was abandoned: serving again");
	entries_drop_hung_up(h);
}

static int connect_old(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = TAKEOVER_WAIT_S };
	int fd;

	if (strlen(path) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}

/* The reply's code, or -1 for a reply that is not one to type. */
static int reply_code(const struct fdshare_msg *m, uint32_t type)
{
	if ((m->type != (type | HP_REPLY) && m->type != HP_REPLY) || m->len < 8) {
		errno = EPROTO;
		return -1;
	}
	return (int)get_le32(m->data);
}

static int load_dump(struct holder *h, struct fdshare_msg *m)
{
	struct hreq req;
	uint32_t code, bad;

	if (m->len < 16) {
		errno = EPROTO;
		return -1;
	}
	if (get_le32((unsigned char *)m->data + 12) == 0 && m->nfds == 0)
		return 0; /* nothing held */
	code = hreq_decode(HP_RESTORE, (unsigned char *)m->data + 12, m->len - 12,
	                   m->nfds, &req);
	if (code == HP_OK) {
		code = ops_restore_items(h, &req, m->fds, h->self_uid, &bad);
		hreq_free(&req);
	}
	if (code != HP_OK) {
		errno = hp_errno(code);
		return -1;
	}
	for (size_t i = 0; i < m->nfds; i++)
		m->fds[i] = -1; /* the store's now */
	return 0;
}

/* Connect to the old holder, freeze it and load its state. */
int takeover_fetch(struct holder *h, int *oldfd)
{
	struct fdshare_msg m;
	int fd = connect_old(h->cf.socket), code;

	if (fd < 0) {
		hlog(h, "--takeover: cannot reach a holder at %s: %s", h->cf.socket,
		     strerror(errno));
		return -1;
	}
	if (fdshare_msg_send(fd, HP_TAKEOVER, NULL, 0, NULL, 0) < 0)
		goto fail;
	for (int more = 1; more;) {
		errno = 0;
		if (fdshare_msg_recv(fd, &m) != 1)
			goto fail;
		code = reply_code(&m, HP_DUMP); /* the dump answers TAKEOVER */
		more = code == HP_OK && m.len >= 12 && get_le32((unsigned char *)m.data + 8);
		if (code != HP_OK || load_dump(h, &m) < 0) {
			hlog(h, "--takeover: refused by the old holder: %s",
			     code > 0 ? strerror(hp_errno((uint32_t)code)) : strerror(errno));
			fdshare_msg_free(&m);
			close(fd); /* the old holder thaws */
			return -1;
		}
		fdshare_msg_free(&m);
	}
	hlog(h, "took over %zu entries, %zu fds", h->store.count, h->store.fds);
	*oldfd = fd;
	return 0;
fail:
	hlog(h, "--takeover: no dump from the old holder: %s",
	     errno ? strerror(errno) : "it hung up");
	close(fd);
	return -1;
}

/* The path is ours now: tell the old holder to finish and go. */
int takeover_finish(struct holder *h, int oldfd)
{
	struct fdshare_msg m;
	int r = -1;

	if (fdshare_msg_send(oldfd, HP_TAKEOVER_DONE, NULL, 0, NULL, 0) == 0 &&
	    fdshare_msg_recv(oldfd, &m) == 1) {
		r = reply_code(&m, HP_TAKEOVER_DONE) == HP_OK ? 0 : -1;
		fdshare_msg_free(&m);
	}
	if (r < 0)
		hlog(h, "--takeover: the old holder did not confirm the hand-over");
	close(oldfd);
	return r;
}
