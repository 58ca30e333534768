/*
 * fdshare_listen_fds: every outcome of sd_listen_fds_with_names(), with
 * and without unset_env, each case in a child of its own (the variables
 * and fds 3, 4, ... are the child's); then a real systemd tool starting a
 * program that reads its socket with fdshare_listen_fds.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdshare.h"
#include "t.h"

#define PIDFS_MAGIC 0x50494446

/* This process's pidfd inode id on pidfs (Linux 6.9+), or 0. */
static uint64_t own_pidfdid(void)
{
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	struct statfs sfs;
	struct stat st;
	uint64_t id = 0;

	if (pidfd >= 0 && fstatfs(pidfd, &sfs) == 0 && sfs.f_type == PIDFS_MAGIC &&
	    fstat(pidfd, &st) == 0)
		id = st.st_ino;
	if (pidfd >= 0)
		close(pidfd);
	return id;
}

/*
 * One environment and its expected outcome.  pid "self" is the child's
 * pid, "parent" another live process; pidfdid "self" is the child's pidfd
 * id, "other" a different one.  open: fds 3 .. 3+open-1 are open.
 */
struct lcase {
	const char *pid, *pidfdid, *fds, *names;
	int open;
	int ask;                /* pass a names pointer */
	int want, err;          /* return value, errno when -1 */
	const char *want_names; /* joined with '|' */
};

static const char *value(const char *spec, char *buf, size_t size)
{
	if (spec == NULL)
		return NULL;
	if (strcmp(spec, "self") == 0)
		snprintf(buf, size, "%d", (int)getpid());
	else if (strcmp(spec, "ws-self") == 0)
		snprintf(buf, size, " \t%d", (int)getpid());
	else if (strcmp(spec, "parent") == 0)
		snprintf(buf, size, "%d", (int)getppid());
	else
		snprintf(buf, size, "%s", spec);
	return buf;
}

static void set_var(const char *name, const char *v)
{
	CHECK_EQ(v ? setenv(name, v, 1) : unsetenv(name), 0);
}

static void check_var(const char *name, const char *was, int unset)
{
	const char *now = getenv(name);

	if (unset || was == NULL)
		CHECK(now == NULL);
	else
		CHECK(now && strcmp(now, was) == 0);
}

static void check_names(char **names, const char *want)
{
	char joined[1024] = "";
	size_t len = 0;

	for (int i = 0; names[i]; i++)
		len += (size_t)snprintf(joined + len, sizeof joined - len, "%s%s",
		                        i ? "|" : "", names[i]);
	CHECK(len < sizeof joined && strcmp(joined, want) == 0);
}

static _Noreturn void case_child(const struct lcase *c, int unset)
{
	char pid[64], id[64], *sentinel[] = { NULL }, **names = sentinel;
	uint64_t own = own_pidfdid();
	int r, e;

	alarm(20);
	CHECK_EQ(syscall(SYS_close_range, 3, ~0u, 0), 0);
	for (int i = 0; i < c->open; i++)
		CHECK_EQ(open("/dev/null", O_RDONLY), 3 + i); /* without O_CLOEXEC */
	value(c->pid, pid, sizeof pid);
	if (c->pidfdid && strcmp(c->pidfdid, "self") == 0)
		snprintf(id, sizeof id, "%llu", (unsigned long long)own);
	else if (c->pidfdid && strcmp(c->pidfdid, "other") == 0)
		snprintf(id, sizeof id, "%llu", (unsigned long long)own + 1);
	else
		value(c->pidfdid, id, sizeof id);
	set_var("LISTEN_PID", c->pid ? pid : NULL);
	set_var("LISTEN_PIDFDID", c->pidfdid ? id : NULL);
	set_var("LISTEN_FDS", c->fds);
	set_var("LISTEN_FDNAMES", c->names);
	errno = 0;
	r = fdshare_listen_fds(unset, c->ask ? &names : NULL);
	e = errno;
	CHECK_EQ(r, c->want);
	if (r < 0)
		CHECK_EQ(e, c->err);
	if (c->ask && r > 0) {
		check_names(names, c->want_names);
		fdshare_strv_free(names);
	} else {
		CHECK(names == sentinel);
	}
	for (int fd = 3; fd < 3 + r; fd++)
		CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
	check_var("LISTEN_PID", c->pid ? pid : NULL, unset);
	check_var("LISTEN_PIDFDID", c->pidfdid ? id : NULL, unset);
	check_var("LISTEN_FDS", c->fds, unset);
	check_var("LISTEN_FDNAMES", c->names, unset);
	_exit(0);
}

static void run_cases(const struct lcase *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int unset = 0; unset <= 1; unset++) {
			pid_t pid = fork();

			CHECK(pid >= 0);
			if (pid == 0)
				case_child(&cases[i], unset);
			if (t_wait(pid) != 0)
				t_fail(__FILE__, __LINE__, "case %zu (unset_env %d) failed", i, unset);
		}
}

#define N(a) (sizeof(a) / sizeof *(a))

TEST(listen_not_ours)
{
	static const struct lcase cases[] = {
		{ NULL, NULL, "1", NULL, 1, 1, 0, 0, NULL },
		{ NULL, NULL, NULL, NULL, 0, 0, 0, 0, NULL },
		{ "parent", NULL, "1", "a", 1, 1, 0, 0, NULL },
		{ "parent", "abc", "x", "a", 1, 1, 0, 0, NULL }, /* nothing else read */
		{ "self", NULL, NULL, "a", 1, 1, 0, 0, NULL },
	};

	run_cases(cases, N(cases));
}

TEST(listen_bad_pid)
{
	static const struct lcase cases[] = {
		{ "abc", NULL, "1", NULL, 1, 1, -1, EINVAL, NULL },
		{ "", NULL, "1", NULL, 1, 1, -1, EINVAL, NULL },
		{ "12abc", NULL, "1", NULL, 1, 0, -1, EINVAL, NULL },
		{ "0", NULL, "1", NULL, 1, 1, -1, ERANGE, NULL },
		{ "-5", NULL, "1", NULL, 1, 1, -1, ERANGE, NULL },
		{ "99999999999", NULL, "1", NULL, 1, 1, -1, ERANGE, NULL },
	};

	run_cases(cases, N(cases));
}

TEST(listen_bad_count)
{
	static const struct lcase cases[] = {
		{ "self", NULL, "0", NULL, 1, 1, -1, EINVAL, NULL },
		{ "self", NULL, "-1", NULL, 1, 1, -1, EINVAL, NULL },
		{ "self", NULL, "", NULL, 1, 1, -1, EINVAL, NULL },
		{ "self", NULL, "x", NULL, 1, 1, -1, EINVAL, NULL },
		{ "self", NULL, "2x", NULL, 2, 0, -1, EINVAL, NULL },
		{ "self", NULL, "2147483647", NULL, 1, 1, -1, EINVAL, NULL },
		{ "self", NULL, "99999999999", NULL, 1, 1, -1, ERANGE, NULL },
	};

	run_cases(cases, N(cases));
}

/* systemd's number syntax: whitespace, 0x, 0o, 0b and C's octal. */
TEST(listen_number_syntax)
{
	static const struct lcase cases[] = {
		{ "ws-self", NULL, " 2", NULL, 2, 1, 2, 0, "unknown|unknown" },
		{ "self", NULL, "0x2", NULL, 2, 1, 2, 0, "unknown|unknown" },
		{ "self", NULL, "0b10", NULL, 2, 1, 2, 0, "unknown|unknown" },
		{ "self", NULL, "0o3", NULL, 3, 0, 3, 0, NULL },
		{ "self", NULL, "010", NULL, 8, 0, 8, 0, NULL },
		{ "self", NULL, "08", NULL, 8, 0, -1, EINVAL, NULL },
	};

	run_cases(cases, N(cases));
}

TEST(listen_ebadf)
{
	static const struct lcase cases[] = {
		{ "self", NULL, "2", NULL, 1, 1, -1, EBADF, NULL },
		{ "self", NULL, "1", NULL, 0, 0, -1, EBADF, NULL },
		/* a closed fd is found before the names are counted */
		{ "self", NULL, "2", "a", 1, 1, -1, EBADF, NULL },
	};

	run_cases(cases, N(cases));
}

TEST(listen_names)
{
	static const struct lcase cases[] = {
		{ "self", NULL, "3", "a:b:c", 3, 1, 3, 0, "a|b|c" },
		{ "self", NULL, "2", NULL, 2, 1, 2, 0, "unknown|unknown" },
		{ "self", NULL, "2", "a", 2, 1, -1, EINVAL, NULL },
		{ "self", NULL, "2", "a:b:c", 2, 1, -1, EINVAL, NULL },
		{ "self", NULL, "2", "a", 2, 0, 2, 0, NULL }, /* not asked: not read */
		{ "self", NULL, "1", "", 1, 1, 1, 0, "" },
		{ "self", NULL, "2", "a:", 2, 1, 2, 0, "a|" },
		{ "self", NULL, "2", ":", 2, 1, 2, 0, "|" },
		{ "self", NULL, "1", "a\\:b", 1, 1, 1, 0, "a:b" },
		{ "self", NULL, "1", "a\\\\b", 1, 1, 1, 0, "a\\b" },
		{ "self", NULL, "1", "a\\", 1, 1, -1, EINVAL, NULL },
		/* the names are split before anything else is looked at */
		{ NULL, NULL, NULL, "a\\", 0, 1, -1, EINVAL, NULL },
		{ NULL, NULL, NULL, "a\\", 0, 0, 0, 0, NULL },
	};

	run_cases(cases, N(cases));
}

TEST(listen_pidfdid)
{
	int pidfs = own_pidfdid() != 0;
	const struct lcase cases[] = {
		{ "self", "self", "1", "web", 1, 1, 1, 0, "web" },
		/* without pidfs the id cannot be checked and is ignored */
		{ "self", "other", "1", "web", 1, 1, pidfs ? 0 : 1, 0, pidfs ? NULL : "web" },
		{ "self", "abc", "1", "web", 1, 1, -1, EINVAL, NULL },
		{ "self", "-1", "1", "web", 1, 1, -1, ERANGE, NULL },
	};

	run_cases(cases, N(cases));
}

TEST(listen_strv_free_null)
{
	fdshare_strv_free(NULL);
}

/* ---- systemd-socket-activate starts tests/aux/act_serve ---- */

static const char *socket_activate(void)
{
	static const char *cands[] = { "/usr/bin/systemd-socket-activate",
		                       "/lib/systemd/systemd-activate",
		                       "/usr/lib/systemd/systemd-activate" };

	for (size_t i = 0; i < N(cands); i++)
		if (access(cands[i], X_OK) == 0)
			return cands[i];
	return NULL;
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* A port nothing listens on now (it may be taken again before we use it). */
static int free_port(void)
{
	struct sockaddr_in a = loopback(0);
	socklen_t len = sizeof a;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(s >= 0);
	CHECK_EQ(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	CHECK_EQ(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

static pid_t start_tool(const char *tool, int port, const char *fdname)
{
	char listen[64], name[300];
	char *argv[] = { (char *)tool, "-l", listen, name, (char *)t_aux("act_serve"), NULL };
	pid_t pid;

	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	snprintf(name, sizeof name, "--fdname=%s", fdname ? fdname : "");
	if (fdname == NULL) {
		argv[3] = argv[4];
		argv[4] = NULL;
	}
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		alarm(30); /* kept across exec: bounds the tool and act_serve */
		dup2(null, 1);
		dup2(null, 2);
		syscall(SYS_close_range, 3, ~0u, 0);
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		execv(tool, argv);
		_exit(127);
	}
	return pid;
}

/* Connected to the tool's socket, or -1 when the tool exited first. */
static int connect_tool(int port, pid_t tool, int *status)
{
	struct sockaddr_in a = loopback(port);

	for (int i = 0; i < 400; i++) { /* 10 s */
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		CHECK(s >= 0);
		if (connect(s, (struct sockaddr *)&a, sizeof a) == 0)
			return s;
		close(s);
		if (waitpid(tool, status, WNOHANG) == tool)
			return -1;
		usleep(25000);
	}
	kill(tool, SIGKILL);
	t_wait(tool);
	t_fail(__FILE__, __LINE__, "nothing listening on 127.0.0.1:%d after 10 s", port);
}

static void activate(const char *fdname, const char *want)
{
	struct timeval tv = { 20, 0 };
	const char *tool = socket_activate();
	char line[512];
	size_t len = 0;
	ssize_t r;
	pid_t pid = -1;
	int s = -1, status = 0;

	if (tool == NULL)
		t_skip("systemd-socket-activate not installed (Debian package systemd)");
	if (access(t_aux("act_serve"), X_OK) != 0)
		t_skip("%s not built", t_aux("act_serve"));
	for (int attempt = 0; attempt < 3 && s < 0; attempt++) {
		int port = free_port();

		pid = start_tool(tool, port, fdname);
		s = connect_tool(port, pid, &status); /* -1: the port was taken again */
	}
	if (s < 0)
		t_fail(__FILE__, __LINE__, "%s exited with status %d three times", tool, status);
	CHECK_EQ(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	while (len < sizeof line - 1 && (r = read(s, line + len, sizeof line - 1 - len)) > 0)
		len += (size_t)r;
	line[len] = '\0';
	close(s);
	CHECK_EQ(t_wait(pid), 0);
	if (strcmp(line, want) != 0)
		t_fail(__FILE__, __LINE__, "act_serve said \"%s\", want \"%s\"", line, want);
}

TEST(socket_activate_interop)
{
	activate(NULL, "n=1 names=unknown unset=1 cloexec=1\n");
}

TEST(socket_activate_fdname_interop)
{
	activate("web", "n=1 names=web unset=1 cloexec=1\n");
}
