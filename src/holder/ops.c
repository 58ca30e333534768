/*
 * The request handlers: STORE, FETCH, REMOVE (LIST, DUMP and RESTORE are
 * in list.c).  A batch is all or nothing: every item is checked before
 * anything changes, and the reply names the first item at fault.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "holder.h"
#include "../lib/internal.h"

static const char *op_name(uint32_t type)
{
	static const char *names[] = { "?", "store", "fetch", "remove", "list",
	                               "dump", "restore", "takeover",
	                               "takeover-done", "ping" };
	return type < sizeof names / sizeof *names ? names[type] : "?";
}

static void unwatch(struct holder *h, struct entry *e)
{
	if (!(e->flags & HP_F_DROP_ON_HANGUP))
		return;
	for (size_t i = 0; i < e->nfds; i++)
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, e->fds[i], NULL);
}

/*
 * A hang-up while frozen for a takeover: stop watching (the event would
 * come back at once), and drop the entry if the takeover is abandoned.
 */
void entry_hangup_later(struct holder *h, struct entry *e)
{
	if (e->dead)
		return;
	unwatch(h, e);
	e->hup_seen = 1;
}

void entries_drop_hung_up(struct holder *h)
{
	for (size_t b = 0; b < h->store.size; b++) {
		struct entry *e = h->store.tab[b], *next;

		for (; e; e = next) {
			next = e->next;
			if (e->hup_seen)
				entry_drop(h, e, "hang-up");
		}
	}
}

/* Out of the store; its fds are the caller's.  Freed after this round. */
void entry_take(struct holder *h, struct entry *e)
{
	unwatch(h, e);
	store_unlink(&h->store, e);
	e->dead = 1;
	e->limbo = h->limbo_e;
	h->limbo_e = e;
}

void entry_drop(struct holder *h, struct entry *e, const char *why)
{
	if (e->dead)
		return;
	if (why)
		hlog(h, "%.*s: %s, %zu fd%s closed", (int)e->namelen, e->name, why,
		     e->nfds, e->nfds == 1 ? "" : "s");
	entry_take(h, e);
	close_fds(e->fds, e->nfds);
}

void expiry_run(struct holder *h, int64_t now)
{
	struct entry *e;

	while ((e = store_heap_top(&h->store)) && e->expires <= now)
		entry_drop(h, e, "expired");
}

/* ---- STORE ---- */

static uint32_t store_check(struct holder *h, struct conn *c, const struct hitem *it,
                            struct entry *e, size_t *freed)
{
	if (e == NULL)
		return acl_allows(h, c, OP_STORE, NULL, it->name, it->namelen) ?
		       HP_OK : HP_EACCES;
	if (!(it->flags & (HP_F_REPLACE | HP_F_APPEND)))
		return HP_EBUSY;
	if (!acl_allows(h, c, OP_STORE, e, it->name, it->namelen))
		return HP_EACCES;
	if ((it->flags & HP_F_DROP_ON_HANGUP) != (e->flags & HP_F_DROP_ON_HANGUP) &&
	    (it->flags & HP_F_APPEND))
		return HP_EINVAL;
	/* An entry goes out in one frame (a FETCH, a DUMP): no more fds. */
	if ((it->flags & HP_F_APPEND) && e->nfds + it->nfds > FDSHARE_MSG_MAX_FDS)
		return HP_EINVAL;
	if (it->flags & HP_F_REPLACE)
		*freed += e->nfds;
	return HP_OK;
}

/* New entries, and room in the fds arrays of appended ones. */
static struct entry *store_prepare(const struct hitem *it, struct entry *old, uid_t uid,
                                   int64_t now)
{
	struct entry *e;

	if (old && (it->flags & HP_F_APPEND)) {
		int *v = realloc(old->fds, (old->nfds + it->nfds) * sizeof(int));

		if (v == NULL)
			return NULL;
		old->fds = v;
		return old;
	}
	e = entry_new(it->name, it->namelen);
	if (e == NULL)
		return NULL;
	e->fds = malloc(it->nfds * sizeof(int));
	if (e->fds == NULL) {
		free(e);
		return NULL;
	}
	e->owner = uid;
	e->flags = it->flags & HP_F_DROP_ON_HANGUP;
	e->created = now;
	e->expires = store_expiry(now, it->ttl_ms);
	return e;
}

static void store_commit(struct holder *h, const struct hitem *it, struct entry *old,
                         struct entry *e, int *fds)
{
	if (e == old) { /* append */
		size_t from = e->nfds;

		store_unlink(&h->store, e);
		memcpy(e->fds + from, fds + it->fd_off, it->nfds * sizeof(int));
		e->nfds += it->nfds;
		if (it->ttl_ms)
			e->expires = store_expiry(mono_ms(), it->ttl_ms);
		store_put(&h->store, e);
		return;
	}
	memcpy(e->fds, fds + it->fd_off, it->nfds * sizeof(int));
	e->nfds = it->nfds;
	if (old)
		entry_drop(h, old, NULL);
	store_put(&h->store, e);
}

static void free_prepared(struct entry **ne, struct entry **old, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ne[i] && ne[i] != old[i]) {
			free(ne[i]->fds);
			free(ne[i]);
		}
}

static void unwatch_items(struct holder *h, const struct hreq *req, size_t n,
                          const int *fds)
{
	for (size_t i = 0; i < n; i++) {
		const struct hitem *it = &req->items[i];

		if (it->flags & HP_F_DROP_ON_HANGUP)
			for (size_t k = 0; k < it->nfds; k++)
				epoll_ctl(h->epfd, EPOLL_CTL_DEL, fds[it->fd_off + k], NULL);
	}
}

/*
 * Watch the fds of the items with drop-on-hangup, each registered with
 * the entry that will hold it; undone on failure (a fd that epoll cannot
 * watch, such as a regular file).
 */
static uint32_t watch_all(struct holder *h, const struct hreq *req, struct entry **ne,
                          const int *fds, uint32_t *bad)
{
	for (size_t i = 0; i < req->n; i++) {
		const struct hitem *it = &req->items[i];

		if (!(it->flags & HP_F_DROP_ON_HANGUP))
			continue;
		for (size_t k = 0; k < it->nfds; k++) {
			struct epoll_event ev = { .events = 0, .data.ptr = ne[i] };

			int err;

			if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fds[it->fd_off + k], &ev) == 0)
				continue;
			err = errno;
			while (k-- > 0)
				epoll_ctl(h->epfd, EPOLL_CTL_DEL, fds[it->fd_off + k], NULL);
			unwatch_items(h, req, i, fds);
			*bad = (uint32_t)i;
			/* EPERM: a fd epoll cannot watch; else out of memory. */
			return err == EPERM ? HP_EINVAL : HP_ENOMEM;
		}
	}
	return HP_OK;
}

/* freed: what the replaced entries give back. */
static uint32_t store_limits(struct holder *h, size_t nfds, size_t freed)
{
	return h->store.fds + nfds > h->cf.max_fds + freed ? HP_EMFILE : HP_OK;
}

/* What a batch adds to, or frees from, one owner uid; from which item. */
struct charge {
	uid_t uid;
	uint32_t item;
	size_t add, freed;
};

static int charge_cmp(const void *a, const void *b)
{
	const struct charge *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->item < y->item ? -1 : x->item > y->item;
}

/*
 * The --quota of each owner uid: the fds go to the owner of the entry
 * that holds them (an APPEND adds to the entry's owner, whoever sends
 * them), and a REPLACE frees the old owner's.  *bad: the first item that
 * adds to an owner over its quota.
 */
static uint32_t quota_check(struct holder *h, struct conn *c, const struct hreq *req,
                            struct entry **old, uint32_t *bad)
{
	struct charge stack[8], *v = stack;
	uint32_t code = HP_OK;
	size_t k = 0;

	if (2 * req->n > sizeof stack / sizeof *stack &&
	    (v = malloc(2 * req->n * sizeof *v)) == NULL)
		return HP_ENOMEM;
	for (size_t i = 0; i < req->n; i++) {
		const struct hitem *it = &req->items[i];
		int append = old[i] && (it->flags & HP_F_APPEND);

		v[k++] = (struct charge){ append ? old[i]->owner : c->peer.uid,
		                          (uint32_t)i, it->nfds, 0 };
		if (old[i] && (it->flags & HP_F_REPLACE))
			v[k++] = (struct charge){ old[i]->owner, (uint32_t)i, 0,
			                          old[i]->nfds };
	}
	qsort(v, k, sizeof *v, charge_cmp);
	for (size_t i = 0, j; i < k && code == HP_OK; i = j) {
		size_t add = 0, freed = 0;
		uint32_t first = 0;

		for (j = i; j < k && v[j].uid == v[i].uid; j++) {
			if (v[j].add && add == 0)
				first = v[j].item;
			add += v[j].add;
			freed += v[j].freed;
		}
		if (add && store_uid_fds(&h->store, v[i].uid) + add > h->cf.quota + freed) {
			code = HP_EDQUOT;
			*bad = first;
		}
	}
	if (v != stack)
		free(v);
	return code;
}

static void op_store(struct holder *h, struct conn *c, const struct hreq *req)
{
	struct entry *stack_old[4], *stack_ne[4], **old = stack_old, **ne = stack_ne;
	size_t freed = 0, nttl = 0;
	uint32_t code = HP_OK, bad = 0;
	int64_t now = mono_ms();
	long dup = hreq_duplicate(req);

	if (dup != -1) {
		conn_reply_err(h, c, HP_STORE, dup < 0 ? HP_ENOMEM : HP_EINVAL,
		               dup < 0 ? 0 : (uint32_t)dup);
		return;
	}
	if (req->n > 4) {
		old = calloc(req->n, sizeof *old);
		ne = calloc(req->n, sizeof *ne);
		if (old == NULL || ne == NULL) {
			code = HP_ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < req->n && code == HP_OK; i++) {
		const struct hitem *it = &req->items[i];

		old[i] = store_get(&h->store, it->name, it->namelen);
		code = store_check(h, c, it, old[i], &freed);
		bad = (uint32_t)i;
		nttl += it->ttl_ms != 0;
	}
	if (code == HP_OK)
		code = store_limits(h, c->rd.nfds_got, freed);
	if (code == HP_OK)
		code = quota_check(h, c, req, old, &bad);
	for (size_t i = 0; i < req->n && code == HP_OK; i++) {
		ne[i] = store_prepare(&req->items[i], old[i], c->peer.uid, now);
		if (ne[i] == NULL) {
			free_prepared(ne, old, i);
			code = HP_ENOMEM;
		}
	}
	if (code == HP_OK && store_heap_reserve(&h->store, nttl) < 0) {
		free_prepared(ne, old, req->n);
		code = HP_ENOMEM;
	}
	if (code == HP_OK) {
		code = watch_all(h, req, ne, c->rd.fds, &bad);
		if (code != HP_OK)
			free_prepared(ne, old, req->n);
	}
	if (code == HP_OK) {
		for (size_t i = 0; i < req->n; i++)
			store_commit(h, &req->items[i], old[i], ne[i], c->rd.fds);
		c->rd.nfds_got = 0; /* the fds are the store's now */
		bad = 0;
	}
out:
	if (old != stack_old)
		free(old);
	if (ne != stack_ne)
		free(ne);
	conn_reply_err(h, c, HP_STORE, code, bad);
}

/* ---- FETCH and REMOVE ---- */

static uint32_t check_items(struct holder *h, struct conn *c, const struct hreq *req,
                            struct entry **ev, size_t *nfds, int *removes,
                            uint32_t *bad)
{
	for (size_t i = 0; i < req->n; i++) {
		const struct hitem *it = &req->items[i];
		unsigned op = req->type == HP_REMOVE ? OP_REMOVE : OP_FETCH;

		*bad = (uint32_t)i;
		if (req->type == HP_REMOVE || (it->flags & HP_F_REMOVE)) {
			op |= OP_REMOVE;
			(*removes)++;
		}
		ev[i] = store_get(&h->store, it->name, it->namelen);
		if (ev[i] == NULL || ev[i]->dead)
			return HP_ENOENT;
		if (!acl_allows(h, c, op, ev[i], it->name, it->namelen))
			return HP_EACCES;
		*nfds += ev[i]->nfds;
		/* The reply is one frame: no more fds than a frame carries. */
		if (req->type == HP_FETCH && *nfds > FDSHARE_MSG_MAX_FDS)
			return HP_EMSGSIZE;
	}
	if (*removes) {
		long dup = hreq_duplicate(req);

		if (dup != -1) {
			*bad = dup < 0 ? 0 : (uint32_t)dup;
			return dup < 0 ? HP_ENOMEM : HP_EINVAL;
		}
	}
	*bad = 0;
	return HP_OK;
}

/* Close the first k fds of a fetch reply that are copies (mixed batch). */
static void close_copies(const struct hreq *req, struct entry **ev, const int *fds,
                         size_t k, int mixed)
{
	size_t m = 0;

	if (!mixed)
		return;
	for (size_t a = 0; a < req->n && m < k; a++)
		for (size_t b = 0; b < ev[a]->nfds && m < k; b++, m++)
			if (!(req->items[a].flags & HP_F_REMOVE))
				close(fds[m]);
}

/*
 * The reply: err, index, then each item's fd count; the fds in order.
 * Entries fetched with remove give theirs away; the others lend theirs,
 * or give copies when the batch mixes both (one frame, one ownership).
 */
static void fetch_reply(struct holder *h, struct conn *c, const struct hreq *req,
                        struct entry **ev, size_t nfds, int removes)
{
	size_t len = 8 + 4 * req->n, k = 0;
	unsigned char *p = malloc(len);
	int *fds = malloc((nfds ? nfds : 1) * sizeof(int));
	int mixed = removes > 0 && (size_t)removes < req->n;

	if (p == NULL || fds == NULL) {
		free(p);
		free(fds);
		conn_reply_err(h, c, HP_FETCH, HP_ENOMEM, 0);
		return;
	}
	memset(p, 0, 8);
	for (size_t i = 0; i < req->n; i++) {
		put_le32(p + 8 + 4 * i, (uint32_t)ev[i]->nfds);
		for (size_t j = 0; j < ev[i]->nfds; j++) {
			int fd = ev[i]->fds[j];

			if (mixed && !(req->items[i].flags & HP_F_REMOVE))
				fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
			if (fd < 0) {
				close_copies(req, ev, fds, k, mixed);
				free(p);
				free(fds);
				conn_reply_err(h, c, HP_FETCH, HP_ENFILE, (uint32_t)i);
				return;
			}
			fds[k++] = fd;
		}
	}
	/* Queued first: an entry is taken only once its reply will go. */
	if (conn_queue(c, HP_FETCH, p, len, fds, nfds, removes ? OUT_OWN : OUT_BORROW) < 0) {
		close_copies(req, ev, fds, k, mixed);
		free(p);
		free(fds);
		conn_reply_err(h, c, HP_FETCH, HP_ENOMEM, 0);
		return;
	}
	for (size_t i = 0; i < req->n; i++)
		if (req->items[i].flags & HP_F_REMOVE)
			entry_take(h, ev[i]);
	conn_send(h, c);
	free(p);
	free(fds);
}

static void op_fetch_remove(struct holder *h, struct conn *c, const struct hreq *req)
{
	struct entry *stack[8], **ev = req->n > 8 ? calloc(req->n, sizeof *ev) : stack;
	size_t nfds = 0;
	int removes = 0;
	uint32_t bad = 0, code;

	if (ev == NULL) {
		conn_reply_err(h, c, req->type, HP_ENOMEM, 0);
		return;
	}
	code = check_items(h, c, req, ev, &nfds, &removes, &bad);
	if (code != HP_OK)
		conn_reply_err(h, c, req->type, code, bad);
	else if (req->type == HP_FETCH)
		fetch_reply(h, c, req, ev, nfds, removes);
	else {
		for (size_t i = 0; i < req->n; i++)
			entry_drop(h, ev[i], NULL);
		conn_reply_err(h, c, HP_REMOVE, HP_OK, 0);
	}
	if (ev != stack)
		free(ev);
}

/* ---- dispatch ---- */

static void log_request(struct holder *h, struct conn *c, const struct hreq *req,
                        uint32_t code)
{
	const struct hitem *it = req->n ? &req->items[0] : NULL;

	if (!h->cf.verbose)
		return;
	hlog(h, "pid %d uid %u: %s%s%.*s%s: %s", (int)c->peer.pid,
	     (unsigned)c->peer.uid,
	     req->type == HP_FETCH && it && (it->flags & HP_F_REMOVE) ?
	     "fetch --remove" : op_name(req->type), it ? " " : "",
	     it ? (int)it->namelen : 0, it ? it->name : "",
	     req->n > 1 ? " ..." : "",
	     code == HP_OK ? "ok" : strerror(hp_errno(code)));
}

static void ping(struct holder *h, struct conn *c)
{
	unsigned char b[12];

	put_le32(b, HP_OK);
	put_le32(b + 4, 0);
	put_le32(b + 8, (uint32_t)getpid());
	if (conn_reply(h, c, HP_PING, b, sizeof b, NULL, 0, OUT_OWN) < 0)
		conn_reply_err(h, c, HP_PING, HP_ENOMEM, 0);
}

void ops_dispatch(struct holder *h, struct conn *c)
{
	struct reader *r = &c->rd;
	struct hreq req;
	uint32_t code;

	if (r->refuse) {
		hlog(h, "pid %d uid %u: request refused: %s", (int)c->peer.pid,
		     (unsigned)c->peer.uid, strerror(hp_errno(r->refuse)));
		conn_reply_err(h, c, r->type, r->refuse, 0);
		return;
	}
	if (h->state == H_MOVED && !(c->takeover && r->type == HP_TAKEOVER_DONE)) {
		conn_reply_err(h, c, r->type, HP_EMOVED, 0);
		return;
	}
	code = hreq_decode(r->type, r->data, r->len, r->nfds_got, &req);
	if (code != HP_OK) {
		req.n = 0;
		log_request(h, c, &req, code);
		conn_reply_err(h, c, r->type, code, req.bad);
		return;
	}
	c->last_code = HP_OK;
	switch (req.type) {
	case HP_STORE:
		op_store(h, c, &req);
		break;
	case HP_FETCH:
	case HP_REMOVE:
		op_fetch_remove(h, c, &req);
		break;
	case HP_LIST:
		ops_list(h, c, &req);
		break;
	case HP_DUMP:
		ops_dump_reply(h, c);
		break;
	case HP_RESTORE:
		ops_restore(h, c, &req);
		break;
	case HP_TAKEOVER:
		takeover_begin(h, c);
		break;
	case HP_TAKEOVER_DONE:
		takeover_done(h, c);
		break;
	case HP_PING:
		ping(h, c);
		break;
	}
	log_request(h, c, &req, c->last_code);
	hreq_free(&req);
}
