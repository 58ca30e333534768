/*
 * fdshare_grab, fdshare_grab_pidfd, fdshare_reopen, fdshare_pidfd_open:
 * descriptors taken from a running process that does not cooperate.
 */
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/kcmp.h>
#include <linux/seccomp.h>

#include "fdshare.h"
#include "t.h"

#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

#define NOT_OPEN 900 /* a descriptor number no target here has open */

/*
 * A target: a forked child that holds whatever this process had open at
 * fork and answers commands on its control pipe, each naming one of its
 * fds: 'p' reports the fd's offset, 's' seeks it to 5 and reports, 'c'
 * closes it.  It exits when the control pipe closes.  It never passes an
 * fd.
 */
struct target {
	pid_t pid;
	int ctl, rep;
};

static void target_loop(int ctl, int rep)
{
	unsigned char cmd[2];

	alarm(30);
	while (read(ctl, cmd, 2) == 2) {
		off_t off = 0;

		if (cmd[0] == 'c')
			close(cmd[1]);
		if (cmd[0] == 's')
			lseek(cmd[1], 5, SEEK_SET);
		if (cmd[0] != 'c')
			off = lseek(cmd[1], 0, SEEK_CUR);
		if (write(rep, &off, sizeof off) != sizeof off)
			_exit(1);
	}
	_exit(0);
}

static void target_start(struct target *t)
{
	int c[2], r[2];

	CHECK(pipe2(c, O_CLOEXEC) == 0);
	CHECK(pipe2(r, O_CLOEXEC) == 0);
	t->pid = fork();
	CHECK(t->pid >= 0);
	if (t->pid == 0) {
		close(c[1]);
		close(r[0]);
		target_loop(c[0], r[1]);
	}
	close(c[0]);
	close(r[1]);
	t->ctl = c[1];
	t->rep = r[0];
}

static off_t target_cmd(struct target *t, char cmd, int fd)
{
	unsigned char m[2] = { (unsigned char)cmd, (unsigned char)fd };
	off_t off;

	CHECK(fd >= 0 && fd < 256);
	CHECK_EQ(write(t->ctl, m, 2), 2);
	CHECK_EQ(read(t->rep, &off, sizeof off), (ssize_t)sizeof off);
	return off;
}

/* Close its control pipe and reap it: it must have exited cleanly. */
static void target_stop(struct target *t)
{
	close(t->ctl);
	close(t->rep);
	CHECK_EQ(t_wait(t->pid), 0);
}

/* A temporary file holding "0123456789", open read-write. */
static int make_file(char *path, size_t size)
{
	int fd = t_tmpfile(path, size);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "0123456789", 10), 10);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	return fd;
}

static void remove_file(char *path)
{
	CHECK(unlink(path) == 0);
	*strrchr(path, '/') = 0;
	CHECK(rmdir(path) == 0);
}

static int is_file(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

static int has_cloexec(int fd)
{
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

static off_t pos(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

/*
 * kcmp(2): 1 when our fd and the target's tfd are one open file
 * description, 0 when not, -1 when kcmp is not in this kernel.
 */
static int same_description(pid_t target, int tfd, int fd)
{
	long r = syscall(SYS_kcmp, getpid(), target, KCMP_FILE, fd, tfd);

	return r < 0 ? -1 : r == 0;
}

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

/* r reopens the target's tfd, a file at offset 3 holding "0123456789". */
static void reopened_checks(struct target *t, int tfd, int r, const char *path, int acc)
{
	char buf[8] = { 0 };

	CHECK(r >= 0);
	CHECK_EQ(target_cmd(t, 'p', tfd), 3);
	CHECK(is_file(r, path));
	CHECK_EQ(fcntl(r, F_GETFL) & O_ACCMODE, acc);
	CHECK_EQ(pos(r), 0); /* a new description starts at 0 */
	CHECK(same_description(t->pid, tfd, r) != 1);
	CHECK_EQ(read(r, buf, 4), 4);
	CHECK(strcmp(buf, "0123") == 0);
	CHECK_EQ(target_cmd(t, 'p', tfd), 3); /* our read left it alone */
	CHECK_EQ(target_cmd(t, 's', tfd), 5);
	CHECK_EQ(pos(r), 4);                  /* its seek left us alone */
}

TEST(reopen_is_a_new_description_with_the_same_access_mode)
{
	char path[256], buf[16] = { 0 };
	int rw = make_file(path, sizeof path), wo, ap, ro, sv[2], r;
	struct target t;

	CHECK(lseek(rw, 3, SEEK_SET) == 3);
	wo = open(path, O_WRONLY | O_CLOEXEC);
	ap = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(wo >= 0 && ap >= 0 && ro >= 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	target_start(&t);
	close(rw);
	close(wo);
	close(ap);
	close(ro);
	close(sv[0]);

	r = fdshare_reopen(t.pid, rw, 0);
	reopened_checks(&t, rw, r, path, O_RDWR);
	close(r);

	r = fdshare_reopen(t.pid, wo, 0);
	CHECK(r >= 0 && is_file(r, path));
	CHECK_EQ(fcntl(r, F_GETFL) & (O_ACCMODE | O_APPEND), O_WRONLY);
	CHECK_ERR(read(r, buf, 1), EBADF);
	CHECK_EQ(write(r, "W", 1), 1);
	close(r);

	r = fdshare_reopen(t.pid, ap, 0);
	CHECK(r >= 0 && is_file(r, path));
	CHECK_EQ(fcntl(r, F_GETFL) & (O_ACCMODE | O_APPEND), O_WRONLY | O_APPEND);
	CHECK_EQ(write(r, "!", 1), 1);
	close(r);

	r = fdshare_reopen(t.pid, ro, 0);
	CHECK(r >= 0 && is_file(r, path));
	CHECK_EQ(fcntl(r, F_GETFL) & O_ACCMODE, O_RDONLY);
	CHECK_ERR(write(r, "x", 1), EBADF);
	CHECK_EQ(read(r, buf, sizeof buf), 11);
	CHECK(strcmp(buf, "W123456789!") == 0);
	close(r);

	CHECK_ERR(fdshare_reopen(t.pid, sv[0], 0), ENXIO);
	CHECK_ERR(fdshare_reopen(t.pid, NOT_OPEN, 0), EBADF);
	target_stop(&t);
	close(sv[1]);
	remove_file(path);
}

/*
 * Opening a FIFO waits for the other side: a reopen must not.  The target
 * holds a FIFO's write end with no reader left, and another FIFO's read
 * end that never had a writer; and a pipe's write end whose reader is here.
 */
TEST(reopen_of_a_fifo_or_pipe_does_not_block)
{
	char dir[] = "/tmp/fdshare-fifo.XXXXXX", w[64], r[64], buf[8] = { 0 };
	int rd, wr, r2, p[2], st;
	struct target t;
	ssize_t n;
	pid_t pid;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(w, sizeof w, "%s/w", dir);
	snprintf(r, sizeof r, "%s/r", dir);
	CHECK(mkfifo(w, 0600) == 0 && mkfifo(r, 0600) == 0);
	rd = open(w, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	wr = open(w, O_WRONLY | O_CLOEXEC);
	r2 = open(r, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(rd >= 0 && wr >= 0 && r2 >= 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	target_start(&t);
	close(rd);
	close(wr);
	close(r2);
	close(p[1]);
	CHECK_EQ(target_cmd(&t, 'c', rd), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd;

		alarm(5); /* blocked in open: killed, status 128 + SIGALRM */
		CHECK_ERR(fdshare_reopen(t.pid, wr, 0), ENXIO);
		fd = fdshare_reopen(t.pid, r2, 0);
		CHECK(fd >= 0);
		CHECK_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDONLY);
		CHECK_EQ(read(fd, buf, 1), 0);
		fd = fdshare_reopen(t.pid, p[1], 0);
		CHECK(fd >= 0);
		CHECK_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_WRONLY);
		CHECK_EQ(write(fd, "fifo", 4), 4);
		_exit(0);
	}
	st = t_wait(pid);
	n = st == 0 ? read(p[0], buf, sizeof buf) : -1; /* the target holds p[1] */
	close(p[0]);
	target_stop(&t);
	CHECK(unlink(w) == 0 && unlink(r) == 0 && rmdir(dir) == 0);
	CHECK_EQ(st, 0);
	CHECK_EQ(n, 4);
	CHECK(memcmp(buf, "fifo", 4) == 0);
}

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define NATIVE_ARCH AUDIT_ARCH_I386
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH AUDIT_ARCH_RISCV64
#elif defined(__s390x__)
#define NATIVE_ARCH AUDIT_ARCH_S390X
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_ARCH AUDIT_ARCH_PPC64LE
#endif

/*
 * Make pidfd_getfd fail with err in this process: a seccomp filter that
 * answers it with that errno and lets every other call through.  A call
 * from another ABI is let through (its numbers mean other calls).
 * Returns -1 when this kernel or arch cannot.
 */
static int deny_pidfd_getfd(int err)
{
#ifdef NATIVE_ARCH
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_getfd, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof f / sizeof *f, .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
#else
	(void)err;
	errno = ENOSYS;
	return -1;
#endif
}

#define SKIP_EXIT 77

/* In a child where pidfd_getfd fails with err: no fallback unless asked. */
static void fallback(int err)
{
	char path[256];
	int f = make_file(path, sizeof path), sv[2], tf = f, ts;
	struct target t;
	pid_t pid;
	int st;

	CHECK(lseek(f, 3, SEEK_SET) == 3);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	ts = sv[0];
	target_start(&t);
	close(f);
	close(sv[0]);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int pidfd, r;

		alarm(20);
		if (deny_pidfd_getfd(err) < 0)
			_exit(SKIP_EXIT);
		pidfd = fdshare_pidfd_open(t.pid);
		CHECK(pidfd >= 0);
		CHECK_ERR(fdshare_grab(t.pid, tf, 0), err);
		CHECK_ERR(fdshare_grab_pidfd(pidfd, tf, 0), err);
		r = fdshare_grab(t.pid, tf, FDSHARE_REOPEN);
		reopened_checks(&t, tf, r, path, O_RDWR);
		CHECK(has_cloexec(r));
		close(r);
		r = fdshare_grab(t.pid, tf, FDSHARE_REOPEN | FDSHARE_NOCLOEXEC);
		CHECK(r >= 0 && !has_cloexec(r));
		close(r);
		CHECK_ERR(fdshare_grab(t.pid, ts, FDSHARE_REOPEN), ENXIO);
		CHECK_ERR(fdshare_grab(t.pid, ts, 0), err);
		CHECK_ERR(fdshare_grab(t.pid, NOT_OPEN, FDSHARE_REOPEN), EBADF);
		_exit(0);
	}
	st = t_wait(pid);
	target_stop(&t);
	close(sv[1]);
	remove_file(path);
	if (st == SKIP_EXIT)
		t_skip("cannot install a seccomp filter here");
	CHECK_EQ(st, 0);
}

TEST(reopen_fallback_when_pidfd_getfd_is_enosys)
{
	fallback(ENOSYS);
}

TEST(reopen_fallback_when_pidfd_getfd_is_eperm)
{
	fallback(EPERM);
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
