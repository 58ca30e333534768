/*
 * --notify-socket: systemd's fd store (sd_notify(3)) on a datagram socket,
 * for programs written against libsystemd.  FDSTORE=1 keeps the fds that
 * come with it under FDNAME= ("stored" without a valid one), added to an
 * entry of that name if there is one, each open file once; watched for
 * hang-up unless FDPOLL=0.  FDSTOREREMOVE=1 removes the entry FDNAME=
 * names.  READY=1 is logged (-v); everything else is ignored.
 *
 * The sender is who SCM_CREDENTIALS says (the kernel vouches for it), held
 * to the rules of a STORE or REMOVE by its uid; its cgroup is not known,
 * so cgroup rules never grant it anything.  No answer goes back: what is
 * refused is logged and its fds closed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "holder.h"
#include "../cli/cli.h"
#include "../lib/internal.h"
#include "../lib/notify.h"
#include "../lib/samefile.h"

#define PER_EVENT 64       /* datagrams per event: then the others' turn */
#define DRAIN_MAX 4096     /* datagrams handled when stopping */

static struct notify_rx rx; /* 1 KiB of fds: not on the stack */

static int flags_of(int takeover)
{
	return SOCKPATH_RENAME | (takeover ? SOCKPATH_TAKEOVER : 0);
}

int hnotify_check(struct holder *h)
{
	const char *path = h->cf.notify_socket;

	if (path == NULL)
		return 0;
	if (sockpath_check(&h->nsp, path, h->cf.takeover ? SOCKPATH_TAKEOVER : 0) == 0)
		return 0;
	cli_sockpath_fail("holder", &h->nsp, errno);
	return -1;
}

/* Bound with the holder's --mode and --group, as PATH.PID renamed over PATH. */
int hnotify_open(struct holder *h)
{
	gid_t gid = h->cf.have_group ? h->cf.group : (gid_t)-1;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &h->notify_kind };
	int fd;

	if (h->cf.notify_socket == NULL)
		return 0;
	fd = notify_socket_new();
	if (fd < 0) {
		hlog(h, "--notify-socket: %s", strerror(errno));
		return -1;
	}
	if (sockpath_bind(&h->nsp, fd, h->cf.mode, gid, -1, flags_of(h->cf.takeover)) < 0) {
		cli_sockpath_fail("holder", &h->nsp, errno);
		close(fd);
		return -1;
	}
	h->nfd = fd;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		hlog(h, "--notify-socket: epoll: %s", strerror(errno));
		return -1;
	}
	hlog(h, "fd store notifications on %s", h->cf.notify_socket);
	return 0;
}

/* ---- FDSTORE=1 ---- */

struct fileid {
	dev_t dev;
	ino_t ino;
};

static struct fileid file_id(int fd)
{
	struct stat st;
	struct fileid id = { 0, 0 };

	if (fstat(fd, &st) == 0) {
		id.dev = st.st_dev;
		id.ino = st.st_ino;
	}
	return id;
}

/*
 * Close each of fds[0..n) whose open file the entry (NULL: none) or an
 * earlier one of fds holds; the rest moved to the front.  Their count.
 * Inodes first, so that kcmp runs only for the same file.
 */
static size_t drop_duplicates(const struct entry *e, int *fds, size_t n)
{
	size_t held = e ? e->nfds : 0, k = held, kept = 0;
	struct fileid *ids = malloc((held + n) * sizeof *ids);

	if (ids == NULL)
		return n; /* kept twice at worst */
	for (size_t i = 0; i < held; i++)
		ids[i] = file_id(e->fds[i]);
	for (size_t j = 0; j < n; j++) {
		struct fileid id = file_id(fds[j]);
		int dup = 0;

		for (size_t i = 0; i < k && !dup; i++)
			dup = ids[i].dev == id.dev && ids[i].ino == id.ino &&
			      fd_same_file(i < held ? e->fds[i] : fds[i - held], fds[j]);
		if (dup) {
			close(fds[j]);
			continue;
		}
		ids[k++] = id;
		fds[kept++] = fds[j];
	}
	free(ids);
	return kept;
}

/* Watched for hang-up, those epoll can watch: a regular file is kept unwatched. */
static void watch(struct holder *h, struct entry *e, const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct epoll_event ev = { .events = 0, .data.ptr = e };

		if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fds[i], &ev) < 0 && h->cf.verbose)
			hlog(h, "%.*s: a fd epoll cannot watch (%s): kept, not watched "
			     "for hang-up", (int)e->namelen, e->name, strerror(errno));
	}
}

static int create(struct holder *h, uid_t uid, const char *name, uint32_t flags,
                  const int *fds, size_t n)
{
	struct entry *e = entry_new(name, strlen(name));

	if (e == NULL || (e->fds = malloc(n * sizeof(int))) == NULL) {
		free(e);
		return -1;
	}
	memcpy(e->fds, fds, n * sizeof(int));
	e->nfds = n;
	e->owner = uid;
	e->flags = flags;
	e->created = mono_ms();
	if (flags & HP_F_DROP_ON_HANGUP)
		watch(h, e, fds, n);
	store_put(&h->store, e); /* no TTL: cannot fail */
	return 0;
}

static int append(struct holder *h, struct entry *e, const int *fds, size_t n)
{
	int *v = realloc(e->fds, (e->nfds + n) * sizeof(int));

	if (v == NULL)
		return -1;
	e->fds = v;
	if (e->flags & HP_F_DROP_ON_HANGUP)
		watch(h, e, fds, n);
	store_unlink(&h->store, e); /* the counts, then back with the new fds */
	memcpy(e->fds + e->nfds, fds, n * sizeof(int));
	e->nfds += n;
	store_put(&h->store, e);
	return 0;
}

/* The entry's name: FDNAME= if the holder may hold it, else "stored". */
static const char *store_name(struct holder *h, const struct notify_rx *r)
{
	const char *name = notify_store_name(&r->msg);

	if (hp_name_ok(name, strlen(name)))
		return name;
	hlog(h, "notify pid %d uid %u: FDNAME '%s' has a space, which holder names "
	     "cannot: the fds go under 'stored'", (int)r->pid, (unsigned)r->uid, name);
	return "stored";
}

/* A wire code: HP_OK, or why the fds were refused (and closed). */
static uint32_t fdstore(struct holder *h, const struct fdshare_peer *p, const char *name,
                        uint32_t flags, int *fds, size_t *n)
{
	size_t len = strlen(name);
	struct entry *e = store_get(&h->store, name, len);

	if (e && !acl_allows_peer(h, p, NULL, OP_STORE, e, name, len))
		return HP_EACCES;
	if (e && (e->flags & HP_F_DROP_ON_HANGUP) != flags)
		return HP_EINVAL;
	*n = drop_duplicates(e, fds, *n);
	if (*n == 0)
		return HP_OK;
	if (h->store.fds + h->claimed + *n > h->cf.max_fds)
		return HP_EMFILE;
	/* The fds are the entry owner's, whoever sends them. */
	if (store_uid_fds(&h->store, e ? e->owner : p->uid) + *n > h->cf.quota)
		return HP_EDQUOT;
	if (e && e->nfds + *n > FDSHARE_MSG_MAX_FDS) /* one frame takes it out */
		return HP_EMSGSIZE;
	if ((e ? append(h, e, fds, *n) : create(h, p->uid, name, flags, fds, *n)) < 0)
		return HP_ENOMEM;
	return HP_OK;
}

static void on_fdstore(struct holder *h, const struct fdshare_peer *p, struct notify_rx *r)
{
	const char *name = store_name(h, r);
	uint32_t flags = r->msg.fdpoll ? HP_F_DROP_ON_HANGUP : 0;
	size_t n = r->nfds;
	uint32_t code = fdstore(h, p, name, flags, r->fds, &n);

	if (code != HP_OK) {
		close_fds(r->fds, n);
		hlog(h, "notify pid %d uid %u: FDSTORE=1 '%s' refused, %zu fd%s closed: %s",
		     (int)p->pid, (unsigned)p->uid, name, r->nfds, r->nfds == 1 ? "" : "s",
		     code == HP_EINVAL ? "FDPOLL differs from the entry's" :
		     code == HP_EMSGSIZE ? "the entry would hold more fds than a frame "
		     "carries" : strerror(hp_errno(code)));
	} else if (h->cf.verbose) {
		hlog(h, "notify pid %d uid %u: FDSTORE=1 '%s': %zu fd%s kept, %zu duplicate%s "
		     "closed", (int)p->pid, (unsigned)p->uid, name, n, n == 1 ? "" : "s",
		     r->nfds - n, r->nfds - n == 1 ? "" : "s");
	}
	r->nfds = 0;
}

/* ---- FDSTOREREMOVE=1 ---- */

static void on_remove(struct holder *h, const struct fdshare_peer *p,
                      const struct notify_msg *m)
{
	const char *name = m->fdname;
	size_t len = strlen(name);
	struct entry *e;

	if (!hp_name_ok(name, len)) {
		hlog(h, "notify pid %d uid %u: FDSTOREREMOVE=1 without a FDNAME the holder "
		     "may hold: ignored", (int)p->pid, (unsigned)p->uid);
		return;
	}
	e = store_get(&h->store, name, len);
	if (e && !acl_allows_peer(h, p, NULL, OP_REMOVE, e, name, len)) {
		hlog(h, "notify pid %d uid %u: FDSTOREREMOVE=1 '%s' refused: %s",
		     (int)p->pid, (unsigned)p->uid, name, strerror(EACCES));
		return;
	}
	if (e)
		entry_drop(h, e, NULL);
	if (h->cf.verbose)
		hlog(h, "notify pid %d uid %u: FDSTOREREMOVE=1 '%s': %s", (int)p->pid,
		     (unsigned)p->uid, name, e ? "ok" : strerror(ENOENT));
}

/* As systemd: the removal first, so that one message may renew an entry. */
static void on_message(struct holder *h, struct notify_rx *r)
{
	struct fdshare_peer p = { .pid = r->pid, .uid = r->uid, .gid = r->gid, .pidfd = -1 };

	if (r->msg.bad_fdname)
		hlog(h, "notify pid %d uid %u: FDNAME= is not a valid name: ignored%s",
		     (int)p.pid, (unsigned)p.uid, r->msg.fdstore && r->nfds ?
		     " (the fds go under 'stored')" : "");
	if (r->msg.fdstoreremove)
		on_remove(h, &p, &r->msg);
	if (r->msg.fdstore && r->nfds > 0)
		on_fdstore(h, &p, r);
	if (r->msg.ready && h->cf.verbose)
		hlog(h, "notify pid %d uid %u: READY=1", (int)p.pid, (unsigned)p.uid);
}

static const char *drop_reason(int err)
{
	switch (err) {
	case EMSGSIZE:
		return "over 4096 bytes";
	case EBADMSG:
		return "a NUL byte inside";
	case ECHRNG:
		return "its control data was cut (out of descriptors?)";
	case EPROTO:
		return "no sender credentials";
	}
	return NULL;
}

/* Up to max datagrams; 0 once none is waiting. */
static int receive(struct holder *h, int max)
{
	for (int k = 0; k < max; k++) {
		int r = notify_recv(h->nfd, &rx);
		const char *why;

		if (r == 0)
			return 0;
		if (r > 0) {
			on_message(h, &rx);
			continue;
		}
		why = drop_reason(errno);
		if (why == NULL) {
			hlog(h, "--notify-socket: %s", strerror(errno));
			return 0;
		}
		hlog(h, "notify pid %d uid %u: datagram dropped: %s", (int)rx.pid,
		     (unsigned)rx.uid, why);
	}
	return 1;
}

/* Our socket is still at the path. */
static int path_ours(struct holder *h)
{
	struct stat st;

	return lstat(h->nsp.path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	       st.st_dev == h->nsp.dev && st.st_ino == h->nsp.ino;
}

/*
 * Thawing after a takeover that failed: a new holder that renamed its
 * socket over the path and then died, or gave up and removed it, left
 * the senders nowhere.  A socket of ours there again, unless a live one
 * is; what waits in the old one is handled first.
 */
static void retake(struct holder *h)
{
	gid_t gid = h->cf.have_group ? h->cf.group : (gid_t)-1;
	struct sockpath sp;
	int fd;

	if (h->nfd < 0 || path_ours(h))
		return;
	if (sockpath_check(&sp, h->cf.notify_socket, 0) < 0) {
		cli_sockpath_fail("holder", &sp, errno);
		return;
	}
	fd = notify_socket_new();
	if (fd < 0 || sockpath_bind(&sp, fd, h->cf.mode, gid, -1, SOCKPATH_RENAME) < 0) {
		if (fd >= 0)
			cli_sockpath_fail("holder", &sp, errno);
		close_keep_errno(fd);
		return;
	}
	if (h->state == H_RUN)
		receive(h, DRAIN_MAX);
	close(h->nfd); /* paused: not in the epoll set */
	h->nfd = fd;
	h->nsp = sp;
	hlog(h, "--notify-socket %s: taken back", h->cf.notify_socket);
}

/*
 * Frozen for a takeover, the store may not change: the datagrams wait.
 * Thawed, the path leads to us again.
 */
void hnotify_pause(struct holder *h, int pause)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &h->notify_kind };

	if (h->nfd < 0 || h->notify_paused == pause)
		return;
	if (!pause)
		retake(h);
	if (epoll_ctl(h->epfd, pause ? EPOLL_CTL_DEL : EPOLL_CTL_ADD, h->nfd, &ev) == 0)
		h->notify_paused = pause;
}

void hnotify_event(struct holder *h)
{
	if (h->nfd < 0)
		return;
	if (h->state == H_MOVED) {
		hnotify_pause(h, 1);
		return;
	}
	receive(h, PER_EVENT);
}

void hnotify_stop(struct holder *h)
{
	if (h->nfd < 0)
		return;
	if (h->state == H_RUN && !h->notify_paused)
		receive(h, DRAIN_MAX);
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->nfd, NULL);
	close(h->nfd);
	h->nfd = -1;
	sockpath_unlink(&h->nsp); /* not if a new holder took the path */
}
