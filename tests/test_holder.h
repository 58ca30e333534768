/*
 * Shared by the holder's tests: run the real daemon ($BUILD/fdshare
 * holder) in a temporary directory, wait for --ready-fd, stop it with
 * SIGTERM; count its open fds; act as another uid in a child; talk to it
 * on a bare socket, for what the client library would never send.
 */
#ifndef TEST_HOLDER_H
#define TEST_HOLDER_H

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fdshare.h"
#include "t.h"
#include "../src/lib/internal.h"

struct th {
	pid_t pid;
	char dir[64];
	char sock[128];
	char log[128];
};

/*
 * Holders still running: a failed CHECK leaves the test at once, so they
 * are killed (and their directories removed) at the next start and at exit.
 */
#define TH_LIVE 8
static struct th th_live[TH_LIVE];
static void th_cleanup(struct th *h);

static void th_reap_all(void)
{
	for (int i = 0; i < TH_LIVE; i++)
		if (th_live[i].dir[0]) {
			if (th_live[i].pid > 0) {
				kill(th_live[i].pid, SIGKILL);
				waitpid(th_live[i].pid, NULL, 0);
			}
			th_cleanup(&th_live[i]);
			th_live[i].dir[0] = '\0';
		}
}

static inline void th_track(const struct th *h, int on)
{
	static int registered;

	if (!registered) {
		atexit(th_reap_all);
		registered = 1;
	}
	for (int i = 0; i < TH_LIVE; i++)
		if (on ? th_live[i].dir[0] == '\0' : strcmp(th_live[i].dir, h->dir) == 0) {
			if (on)
				th_live[i] = *h;
			else
				th_live[i].dir[0] = '\0';
			return;
		}
}

static inline void th_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static inline const char *th_fdshare(void)
{
	static char path[4096];
	const char *build = getenv("BUILD");

	snprintf(path, sizeof path, "%s/fdshare", build ? build : "build");
	return path;
}

/* Wait for the newline of --ready-fd; 0, or -1 if the holder died first. */
static inline int th_wait_ready(int rfd)
{
	struct pollfd p = { .fd = rfd, .events = POLLIN };
	char c;

	if (poll(&p, 1, 20000) != 1 || read(rfd, &c, 1) != 1)
		return -1;
	return c == '\n' ? 0 : -1;
}

/* Start a holder on the path h->sock (made up unless already set). */
static inline pid_t th_spawn(struct th *h, const char *const *extra, rlim_t nofile)
{
	char *argv[40];
	int p[2], n = 0;
	pid_t pid;

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	argv[n++] = (char *)th_fdshare();
	argv[n++] = "holder";
	argv[n++] = "--socket";
	argv[n++] = h->sock;
	argv[n++] = "--ready-fd";
	argv[n++] = "3";
	for (; extra && *extra && n < 38; extra++)
		argv[n++] = (char *)*extra;
	argv[n] = NULL;
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int log = open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (nofile) {
			struct rlimit rl = { nofile, nofile };

			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				_exit(77);
		}
		if (log >= 0)
			dup2(log, 2);
		if (p[1] == 3)
			fcntl(3, F_SETFD, 0);
		else
			dup2(p[1], 3);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	if (th_wait_ready(p[0]) < 0) {
		close(p[0]);
		kill(pid, SIGKILL);
		t_wait(pid);
		CHECK(!"the holder did not become ready (see its log)");
	}
	close(p[0]);
	return pid;
}

static inline void th_start_nofile(struct th *h, const char *const *extra, rlim_t nofile)
{
	char tmpl[] = "/tmp/fdshare-holder.XXXXXX";

	CHECK(mkdtemp(tmpl) != NULL);
	CHECK(chmod(tmpl, 0755) == 0);
	snprintf(h->dir, sizeof h->dir, "%s", tmpl);
	snprintf(h->sock, sizeof h->sock, "%s/h.sock", tmpl);
	snprintf(h->log, sizeof h->log, "%s/log", tmpl);
	h->pid = 0;
	th_track(h, 1); /* the directory, if the holder does not start */
	h->pid = th_spawn(h, extra, nofile);
	th_track(h, 0);
	th_track(h, 1);
}

static inline void th_start(struct th *h, const char *const *extra)
{
	th_start_nofile(h, extra, 0);
}

/* Remove the directory and whatever the test left in it. */
static void th_cleanup(struct th *h)
{
	DIR *d = opendir(h->dir);
	struct dirent *e;
	char path[sizeof h->dir + sizeof e->d_name + 2];

	if (d) {
		while ((e = readdir(d)))
			if (e->d_name[0] != '.' || (e->d_name[1] && e->d_name[1] != '.')) {
				snprintf(path, sizeof path, "%s/%s", h->dir, e->d_name);
				unlink(path);
			}
		closedir(d);
	}
	rmdir(h->dir);
}

/* SIGTERM, and the exit status (bounded: SIGKILL after 20 s). */
static inline int th_stop(struct th *h)
{
	int st = -1;

	kill(h->pid, SIGTERM);
	for (int i = 0; i < 2000; i++) {
		pid_t r = waitpid(h->pid, &st, WNOHANG);

		if (r == h->pid)
			break;
		if (i == 1999) {
			kill(h->pid, SIGKILL);
			st = t_wait(h->pid) << 8;
			break;
		}
		th_sleep_ms(10);
	}
	th_track(h, 0);
	th_cleanup(h);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static inline int th_count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The holder's fd count back to want within 5 s (it works asynchronously). */
static inline int th_fds_settle(pid_t pid, int want)
{
	int n = -1;

	for (int i = 0; i < 500; i++) {
		n = th_count_fds(pid);
		if (n == want)
			break;
		th_sleep_ms(10);
	}
	return n;
}

static inline struct fdshare_holder *th_connect(const struct th *h)
{
	struct fdshare_holder *c = fdshare_holder_connect(h->sock);

	CHECK(c != NULL);
	return c;
}

/*
 * A bare connection to path, for what the library would never send: the
 * socket, or -1 with errno (no CHECK: forked children use it too).
 */
static inline int th_raw_connect(const char *path)
{
	struct sockaddr_un sun;
	int s;

	if (sockaddr_unix(path, &sun) < 0)
		return -1;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s >= 0 && connect(s, (struct sockaddr *)&sun, sizeof sun) < 0) {
		close_keep_errno(s);
		return -1;
	}
	return s;
}

/*
 * Wait (10 s at most) until the holder hangs up on s, reading nothing (the
 * replies stay unread); the ms it took, or -1.
 */
static inline long long th_wait_dropped(int s)
{
	long long t0 = mono_ms();

	while (mono_ms() - t0 < 10000) {
		struct pollfd pf = { .fd = s, .events = POLLIN };

		if (poll(&pf, 1, 0) < 0)
			return -1;
		if (pf.revents & POLLHUP)
			return mono_ms() - t0;
		th_sleep_ms(10);
	}
	return -1;
}

/* The holder's log (its first 64 KiB) says what. */
static inline int th_log_has(const struct th *h, const char *what)
{
	char buf[65536];
	int fd = open(h->log, O_RDONLY | O_CLOEXEC);
	ssize_t k;

	if (fd < 0)
		return 0;
	k = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[k > 0 ? k : 0] = '\0';
	return strstr(buf, what) != NULL;
}

/* In a child: become uid (and gid) u, with these supplementary groups. */
static inline void th_become_in(uid_t u, const gid_t *groups, size_t ngroups)
{
	if (setgroups(ngroups, groups) < 0 || setresgid(u, u, u) < 0 ||
	    setresuid(u, u, u) < 0)
		_exit(98);
}

/* In a child: become uid (and gid) u, no supplementary groups. */
static inline void th_become(uid_t u)
{
	th_become_in(u, NULL, 0);
}

/* One sd_notify datagram of len bytes to path, with fds: 0, or -1. */
static inline int th_notify_send(const char *path, const char *buf, size_t len,
                                 const int *fds, size_t nfds)
{
	struct sockaddr_un sun;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ssize_t r = -1;

	if (s >= 0 && sockaddr_unix(path, &sun) == 0 &&
	    connect(s, (struct sockaddr *)&sun, sizeof sun) == 0)
		r = fds_sendmsg(s, &iov, 1, fds, nfds, 0);
	if (s >= 0)
		close(s);
	return r == (ssize_t)len ? 0 : -1;
}

/* A pipe: what is written to p[1] can be read from p[0]. */
static inline void th_pipe(int p[2])
{
	CHECK(pipe2(p, O_CLOEXEC) == 0);
}

static inline int th_same_file(int a, int b)
{
	struct stat x, y;

	return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_dev == y.st_dev &&
	       x.st_ino == y.st_ino;
}

/* How many entries LIST shows the caller. */
static inline long th_list_count(struct fdshare_holder *c, const char *prefix)
{
	struct fdshare_list l;
	long n;

	if (fdshare_list(c, prefix, &l) < 0)
		return -1;
	n = (long)l.n;
	fdshare_list_free(&l);
	return n;
}

#endif
