/*
 * fdshare_grab, fdshare_grab_pidfd, fdshare_pidfd_open: descriptors taken
 * from a running process that does not cooperate, the very same open file
 * description, and who may take them.  (fdshare_reopen and the fallback to
 * it: test_grab_reopen.c.)
 */
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "test_grab.h"

/* The "flags:" line of /proc/PID/fdinfo/FD, octal. */
static long fdinfo_flags(pid_t pid, int fd)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)pid, fd);
	f = fopen(path, "re");
	CHECK(f != NULL);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "flags:", 6) == 0)
			v = strtol(line + 6, NULL, 8);
	fclose(f);
	return v;
}

TEST(grab_file_is_the_same_open_file_description)
{
	char path[256], buf[16] = { 0 };
	int f = make_file(path, sizeof path), g, tfd = f;
	struct target t;

	CHECK(lseek(f, 2, SEEK_SET) == 2);
	target_start(&t);
	close(f); /* from now on only the target holds it */
	CHECK_EQ(target_cmd(&t, 'p', tfd), 2);
	g = fdshare_grab(t.pid, tfd, 0);
	CHECK(g >= 0);
	CHECK(is_file(g, path));
	CHECK_EQ(pos(g), 2);
	CHECK_EQ(write(g, "ab", 2), 2);
	CHECK_EQ(target_cmd(&t, 'p', tfd), 4); /* our write moved its offset */
	CHECK_EQ(target_cmd(&t, 's', tfd), 5);
	CHECK_EQ(pos(g), 5);                   /* and its seek moves ours */
	CHECK(same_description(t.pid, tfd, g) != 0);
	CHECK_EQ(pread(g, buf, 10, 0), 10);
	CHECK(strcmp(buf, "01ab456789") == 0);
	close(g);
	target_stop(&t);
	remove_file(path);
}

TEST(grab_pipe_write_end_and_share_status_flags)
{
	int p[2], g, tfd;
	char buf[16] = { 0 };
	struct target t;

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	tfd = p[1];
	target_start(&t);
	close(p[1]);
	g = fdshare_grab(t.pid, tfd, 0);
	CHECK(g >= 0);
	CHECK_EQ(write(g, "via-grab", 8), 8);
	CHECK_EQ(read(p[0], buf, sizeof buf), 8);
	CHECK(strcmp(buf, "via-grab") == 0);
	CHECK(!(fdinfo_flags(t.pid, tfd) & O_NONBLOCK));
	CHECK(fcntl(g, F_SETFL, O_NONBLOCK) == 0);
	CHECK(fdinfo_flags(t.pid, tfd) & O_NONBLOCK); /* status flags are shared */
	close(g);
	target_stop(&t);
	CHECK_EQ(read(p[0], buf, sizeof buf), 0); /* no writer was left behind */
	close(p[0]);
}

TEST(grab_socket_and_talk_through_it)
{
	int sv[2], g, tfd;
	char buf[16] = { 0 };
	struct target t;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	tfd = sv[0];
	target_start(&t);
	close(sv[0]);
	g = fdshare_grab(t.pid, tfd, FDSHARE_REOPEN); /* getfd works: no fallback */
	CHECK(g >= 0);
	CHECK_EQ(send(g, "ping", 4, MSG_NOSIGNAL), 4);
	CHECK_EQ(recv(sv[1], buf, sizeof buf, 0), 4);
	CHECK(strcmp(buf, "ping") == 0);
	CHECK_EQ(send(sv[1], "pong", 4, MSG_NOSIGNAL), 4);
	CHECK_EQ(recv(g, buf, sizeof buf, 0), 4);
	CHECK(strcmp(buf, "pong") == 0);
	close(g);
	target_stop(&t);
	close(sv[1]);
}

TEST(cloexec_by_default_not_with_nocloexec)
{
	static const int want[][2] = { /* flags, FD_CLOEXEC expected */
		{ 0, 1 }, { FDSHARE_NOCLOEXEC, 0 },
		{ FDSHARE_REOPEN, 1 }, { FDSHARE_REOPEN | FDSHARE_NOCLOEXEC, 0 },
	};
	char path[256];
	int f = make_file(path, sizeof path), tfd = f, pidfd, g;
	struct target t;

	target_start(&t);
	close(f);
	pidfd = fdshare_pidfd_open(t.pid);
	CHECK(pidfd >= 0);
	CHECK(has_cloexec(pidfd));
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		g = fdshare_grab(t.pid, tfd, want[i][0]);
		CHECK(g >= 0);
		CHECK_EQ(has_cloexec(g), want[i][1]);
		close(g);
		if (want[i][0] & FDSHARE_REOPEN) { /* no pid to reopen through */
			CHECK_ERR(fdshare_grab_pidfd(pidfd, tfd, want[i][0]), EINVAL);
		} else {
			g = fdshare_grab_pidfd(pidfd, tfd, want[i][0]);
			CHECK(g >= 0);
			CHECK_EQ(has_cloexec(g), want[i][1]);
			close(g);
		}
		g = fdshare_reopen(t.pid, tfd, want[i][0]);
		CHECK(g >= 0);
		CHECK_EQ(has_cloexec(g), want[i][1]);
		close(g);
	}
	close(pidfd);
	target_stop(&t);
	remove_file(path);
}

TEST(bad_arguments_are_einval_or_ebadf)
{
	int pidfd = fdshare_pidfd_open(getpid()), p[2];

	CHECK(pidfd >= 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK_ERR(fdshare_grab(getpid(), 0, 0x100), EINVAL);
	CHECK_ERR(fdshare_grab(getpid(), 0, FDSHARE_DONTWAIT), EINVAL);
	CHECK_ERR(fdshare_grab(getpid(), 0, (int)0x80000000u), EINVAL);
	CHECK_ERR(fdshare_grab(0, 0, 0), EINVAL);
	CHECK_ERR(fdshare_grab(-1, 0, 0), EINVAL);
	CHECK_ERR(fdshare_grab(getpid(), -1, 0), EBADF);
	CHECK_ERR(fdshare_grab_pidfd(pidfd, 0, 0x100), EINVAL);
	CHECK_ERR(fdshare_grab_pidfd(pidfd, -1, 0), EBADF);
	CHECK_ERR(fdshare_grab_pidfd(-1, 0, 0), EBADF);
	CHECK_ERR(fdshare_grab_pidfd(p[0], 0, 0), EBADF); /* not a pidfd */
	CHECK_ERR(fdshare_reopen(getpid(), 0, 0x100), EINVAL);
	CHECK_ERR(fdshare_reopen(0, 0, 0), EINVAL);
	CHECK_ERR(fdshare_reopen(getpid(), -1, 0), EBADF);
	CHECK_ERR(fdshare_pidfd_open(0), EINVAL);
	CHECK_ERR(fdshare_pidfd_open(-5), EINVAL);
	close(pidfd);
	close(p[0]);
	close(p[1]);
}

TEST(gone_process_is_esrch)
{
	pid_t pid = fork();
	int pidfd;

	CHECK(pid >= 0);
	if (pid == 0)
		_exit(0);
	pidfd = fdshare_pidfd_open(pid);
	CHECK(pidfd >= 0);
	CHECK_EQ(t_wait(pid), 0);
	/* Reaped: the pid is free (reuse this soon is unlikely). */
	CHECK_ERR(fdshare_pidfd_open(pid), ESRCH);
	CHECK_ERR(fdshare_grab(pid, 0, 0), ESRCH);
	CHECK_ERR(fdshare_grab(pid, 0, FDSHARE_REOPEN), ESRCH);
	CHECK_ERR(fdshare_reopen(pid, 0, 0), ESRCH);
	CHECK_ERR(fdshare_grab_pidfd(pidfd, 0, 0), ESRCH);
	close(pidfd);
}

TEST(fd_not_open_in_target_is_ebadf)
{
	char path[64];
	struct target t;
	int pidfd;

	target_start(&t);
	snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)t.pid, NOT_OPEN);
	CHECK(access(path, F_OK) < 0 && errno == ENOENT);
	pidfd = fdshare_pidfd_open(t.pid);
	CHECK(pidfd >= 0);
	CHECK_ERR(fdshare_grab(t.pid, NOT_OPEN, 0), EBADF);
	CHECK_ERR(fdshare_grab(t.pid, NOT_OPEN, FDSHARE_REOPEN), EBADF);
	CHECK_ERR(fdshare_grab_pidfd(pidfd, NOT_OPEN, 0), EBADF);
	CHECK_ERR(fdshare_reopen(t.pid, NOT_OPEN, 0), EBADF);
	close(pidfd);
	target_stop(&t);
}

TEST(one_pidfd_many_grabs)
{
	char path[256], buf[8] = { 0 };
	int f = make_file(path, sizeof path), p[2], sv[2], pidfd, g[4];
	int tf = f, tp, ts;
	struct target t;

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	tp = p[1];
	ts = sv[0];
	target_start(&t);
	close(f);
	close(p[1]);
	close(sv[0]);
	pidfd = fdshare_pidfd_open(t.pid);
	CHECK(pidfd >= 0);
	g[0] = fdshare_grab_pidfd(pidfd, tf, 0);
	g[1] = fdshare_grab_pidfd(pidfd, tp, 0);
	g[2] = fdshare_grab_pidfd(pidfd, ts, 0);
	g[3] = fdshare_grab_pidfd(pidfd, tf, 0);
	for (int i = 0; i < 4; i++) {
		CHECK(g[i] >= 0);
		for (int j = 0; j < i; j++)
			CHECK(g[i] != g[j]);
	}
	CHECK(is_file(g[0], path) && is_file(g[3], path));
	CHECK(lseek(g[0], 7, SEEK_SET) == 7);
	CHECK_EQ(pos(g[3]), 7);
	CHECK_EQ(target_cmd(&t, 'p', tf), 7);
	CHECK_EQ(write(g[1], "pipe", 4), 4);
	CHECK_EQ(read(p[0], buf, sizeof buf), 4);
	CHECK(memcmp(buf, "pipe", 4) == 0);
	CHECK_EQ(send(g[2], "sock", 4, MSG_NOSIGNAL), 4);
	CHECK_EQ(recv(sv[1], buf, sizeof buf, 0), 4);
	CHECK(memcmp(buf, "sock", 4) == 0);
	for (int i = 0; i < 4; i++)
		close(g[i]);
	target_stop(&t);
	CHECK_ERR(fdshare_grab_pidfd(pidfd, tf, 0), ESRCH); /* the pidfd outlives it */
	close(pidfd);
	close(p[0]);
	close(sv[1]);
	remove_file(path);
}

/* PATH lookup, for setpriv. */
static const char *find_program(const char *name, char *buf, size_t size)
{
	const char *path = getenv("PATH");
	char dirs[4096];

	snprintf(dirs, sizeof dirs, "%s", path ? path : "/usr/bin:/bin");
	for (char *save, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(buf, size, "%s/%s", d, name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* 1 once /proc/PID/status says every uid is uid, 0 if that never comes. */
static int wait_for_uid(pid_t pid, unsigned uid)
{
	char path[64], line[256], want[64];

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	snprintf(want, sizeof want, "Uid:\t%u\t%u\t%u\t%u\n", uid, uid, uid, uid);
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(path, "re");
		int ok = 0;

		if (f == NULL)
			return 0;
		while (fgets(line, sizeof line, f))
			ok |= strcmp(line, want) == 0;
		fclose(f);
		if (ok)
			return 1;
		usleep(10000);
	}
	return 0;
}

static void become(unsigned id)
{
	CHECK(setgroups(0, NULL) == 0);
	CHECK(setresgid(id, id, id) == 0);
	CHECK(setresuid(id, id, id) == 0);
}

TEST(other_uid_is_eperm_but_root_may)
{
	char setpriv[4096], path[256], buf[16] = { 0 };
	int f, g;
	pid_t target, grabber;

	if (geteuid() != 0)
		t_skip("needs root to start processes of other uids");
	if (find_program("setpriv", setpriv, sizeof setpriv) == NULL)
		t_skip("setpriv not found (Debian package util-linux)");
	f = make_file(path, sizeof path);
	target = fork();
	CHECK(target >= 0);
	if (target == 0) {
		dup2(f, 0); /* its stdin: the file */
		alarm(30);
		execl(setpriv, "setpriv", "--reuid=1001", "--regid=1001",
		      "--clear-groups", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	close(f);
	CHECK(wait_for_uid(target, 1001));

	grabber = fork();
	CHECK(grabber >= 0);
	if (grabber == 0) {
		int pidfd, r;

		alarm(20);
		become(1002);
		CHECK_ERR(fdshare_grab(target, 0, 0), EPERM);
		pidfd = fdshare_pidfd_open(target); /* opening needs no rights */
		CHECK(pidfd >= 0);
		CHECK_ERR(fdshare_grab_pidfd(pidfd, 0, 0), EPERM);
		/* /proc/PID/fd is closed to it as well: the fallback fails too. */
		errno = 0;
		r = fdshare_grab(target, 0, FDSHARE_REOPEN);
		CHECK(r == -1 && errno == EPERM); /* refused both ways: EPERM */
		_exit(0);
	}
	CHECK_EQ(t_wait(grabber), 0);

	g = fdshare_grab(target, 0, 0);
	CHECK(g >= 0);
	CHECK(is_file(g, path));
	CHECK_EQ(read(g, buf, 10), 10);
	CHECK(strcmp(buf, "0123456789") == 0);
	close(g);
	CHECK(kill(target, SIGKILL) == 0);
	CHECK_EQ(t_wait(target), 128 + SIGKILL);
	remove_file(path);
}
