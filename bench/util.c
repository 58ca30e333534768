/* The helpers every benchmark program links. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fdshare.h"
#include "bench.h"

void die(const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
	exit(111);
}

void die_proto(const char *what)
{
	fprintf(stderr, "bench: %s\n", what);
	exit(111);
}

double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

unsigned long long arg_count(const char *s)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || end == s || *end || n == 0)
		die_proto("N must be a positive integer");
	return n;
}

int open_payload(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die(path);
	return fd;
}

void byte_put(int fd, char c)
{
	ssize_t r;

	do
		r = write(fd, &c, 1);
	while (r < 0 && errno == EINTR);
	if (r != 1)
		die("write");
}

char byte_get(int fd)
{
	char c;
	ssize_t r;

	do
		r = read(fd, &c, 1);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		die_proto("read: end of stream");
	if (r != 1)
		die("read");
	return c;
}

int fork_child(int type, child_fn *fn, const void *arg, pid_t *pid)
{
	int sv[2];

	if (socketpair(AF_UNIX, type, 0, sv) < 0)
		die("socketpair");
	*pid = fork();
	if (*pid < 0)
		die("fork");
	if (*pid == 0) {
		close(sv[0]);
		fn(sv[1], arg);
		_exit(0);
	}
	close(sv[1]);
	if (byte_get(sv[0]) != 'R')
		die_proto("child: not ready");
	return sv[0];
}

void reap(pid_t pid)
{
	int st;
	pid_t r;

	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		die("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die_proto("child failed");
}

void result(const char *name, const char *workload, double fds, double msgs,
            double secs, unsigned long long n)
{
	printf("%s %s %.0f %.0f\n", name, workload, fds / secs, msgs / secs);
	fflush(stdout);
	fprintf(stderr, "# %s %s n=%llu elapsed=%.3fs\n", name, workload, n, secs);
}

struct fdshare_holder *holder_dial(const char *path)
{
	struct fdshare_holder *h = fdshare_holder_connect(path);

	if (h == NULL)
		die("fdshare_holder_connect");
	return h;
}

const char **names_make(const char *prefix, size_t n)
{
	enum { LEN = 64 };
	const char **v = malloc(n * (sizeof *v + LEN));
	char *s = (char *)(v + n);

	if (v == NULL)
		die("malloc");
	for (size_t i = 0; i < n; i++, s += LEN) {
		snprintf(s, LEN, "%s-%d-%zu", prefix, (int)getpid(), i);
		v[i] = s;
	}
	return v;
}

void holder_fill(struct fdshare_holder *h, const char **names, size_t n,
                 int fd, size_t per, int flags)
{
	struct fdshare_store_item *it = malloc(per * sizeof *it);

	if (it == NULL)
		die("malloc");
	for (size_t i = 0; i < n; i += per) {
		size_t k = n - i < per ? n - i : per;

		for (size_t j = 0; j < k; j++)
			it[j] = (struct fdshare_store_item){ names[i + j], &fd, 1, 0, flags };
		if (fdshare_store_many(h, it, k) < 0)
			die("fdshare_store_many");
	}
	free(it);
}

void holder_drain(struct fdshare_holder *h, const char **names, size_t n,
                  size_t per)
{
	for (size_t i = 0; i < n; i += per)
		if (fdshare_remove_many(h, names + i, n - i < per ? n - i : per) < 0)
			die("fdshare_remove_many");
}

long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		die(path);
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	if (kb < 0)
		die_proto("no VmRSS in /proc/PID/status");
	return kb;
}
