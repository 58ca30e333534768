/*
 * fdshare_reopen: a new open file description of what a running process
 * holds, through /proc/PID/fd, and fdshare_grab falling back to it with
 * FDSHARE_REOPEN when pidfd_getfd is refused.
 */
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "test_grab.h"

#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

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

/* An O_PATH descriptor gives no access to the file: neither may its copy. */
TEST(reopen_of_an_o_path_fd_stays_o_path)
{
	char path[256], dir[256];
	int fd = t_tmpfile(path, sizeof path), p, r;
	char c;

	CHECK(fd >= 0);
	close(fd);
	snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(path, '/') - path), path);
	p = open(path, O_PATH | O_CLOEXEC);
	CHECK(p >= 0);

	r = fdshare_reopen(getpid(), p, 0);
	CHECK(r >= 0);
	/* No access the original has not: a path, not an open file. */
	CHECK(fcntl(r, F_GETFL) & O_PATH);
	CHECK_ERR(read(r, &c, 1), EBADF);
	CHECK(fcntl(r, F_GETFD) & FD_CLOEXEC);
	close(r);

	r = fdshare_reopen(getpid(), p, FDSHARE_NOCLOEXEC);
	CHECK(r >= 0);
	CHECK(fcntl(r, F_GETFL) & O_PATH);
	CHECK(!(fcntl(r, F_GETFD) & FD_CLOEXEC));
	close(r);
	close(p);

	/* A FIFO held by path only: its copy must not become a reader. */
	unlink(path);
	CHECK_EQ(mkfifo(path, 0600), 0);
	p = open(path, O_PATH | O_CLOEXEC);
	CHECK(p >= 0);
	r = fdshare_reopen(getpid(), p, 0);
	CHECK(r >= 0);
	CHECK(fcntl(r, F_GETFL) & O_PATH);
	/* With no reader, a writer's non-blocking open is ENXIO. */
	CHECK_ERR(open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC), ENXIO);
	close(r);
	close(p);
	unlink(path);
	rmdir(dir);
}
