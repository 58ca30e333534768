/*
 * The holder's client side: one request, one reply, over a connection
 * kept open.  A holder being replaced answers "moved" (or hangs up
 * without answering, having processed nothing): reconnect and retry.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "holder_proto.h"
#include "reader.h"
#include "rx.h"

#define RETRY_BUDGET_MS 10000
#define MAX_HANGUPS 5

struct fdshare_holder {
	int fd;
	struct fdshare_reader rd;
	size_t errindex;
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
};

int hp_reserve(struct hp_out *out, size_t n)
{
	size_t cap;
	unsigned char *p;

	if (out->bad)
		return -1;
	if (out->cap - out->len >= n)
		return 0;
	cap = out->cap ? out->cap : 256;
	while (cap - out->len < n)
		cap *= 2;
	p = realloc(out->p, cap);
	if (p == NULL) {
		out->bad = 1;
		return -1;
	}
	out->p = p;
	out->cap = cap;
	return 0;
}

API int fdshare_holder_path(char *buf, size_t size)
{
	const char *env = getenv("FDSHARE_SOCKET"), *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (env && *env)
		n = snprintf(buf, size, "%s", env);
	else if (xdg && *xdg)
		n = snprintf(buf, size, "%s/fdshare/holder.sock", xdg);
	else
		n = snprintf(buf, size, "/run/fdshare/holder.sock");
	if (n < 0 || (size_t)n >= size ||
	    (size_t)n >= sizeof ((struct sockaddr_un *)0)->sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int dial(struct fdshare_holder *h)
{
	struct sockaddr_un sun;
	int fd;

	if (sockaddr_unix(h->path, &sun) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	h->fd = fd;
	h->rd.sock = fd;
	return 0;
}

static void hang_up(struct fdshare_holder *h)
{
	msgreader_drop(&h->rd);
	close_keep_errno(h->fd);
	h->fd = -1;
}

API struct fdshare_holder *fdshare_holder_connect(const char *path)
{
	struct fdshare_holder *h = calloc(1, sizeof *h);

	if (h == NULL)
		return NULL;
	h->fd = -1;
	msgreader_init(&h->rd, -1, 0);
	if (path == NULL) {
		if (fdshare_holder_path(h->path, sizeof h->path) < 0)
			goto fail;
	} else if (strlen(path) >= sizeof h->path || *path == '\0') {
		errno = *path ? ENAMETOOLONG : EINVAL;
		goto fail;
	} else {
		strcpy(h->path, path);
	}
	if (dial(h) == 0)
		return h;
fail:
	msgreader_release(&h->rd);
	free(h);
	return NULL;
}

API void fdshare_holder_close(struct fdshare_holder *h)
{
	if (h == NULL)
		return;
	msgreader_release(&h->rd);
	close_keep_errno(h->fd);
	free(h);
}

API int fdshare_holder_fd(const struct fdshare_holder *h)
{
	return h->fd;
}

API size_t fdshare_holder_errindex(const struct fdshare_holder *h)
{
	return h->errindex;
}

static void nap(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The connection went away without an answer: nothing was processed. */
static int lost(int err)
{
	return err == EPIPE || err == ECONNRESET || err == ENOTCONN;
}

/*
 * Wait for the reply in poll(2), not in recvmsg: while the holder reads
 * the request, the kernel frees its bytes and wakes whoever sleeps on this
 * socket for room to write (unix_write_space), and a reader blocked in
 * recvmsg wakes too, for nothing, costing two context switches; poll's
 * wait only wakes for POLLIN.
 */
static int await_reply(struct fdshare_holder *h)
{
	if (fdshare_reader_buffered(&h->rd) > 0)
		return 0;
	return wait_for(h->fd, POLLIN);
}

/*
 * Send a request, receive its reply.  Returns 0 with the reply in *m
 * (its code is the caller's to read), -1 with errno for a transport
 * failure.  The retries are safe: see the comment at the top.
 */
static int call(struct fdshare_holder *h, uint32_t type, const struct hp_out *req,
                const int *fds, size_t nfds, struct fdshare_msg *m)
{
	int64_t start = mono_ms();
	long delay = 1;
	int hangups = 0;

	if (req->bad) {
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		int r;

		if (h->fd < 0 && dial(h) < 0)
			return -1;
		r = fdshare_msg_send(h->fd, type, req->p, req->len, fds, nfds);
		if (r == 0) {
			r = await_reply(h);
			if (r == 0)
				r = msgreader_next(&h->rd, m);
		} else if (lost(errno)) {
			/* Refused at the door (--max-clients) before it read a
			 * byte: the refusal is still there to read. */
			int err = errno;

			r = msgreader_next(&h->rd, m);
			if (r <= 0) {
				r = -1;
				errno = err;
			}
		}
		if (r == 0)
			errno = ECONNRESET;
		if (r <= 0) {
			int err = errno;

			hang_up(h);
			errno = err;
			if (lost(err) && ++hangups <= MAX_HANGUPS)
				continue;
			return -1;
		}
		if ((m->type != (type | HP_REPLY) && m->type != HP_REPLY) || m->len < 8) {
			fdshare_msg_free(m);
			hang_up(h);
			errno = EPROTO;
			return -1;
		}
		if (get_le32(m->data) != HP_EMOVED)
			return 0;
		fdshare_msg_free(m);
		hang_up(h);
		if (mono_ms() - start > RETRY_BUDGET_MS) {
			errno = EAGAIN;
			return -1;
		}
		nap(delay);
		delay = delay < 32 ? delay * 2 : 32;
	}
}

/* 0 for a reply with code OK, else -1 with its errno (the reply freed). */
static int check(struct fdshare_holder *h, struct fdshare_msg *m)
{
	uint32_t code = get_le32(m->data);

	h->errindex = get_le32((unsigned char *)m->data + 4);
	if (code == HP_OK)
		return 0;
	fdshare_msg_free(m);
	errno = hp_errno(code);
	return -1;
}

static int put_name(struct hp_out *o, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!hp_name_ok(name, n)) {
		errno = EINVAL;
		return -1;
	}
	hp_putname(o, name, n);
	return 0;
}

static int simple(struct fdshare_holder *h, uint32_t type, struct hp_out *o,
                  const int *fds, size_t nfds)
{
	struct fdshare_msg m;
	int r = call(h, type, o, fds, nfds, &m);

	free(o->p);
	if (r < 0 || check(h, &m) < 0)
		return -1;
	fdshare_msg_free(&m);
	return 0;
}

API int fdshare_holder_ping(struct fdshare_holder *h, pid_t *pid)
{
	struct hp_out o = { 0 };
	struct fdshare_msg m;

	if (call(h, HP_PING, &o, NULL, 0, &m) < 0 || check(h, &m) < 0)
		return -1;
	if (pid)
		*pid = m.len >= 12 ? (pid_t)get_le32((unsigned char *)m.data + 8) : 0;
	fdshare_msg_free(&m);
	return 0;
}

API int fdshare_store_many(struct fdshare_holder *h,
                           const struct fdshare_store_item *items, size_t n)
{
	struct hp_out o = { 0 };
	size_t total = 0, k = 0;
	int *fds, r;

	h->errindex = 0;
	if (n == 0 || n > UINT32_MAX) {
		errno = EINVAL;
		return -1;
	}
	hp_put32(&o, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		const struct fdshare_store_item *it = &items[i];

		h->errindex = i;
		if (it->nfds == 0 || it->nfds > FDSHARE_MSG_MAX_FDS || it->fds == NULL ||
		    (it->flags & ~(int)HP_STORE_FLAGS)) {
			free(o.p);
			errno = EINVAL;
			return -1;
		}
		hp_put32(&o, (uint32_t)it->flags);
		hp_put32(&o, (uint32_t)it->nfds);
		hp_put64(&o, it->ttl_ms);
		if (put_name(&o, it->name) < 0) {
			free(o.p);
			return -1;
		}
		total += it->nfds;
	}
	h->errindex = 0;
	/* more than one frame carries: EINVAL, whatever malloc would say */
	fds = total > FDSHARE_MSG_MAX_FDS ? NULL : malloc(total * sizeof(int));
	if (fds == NULL) {
		free(o.p);
		errno = total > FDSHARE_MSG_MAX_FDS ? EINVAL : ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(fds + k, items[i].fds, items[i].nfds * sizeof(int));
		k += items[i].nfds;
	}
	r = simple(h, HP_STORE, &o, fds, total);
	free(fds);
	return r;
}

API int fdshare_store(struct fdshare_holder *h, const char *name, const int *fds,
                      size_t nfds, uint64_t ttl_ms, int flags)
{
	struct fdshare_store_item it = { name, fds, nfds, ttl_ms, flags };

	return fdshare_store_many(h, &it, 1);
}

static int name_items(struct hp_out *o, const char *const *names, size_t n,
                      uint32_t flags, size_t *bad)
{
	if (n == 0 || n > UINT32_MAX) {
		errno = EINVAL;
		return -1;
	}
	hp_put32(o, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		*bad = i;
		hp_put32(o, flags);
		if (put_name(o, names[i]) < 0) {
			free(o->p);
			return -1;
		}
	}
	*bad = 0;
	return 0;
}

API int fdshare_fetch_many(struct fdshare_holder *h, const char *const *names,
                           size_t n, int flags, int **fds, size_t *counts)
{
	struct hp_out o = { 0 };
	struct fdshare_msg m;
	size_t sum = 0;
	int r;

	if (flags & ~FDSHARE_FETCH_REMOVE) {
		errno = EINVAL;
		return -1;
	}
	if (name_items(&o, names, n, (uint32_t)flags, &h->errindex) < 0)
		return -1;
	r = call(h, HP_FETCH, &o, NULL, 0, &m);
	free(o.p);
	if (r < 0 || check(h, &m) < 0)
		return -1;
	for (size_t i = 0; i < n && m.len >= 8 + 4 * n; i++) {
		counts[i] = get_le32((unsigned char *)m.data + 8 + 4 * i);
		sum += counts[i];
	}
	if (m.len != 8 + 4 * n || sum != m.nfds) {
		fdshare_msg_free(&m);
		hang_up(h);
		errno = EPROTO;
		return -1;
	}
	*fds = m.fds;
	m.fds = NULL;
	m.nfds = 0;
	if (*fds == NULL)
		*fds = malloc(sizeof(int)); /* a pointer to free in every case */
	fdshare_msg_free(&m);
	return 0;
}

API int fdshare_fetch(struct fdshare_holder *h, const char *name, int **fds,
                      size_t *nfds, int flags)
{
	return fdshare_fetch_many(h, &name, 1, flags, fds, nfds);
}

API int fdshare_remove_many(struct fdshare_holder *h, const char *const *names,
                            size_t n)
{
	struct hp_out o = { 0 };

	if (name_items(&o, names, n, 0, &h->errindex) < 0)
		return -1;
	return simple(h, HP_REMOVE, &o, NULL, 0);
}

API int fdshare_remove(struct fdshare_holder *h, const char *name)
{
	return fdshare_remove_many(h, &name, 1);
}

/* ---- LIST ---- */

struct list_priv {
	struct fdshare_msg m;
};

static void skip_fdinfo(struct hp_in *in)
{
	hp_take(in, 4 * 4 + 8 * 3 + 4 + 8 + 4);
	hp_take(in, hp_u32(in));                /* path */
	hp_take(in, 4 * 6);
	for (int i = 0; i < 3; i++)             /* state, local, peer */
		hp_take(in, hp_u32(in));
}

/* Walk the entries once: count them, check every length, size the names. */
static int list_scan(struct hp_in *in, uint32_t count, size_t *names)
{
	for (uint32_t i = 0; i < count && !in->bad; i++) {
		size_t n;
		uint32_t nfds;

		hp_name(in, &n);
		*names += n + 1;
		hp_take(in, 4 + 4 + 8 + 8);
		nfds = hp_u32(in);
		for (uint32_t k = 0; k < nfds && !in->bad; k++)
			skip_fdinfo(in);
	}
	return in->bad || in->off != in->len ? -1 : 0;
}

static void list_fill(struct hp_in *in, struct fdshare_list *l, char *names)
{
	for (size_t i = 0; i < l->n; i++) {
		struct fdshare_entry *e = &l->v[i];
		size_t n;
		const char *name = hp_name(in, &n);
		uint64_t left;

		memcpy(names, name, n);
		names[n] = '\0';
		e->name = names;
		names += n + 1;
		e->owner = (uid_t)hp_u32(in);
		e->flags = (int)hp_u32(in);
		e->age_ms = hp_u64(in);
		left = hp_u64(in);
		e->left_ms = left == UINT64_MAX ? -1 : (int64_t)(left > INT64_MAX ? INT64_MAX : left);
		e->nfds = hp_u32(in);
		e->desc_ = in->off;
		for (size_t k = 0; k < e->nfds; k++)
			skip_fdinfo(in);
	}
}

API int fdshare_list(struct fdshare_holder *h, const char *prefix,
                     struct fdshare_list *list)
{
	struct hp_out o = { 0 };
	struct list_priv *p = calloc(1, sizeof *p);
	struct hp_in in;
	size_t names = 0;
	uint32_t count;
	int r;

	memset(list, 0, sizeof *list);
	if (p == NULL)
		return -1;
	if (prefix && *prefix && put_name(&o, prefix) < 0) {
		free(p);
		return -1;
	}
	r = call(h, HP_LIST, &o, NULL, 0, &p->m);
	free(o.p);
	if (r < 0 || check(h, &p->m) < 0) {
		free(p);
		return -1;
	}
	in = (struct hp_in){ .p = p->m.data, .len = p->m.len, .off = 8 };
	count = hp_u32(&in);
	if (list_scan(&in, count, &names) < 0 || p->m.nfds != 0) {
		fdshare_msg_free(&p->m);
		free(p);
		hang_up(h);
		errno = EPROTO;
		return -1;
	}
	list->v = malloc(count * sizeof *list->v + names + 1);
	if (list->v == NULL) {
		fdshare_msg_free(&p->m);
		free(p);
		return -1;
	}
	list->n = count;
	list->priv_ = p;
	in.off = 12;
	list_fill(&in, list, (char *)(list->v + count));
	return 0;
}

static void get_str(struct hp_in *in, char *buf, size_t size)
{
	uint32_t n = hp_u32(in);
	const unsigned char *s = hp_take(in, n);
	size_t k = n < size ? n : size - 1;

	if (s)
		memcpy(buf, s, k);
	buf[s ? k : 0] = '\0';
}

API int fdshare_list_fdinfo(const struct fdshare_list *list, size_t entry, size_t i,
                            struct fdshare_fdinfo *info)
{
	const struct list_priv *p = list->priv_;
	struct hp_in in;

	if (p == NULL || entry >= list->n || i >= list->v[entry].nfds) {
		errno = EINVAL;
		return -1;
	}
	in = (struct hp_in){ .p = p->m.data, .len = p->m.len, .off = list->v[entry].desc_ };
	for (size_t k = 0; k < i; k++)
		skip_fdinfo(&in);
	memset(info, 0, sizeof *info);
	info->pid = (pid_t)hp_u32(&in);
	info->fd = (int)hp_u32(&in);
	info->kind = (int)hp_u32(&in);
	info->flags = (int)hp_u32(&in);
	info->offset = (int64_t)hp_u64(&in);
	info->dev = (dev_t)hp_u64(&in);
	info->ino = (ino_t)hp_u64(&in);
	info->mode = (mode_t)hp_u32(&in);
	info->rdev = (dev_t)hp_u64(&in);
	info->deleted = (int)hp_u32(&in);
	get_str(&in, info->path, sizeof info->path);
	info->sock.family = (int)hp_u32(&in);
	info->sock.type = (int)hp_u32(&in);
	info->sock.protocol = (int)hp_u32(&in);
	info->sock.listening = (int)hp_u32(&in);
	info->sock.peer_pid = (pid_t)hp_u32(&in);
	info->sock.peer_uid = (uid_t)hp_u32(&in);
	get_str(&in, info->sock.state, sizeof info->sock.state);
	get_str(&in, info->sock.local, sizeof info->sock.local);
	get_str(&in, info->sock.peer, sizeof info->sock.peer);
	return in.bad ? (errno = EPROTO, -1) : 0;
}

API void fdshare_list_free(struct fdshare_list *list)
{
	struct list_priv *p;

	if (list == NULL)
		return;
	p = list->priv_;
	if (p) {
		fdshare_msg_free(&p->m);
		free(p);
	}
	free(list->v);
	memset(list, 0, sizeof *list);
}
