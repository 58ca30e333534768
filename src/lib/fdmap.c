/*
 * Putting a list of descriptors at 3, 4, ... before an exec: in a forked
 * child, where nothing needs undoing, or in the caller itself
 * (fdshare_exec), where a failed exec must leave the table as it was.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launch.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* Without /proc or close_range, every number up to the soft limit. */
static unsigned fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur > 1u << 20)
		return 1u << 20;
	return (unsigned)rl.rlim_cur;
}

/* fcntl's EINVAL for a min at or over RLIMIT_NOFILE means a table too small. */
int fdmap_dup_above(int fd, int min)
{
	int r = fcntl(fd, F_DUPFD_CLOEXEC, min);

	if (r < 0 && errno == EINVAL)
		errno = EMFILE;
	return r;
}

int fdmap_init(struct fdmap *m, const struct fdshare_pass *fds, size_t n)
{
	memset(m, 0, sizeof *m);
	m->n = n;
	if (n == 0)
		return 0;
	m->src = calloc(3 * n, sizeof *m->src);
	m->backup_cloexec = calloc(n, 1);
	if (m->src == NULL || m->backup_cloexec == NULL) {
		fdmap_free(m);
		return -1;
	}
	m->stage = m->src + n;
	m->backup = m->src + 2 * n;
	for (size_t i = 0; i < n; i++) {
		if (fds[i].fd < 0 || fcntl(fds[i].fd, F_GETFD) < 0) {
			fdmap_free(m);
			errno = EBADF;
			return -1;
		}
		m->src[i] = fds[i].fd;
		m->stage[i] = m->backup[i] = -1;
	}
	return 0;
}

void fdmap_free(struct fdmap *m)
{
	int saved = errno;

	free(m->src);
	free(m->backup_cloexec);
	free(m->exposed);
	memset(m, 0, sizeof *m);
	errno = saved;
}

int fdmap_apply(struct fdmap *m)
{
	int above = LISTEN_START + (int)m->n;

	/* Staging first makes swaps, cycles, repeats and fds 0-2 all alike. */
	for (size_t i = 0; i < m->n; i++) {
		m->stage[i] = fdmap_dup_above(m->src[i], above);
		if (m->stage[i] < 0)
			return -1;
	}
	for (size_t i = 0; i < m->n; i++) {
		int r;

		do
			r = dup2(m->stage[i], LISTEN_START + (int)i);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -1;
		m->applied = i + 1;
	}
	return 0;
}

static void close_span(unsigned lo, unsigned hi)
{
	unsigned max;

	if (lo > hi || syscall(SYS_close_range, lo, hi, 0) == 0)
		return;
	max = fd_limit(); /* before Linux 5.9 */
	for (unsigned fd = lo; fd <= hi && fd < max; fd++)
		close((int)fd);
}

void fdmap_close_rest(size_t n, int keep)
{
	unsigned first = LISTEN_START + (unsigned)n;

	if (keep < 0 || (unsigned)keep < first) {
		close_span(first, ~0u);
		return;
	}
	close_span(first, (unsigned)keep - 1);
	close_span((unsigned)keep + 1, ~0u);
}

static int add_exposed(struct fdmap *m, int fd, size_t *cap)
{
	if (m->nexposed == *cap) {
		size_t ncap = *cap ? 2 * *cap : 16;
		int *p = realloc(m->exposed, ncap * sizeof *p);

		if (p == NULL)
			return -1;
		m->exposed = p;
		*cap = ncap;
	}
	m->exposed[m->nexposed++] = fd;
	return 0;
}

static int exposed_at(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	return fl >= 0 && !(fl & FD_CLOEXEC);
}

/* Open fds from `from` up that an exec would keep. */
static int list_exposed(struct fdmap *m, int from)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t cap = 0;
	int r = 0;

	if (d == NULL) {
		unsigned max = fd_limit();

		for (unsigned fd = (unsigned)from; fd < max && r == 0; fd++)
			if (exposed_at((int)fd))
				r = add_exposed(m, (int)fd, &cap);
		return r;
	}
	while (r == 0 && (e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end == '\0' && end != e->d_name && fd >= from && fd <= INT_MAX &&
		    exposed_at((int)fd))
			r = add_exposed(m, (int)fd, &cap);
	}
	closedir(d); /* its own fd is O_CLOEXEC: never listed */
	return r;
}

int fdmap_save(struct fdmap *m)
{
	int above = LISTEN_START + (int)m->n;

	if (list_exposed(m, above) < 0)
		return -1;
	for (size_t i = 0; i < m->n; i++) {
		int fl = fcntl(LISTEN_START + (int)i, F_GETFD);

		if (fl < 0)
			continue; /* closed: closed again by fdmap_undo */
		m->backup_cloexec[i] = !!(fl & FD_CLOEXEC);
		m->backup[i] = fdmap_dup_above(LISTEN_START + (int)i, above);
		if (m->backup[i] < 0)
			return -1;
	}
	return 0;
}

void fdmap_hide(struct fdmap *m)
{
	for (size_t i = 0; i < m->nexposed; i++)
		set_cloexec(m->exposed[i], 1);
}

void fdmap_undo(struct fdmap *m)
{
	int saved = errno;

	for (size_t i = 0; i < m->applied; i++) {
		int target = LISTEN_START + (int)i;

		if (m->backup[i] >= 0)
			dup3(m->backup[i], target, m->backup_cloexec[i] ? O_CLOEXEC : 0);
		else
			close(target);
	}
	m->applied = 0;
	for (size_t i = 0; i < m->nexposed; i++)
		set_cloexec(m->exposed[i], 0);
	for (size_t i = 0; i < m->n; i++) {
		close_keep_errno(m->stage[i]);
		close_keep_errno(m->backup[i]);
		m->stage[i] = m->backup[i] = -1;
	}
	errno = saved;
}
