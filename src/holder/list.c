/*
 * LIST (each visible entry, with what its fds are), DUMP (every entry
 * with its fds) and RESTORE (a dump loaded back): the bodies are in
 * docs/protocol.md, section 3.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "holder.h"
#include "../lib/internal.h"

static void put_str(struct hp_out *o, const char *s)
{
	size_t n = strlen(s);

	hp_put32(o, (uint32_t)n);
	hp_put(o, s, n);
}

/* One fd as fdshare_describe sees it (the holder's fd: pid and fd ours). */
static void put_fdinfo(struct hp_out *o, int fd)
{
	static struct fdshare_fdinfo in; /* 5 KiB: not on the stack each call */

	if (fdshare_describe_fd(fd, &in) < 0) {
		memset(&in, 0, sizeof in);
		in.pid = getpid();
		in.fd = fd;
		in.offset = -1;
	}
	hp_put32(o, (uint32_t)in.pid);
	hp_put32(o, (uint32_t)in.fd);
	hp_put32(o, (uint32_t)in.kind);
	hp_put32(o, (uint32_t)in.flags);
	hp_put64(o, (uint64_t)in.offset);
	hp_put64(o, (uint64_t)in.dev);
	hp_put64(o, (uint64_t)in.ino);
	hp_put32(o, (uint32_t)in.mode);
	hp_put64(o, (uint64_t)in.rdev);
	hp_put32(o, (uint32_t)in.deleted);
	put_str(o, in.path);
	hp_put32(o, (uint32_t)in.sock.family);
	hp_put32(o, (uint32_t)in.sock.type);
	hp_put32(o, (uint32_t)in.sock.protocol);
	hp_put32(o, (uint32_t)in.sock.listening);
	hp_put32(o, (uint32_t)in.sock.peer_pid);
	hp_put32(o, (uint32_t)in.sock.peer_uid);
	put_str(o, in.sock.state);
	put_str(o, in.sock.local);
	put_str(o, in.sock.peer);
}

static int prefixed(const struct entry *e, const struct hreq *req)
{
	return req->prefixlen == 0 || (req->prefixlen <= e->namelen &&
	       memcmp(e->name, req->prefix, req->prefixlen) == 0);
}

static uint64_t left_ms(const struct entry *e, int64_t now)
{
	if (e->expires == 0)
		return UINT64_MAX;
	return e->expires > now ? (uint64_t)(e->expires - now) : 0;
}

void ops_list(struct holder *h, struct conn *c, const struct hreq *req)
{
	struct hp_out o = { 0 };
	int64_t now = mono_ms();
	uint32_t count = 0;

	hp_put32(&o, HP_OK);
	hp_put32(&o, 0);
	hp_put32(&o, 0);
	for (size_t b = 0; b < h->store.size; b++)
		for (struct entry *e = h->store.tab[b]; e; e = e->next) {
			if (!prefixed(e, req) ||
			    !acl_allows(h, c, OP_LIST, e, e->name, e->namelen))
				continue;
			count++;
			hp_putname(&o, e->name, e->namelen);
			hp_put32(&o, (uint32_t)e->owner);
			hp_put32(&o, e->flags);
			hp_put64(&o, (uint64_t)(now - e->created));
			hp_put64(&o, left_ms(e, now));
			hp_put32(&o, (uint32_t)e->nfds);
			for (size_t i = 0; i < e->nfds; i++)
				put_fdinfo(&o, e->fds[i]);
		}
	hp_set32(&o, 8, count);
	if (!o.bad && o.len > FDSHARE_MSG_MAX_LEN) /* a reply is one frame */
		conn_reply_err(h, c, HP_LIST, HP_EMSGSIZE, 0);
	else if (o.bad || conn_reply(h, c, HP_LIST, o.p, o.len, NULL, 0, OUT_OWN) < 0)
		conn_reply_err(h, c, HP_LIST, HP_ENOMEM, 0);
	free(o.p);
}

/*
 * A DUMP reply is one or more frames: err, index, more (1 but in the last
 * frame), then a RESTORE body (u32 count, items); each frame within the
 * limits of a frame.  Entries are never split.
 */
#define DUMP_FDS_MAX (FDSHARE_MSG_MAX_FDS - HP_DUMP_SLACK)
#define DUMP_LEN_MAX (FDSHARE_MSG_MAX_LEN / 2)
#define HP_DUMP_SLACK 1024

struct dump {
	struct hp_out o;
	int *fds;
	size_t nfds, count;
};

static void dump_start(struct dump *d)
{
	memset(&d->o, 0, sizeof d->o);
	hp_put32(&d->o, HP_OK);
	hp_put32(&d->o, 0);
	hp_put32(&d->o, 1);
	hp_put32(&d->o, 0);
	d->nfds = d->count = 0;
}

/* A frame that cannot be encoded or queued ends the dump with ENOMEM. */
static int dump_send(struct holder *h, struct conn *c, struct dump *d, int last)
{
	int r = -1;

	hp_set32(&d->o, 8, last ? 0 : 1);
	hp_set32(&d->o, 12, (uint32_t)d->count);
	if (!d->o.bad)
		r = conn_reply(h, c, HP_DUMP, d->o.p, d->o.len, d->fds, d->nfds,
		               h->state == H_MOVED ? OUT_STABLE : OUT_BORROW);
	free(d->o.p);
	d->o.p = NULL;
	if (r < 0 && !c->dead)
		conn_reply_err(h, c, HP_DUMP, HP_ENOMEM, 0);
	return r;
}

static void dump_entry(struct dump *d, const struct entry *e, int64_t now)
{
	uint64_t left = left_ms(e, now);

	hp_put32(&d->o, e->flags);
	hp_put32(&d->o, (uint32_t)e->nfds);
	hp_put64(&d->o, left == UINT64_MAX ? 0 : left ? left : 1);
	hp_put32(&d->o, (uint32_t)e->owner);
	hp_put64(&d->o, (uint64_t)(now - e->created));
	hp_putname(&d->o, e->name, e->namelen);
	memcpy(d->fds + d->nfds, e->fds, e->nfds * sizeof(int));
	d->nfds += e->nfds;
	d->count++;
}

void ops_dump_reply(struct holder *h, struct conn *c)
{
	struct dump d;
	int64_t now = mono_ms();

	if (!acl_is_admin(h, c)) {
		conn_reply_err(h, c, HP_DUMP, HP_EACCES, 0);
		return;
	}
	d.fds = malloc(FDSHARE_MSG_MAX_FDS * sizeof(int));
	if (d.fds == NULL) {
		conn_reply_err(h, c, HP_DUMP, HP_ENOMEM, 0);
		return;
	}
	dump_start(&d);
	for (size_t b = 0; b < h->store.size; b++)
		for (struct entry *e = h->store.tab[b]; e; e = e->next) {
			if (d.count && (d.nfds + e->nfds > DUMP_FDS_MAX ||
			                d.o.len > DUMP_LEN_MAX)) {
				if (dump_send(h, c, &d, 0) < 0 || c->dead)
					goto out;
				dump_start(&d);
			}
			dump_entry(&d, e, now);
		}
	dump_send(h, c, &d, 1);
out:
	free(d.fds);
}

static struct entry *restored(const struct hitem *it, const int *fds, int64_t now)
{
	struct entry *e = entry_new(it->name, it->namelen);

	if (e == NULL)
		return NULL;
	e->fds = malloc(it->nfds * sizeof(int));
	if (e->fds == NULL) {
		free(e);
		return NULL;
	}
	memcpy(e->fds, fds + it->fd_off, it->nfds * sizeof(int));
	e->nfds = it->nfds;
	e->owner = (uid_t)it->owner;
	e->flags = it->flags & HP_F_DROP_ON_HANGUP;
	e->created = now - (int64_t)(it->age_ms > (uint64_t)INT32_MAX * 1000 ? 0 : it->age_ms);
	e->expires = store_expiry(now, it->ttl_ms);
	return e;
}

static void rewatch(struct holder *h, struct entry *e)
{
	if (!(e->flags & HP_F_DROP_ON_HANGUP))
		return;
	for (size_t i = 0; i < e->nfds; i++) {
		struct epoll_event ev = { .events = 0, .data.ptr = e };

		if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, e->fds[i], &ev) < 0)
			hlog(h, "%.*s: cannot watch fd for hang-up: %m",
			     (int)e->namelen, e->name);
	}
}

/*
 * Load the items of a RESTORE body, all or nothing; fds[] become the
 * store's on success.  Returns a wire code, *bad the item at fault.
 */
int ops_restore_items(struct holder *h, const struct hreq *req, int *fds,
                      uid_t who, uint32_t *bad)
{
	int64_t now = mono_ms();
	size_t nttl = 0;
	long dup = hreq_duplicate(req);

	(void)who;
	if (dup != -1) { /* two entries of one name: one unreachable */
		*bad = dup < 0 ? 0 : (uint32_t)dup;
		return dup < 0 ? HP_ENOMEM : HP_EINVAL;
	}
	for (size_t i = 0; i < req->n; i++) {
		*bad = (uint32_t)i;
		if (store_get(&h->store, req->items[i].name, req->items[i].namelen))
			return HP_EBUSY;
		nttl += req->items[i].ttl_ms != 0;
	}
	*bad = 0;
	if (store_heap_reserve(&h->store, nttl) < 0)
		return HP_ENOMEM;
	for (size_t i = 0; i < req->n; i++) {
		struct entry *e = restored(&req->items[i], fds, now);

		if (e == NULL || store_put(&h->store, e) < 0) {
			/* Undo: the fds go back to the caller. */
			if (e) {
				free(e->fds);
				free(e);
			}
			while (i-- > 0) {
				struct entry *x = store_get(&h->store, req->items[i].name,
				                            req->items[i].namelen);
				entry_take(h, x);
			}
			*bad = 0;
			return HP_ENOMEM;
		}
		rewatch(h, e);
	}
	return HP_OK;
}

void ops_restore(struct holder *h, struct conn *c, const struct hreq *req)
{
	uint32_t bad = 0, code;

	if (!acl_is_admin(h, c)) {
		conn_reply_err(h, c, HP_RESTORE, HP_EACCES, 0);
		return;
	}
	if (h->store.fds + c->rd.nfds_got > h->cf.max_fds) {
		conn_reply_err(h, c, HP_RESTORE, HP_EMFILE, 0);
		return;
	}
	code = ops_restore_items(h, req, c->rd.fds, c->peer.uid, &bad);
	if (code == HP_OK)
		c->rd.nfds_got = 0;
	conn_reply_err(h, c, HP_RESTORE, code, bad);
}
