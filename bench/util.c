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
