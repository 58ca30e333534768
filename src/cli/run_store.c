/* The fd store of "fdshare run" (FDSTORE=1), and its copy in the holder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "run.h"
#include "../lib/samefile.h"

#define HOLDER_NAME_MAX 255

int fdstore_init(struct fdstore *s, size_t max)
{
	memset(s, 0, sizeof *s);
	s->max = max;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	return s->epfd < 0 ? -1 : 0;
}

/* Two descriptors of one open file: systemd keeps such duplicates once. */
/* PREFIX + name, with ' ' and '%' written %20 and %25: no space in holder names. */
static int holder_name(const struct fdstore *s, const char *name, char *buf, size_t size)
{
	size_t k = (size_t)snprintf(buf, size, "%s", s->prefix);

	for (const char *p = name; *p && k < size; p++) {
		if (*p == ' ' || *p == '%')
			k += (size_t)snprintf(buf + k, size - k, "%%%02X", (unsigned char)*p);
		else
			buf[k++] = *p;
	}
	if (k >= size || k > HOLDER_NAME_MAX)
		return -1;
	buf[k] = '\0';
	return 0;
}

/* The FDNAME of a holder name past the prefix; -1 when not one of ours. */
static int decode_name(const char *enc, char *out, size_t size)
{
	size_t k = 0;

	for (const char *p = enc; *p; p++) {
		if (k + 1 >= size)
			return -1;
		if (*p != '%') {
			out[k++] = *p;
		} else if (strncmp(p, "%20", 3) == 0 || strncmp(p, "%25", 3) == 0) {
			out[k++] = p[2] == '0' ? ' ' : '%';
			p += 2;
		} else {
			return -1;
		}
	}
	out[k] = '\0';
	return fdshare_fdname_valid(out) ? 0 : -1;
}

static struct fdshare_holder *connected(struct fdstore *s)
{
	if (s->h == NULL && (s->h = fdshare_holder_connect(s->socket)) == NULL)
		cli_log("run", "cannot connect to the holder to keep the fd store: %s",
		        strerror(errno));
	return s->h;
}

/* An error in the holder's answer, not in the connection. */
static int answered(int err)
{
	return err == ENOENT || err == EBUSY || err == EACCES || err == EDQUOT ||
	       err == EMFILE || err == ENFILE || err == EINVAL || err == EMSGSIZE;
}

static int put(struct fdstore *s, const char *hname, const int *fds, size_t n, int flags)
{
	if (connected(s) == NULL)
		return -1;
	return n ? fdshare_store(s->h, hname, fds, n, 0, FDSHARE_HOLD_REPLACE | flags)
	         : fdshare_remove(s->h, hname);
}

/* Make the holder's entry for name what the store holds (once more after a
 * lost connection). */
static void mirror(struct fdstore *s, const char *name)
{
	char hname[HOLDER_NAME_MAX + 1];
	int *fds, all_poll = 1, r;
	size_t k = 0;

	if (!s->use_holder)
		return;
	if (holder_name(s, name, hname, sizeof hname) < 0) {
		cli_log("run", "fd store '%s' is kept here only: its holder name would be "
		        "over %d bytes", name, HOLDER_NAME_MAX);
		return;
	}
	fds = malloc((s->n ? s->n : 1) * sizeof *fds);
	if (fds == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0) {
			fds[k++] = s->v[i].fd;
			all_poll &= s->v[i].poll;
		}
	r = put(s, hname, fds, k, all_poll ? FDSHARE_HOLD_DROP_ON_HANGUP : 0);
	if (r < 0 && s->h && !answered(errno)) {
		fdshare_holder_close(s->h);
		s->h = NULL;
		r = put(s, hname, fds, k, all_poll ? FDSHARE_HOLD_DROP_ON_HANGUP : 0);
	}
	if (r < 0 && !(k == 0 && errno == ENOENT))
		cli_log("run", "cannot update '%s' in the holder: %s", hname, strerror(errno));
	free(fds);
}

static int contains(const struct fdstore *s, int fd)
{
	for (size_t i = 0; i < s->n; i++)
		if (fd_same_file(s->v[i].fd, fd))
			return 1;
	return 0;
}

/* One fd into the store, or closed; 1 when kept. */
static int add_one(struct fdstore *s, const char *name, int fd, int poll)
{
	struct stored *e;

	if (s->n == s->max || contains(s, fd)) {
		close(fd);
		return 0;
	}
	if (s->v == NULL && (s->v = calloc(s->max, sizeof *s->v)) == NULL) {
		close(fd);
		return 0;
	}
	e = &s->v[s->n];
	snprintf(e->name, sizeof e->name, "%s", name);
	e->fd = fd;
	e->id = ++s->next_id;
	e->poll = 0;
	if (poll) {
		struct epoll_event ev = { .events = 0, .data.u64 = e->id };

		/* EPERM: a file epoll cannot watch, kept without watching */
		e->poll = epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
	}
	s->n++;
	return 1;
}

void fdstore_add(struct fdstore *s, const char *name, const int *fds, size_t n, int poll)
{
	size_t kept = 0, full = 0;

	for (size_t i = 0; i < n; i++) {
		full += s->n == s->max;
		kept += (size_t)add_one(s, name, fds[i], poll);
	}
	if (full)
		cli_log("run", "the fd store is full (--fdstore-max %zu): %zu fds for '%s' "
		        "closed", s->max, full, name);
	if (kept)
		mirror(s, name);
}

static void drop_at(struct fdstore *s, size_t i)
{
	if (s->v[i].poll)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->v[i].fd, NULL);
	close(s->v[i].fd);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *s->v);
	s->n--;
}

void fdstore_remove(struct fdstore *s, const char *name)
{
	size_t before = s->n;

	for (size_t i = s->n; i-- > 0;)
		if (strcmp(s->v[i].name, name) == 0)
			drop_at(s, i);
	if (s->n != before)
		mirror(s, name);
}

void fdstore_hangups(struct fdstore *s)
{
	struct epoll_event ev[16];
	int n = epoll_wait(s->epfd, ev, 16, 0);

	for (int k = 0; k < n; k++)
		for (size_t i = 0; i < s->n; i++) {
			char name[STORE_NAME_MAX + 1];

			if (s->v[i].id != ev[k].data.u64)
				continue;
			memcpy(name, s->v[i].name, sizeof name);
			cli_log("run", "a stored fd of '%s' hung up: dropped from the fd store", name);
			drop_at(s, i);
			mirror(s, name);
			break;
		}
}

/* The fds of one holder entry into the store, as they were. */
static void load_entry(struct fdstore *s, const struct fdshare_entry *e)
{
	char name[STORE_NAME_MAX + 1];
	size_t n;
	int *fds;

	if (decode_name(e->name + strlen(s->prefix), name, sizeof name) < 0)
		return;
	if (fdshare_fetch(s->h, e->name, &fds, &n, 0) < 0) {
		cli_log("run", "cannot fetch '%s' from the holder: %s", e->name, strerror(errno));
		return;
	}
	for (size_t i = 0; i < n; i++)
		add_one(s, name, fds[i], !!(e->flags & FDSHARE_HOLD_DROP_ON_HANGUP));
	free(fds);
}

int fdstore_load(struct fdstore *s)
{
	struct fdshare_list list;

	if (!s->use_holder || s->max == 0)
		return 0;
	if (connected(s) == NULL)
		return -1;
	if (fdshare_list(s->h, s->prefix, &list) < 0)
		return -1;
	for (size_t i = 0; i < list.n; i++)
		load_entry(s, &list.v[i]);
	fdshare_list_free(&list);
	fdstore_hangups(s);
	return 0;
}

void fdstore_pass(const struct fdstore *s, struct fdshare_pass *pass)
{
	for (size_t i = 0; i < s->n; i++) {
		pass[i].fd = s->v[i].fd;
		pass[i].name = s->v[i].name;
	}
}

void fdstore_free(struct fdstore *s)
{
	for (size_t i = 0; i < s->n; i++)
		close(s->v[i].fd);
	free(s->v);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->h)
		fdshare_holder_close(s->h);
	memset(s, 0, sizeof *s);
	s->epfd = -1;
}
