/*
 * fdshare_refuse_fds: a socket with SO_PASSRIGHTS off makes the kernel
 * refuse descriptors sent to it (EPERM in the sender) and nothing else;
 * on a kernel without the option it fails with ENOPROTOOPT and the socket
 * works as before.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>

#include "fdshare.h"
#include "t.h"

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83 /* asm-generic; refuse.c knows the other arches */
#endif

#define NFDS_MANY 300
#define SKIP_EXIT 77

/* Turn SO_PASSRIGHTS off, or skip the test on a kernel before 6.16. */
static void refuse(int sock)
{
	if (fdshare_refuse_fds(sock) == 0)
		return;
	CHECK_EQ(errno, ENOPROTOOPT);
	t_skip("SO_PASSRIGHTS needs Linux 6.16 or later");
}

static int passrights(int sock)
{
	int v = -1;
	socklen_t len = sizeof v;

	CHECK(getsockopt(sock, SOL_SOCKET, SO_PASSRIGHTS, &v, &len) == 0);
	return v;
}

/* Nothing more is waiting on sock. */
static void check_empty(int sock)
{
	char c;

	CHECK_ERR(recv(sock, &c, 1, MSG_DONTWAIT), EAGAIN);
}

/* a -> b: with an fd refused, without one delivered; b -> a untouched. */
static void check_pair(int type)
{
	int sv[2], fd = open("/dev/null", O_RDONLY | O_CLOEXEC), got[2];
	size_t ngot = 2;
	char buf[8];

	CHECK(fd >= 0);
	CHECK(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == 0);
	refuse(sv[1]);
	CHECK_EQ(passrights(sv[1]), 0);
	CHECK_EQ(passrights(sv[0]), 1);

	CHECK_ERR(fdshare_send(sv[0], "x", 1, &fd, 1, 0), EPERM);
	CHECK_EQ(fdshare_send(sv[0], "y", 1, NULL, 0, 0), 1);
	CHECK_EQ(fdshare_recv(sv[1], buf, sizeof buf, got, &ngot, 0), 1);
	CHECK_EQ(buf[0], 'y');
	CHECK_EQ(ngot, 0);
	check_empty(sv[1]);

	ngot = 2;
	CHECK_EQ(fdshare_send(sv[1], "z", 1, &fd, 1, 0), 1);
	CHECK_EQ(fdshare_recv(sv[0], buf, sizeof buf, got, &ngot, 0), 1);
	CHECK_EQ(ngot, 1);
	close(got[0]);
	close(sv[0]);
	close(sv[1]);
	close(fd);
}

TEST(stream_refuses_fds_not_bytes)
{
	check_pair(SOCK_STREAM);
}

TEST(seqpacket_refuses_fds_not_bytes)
{
	check_pair(SOCK_SEQPACKET);
}

TEST(dgram_refuses_fds_not_bytes)
{
	check_pair(SOCK_DGRAM);
}

TEST(calling_twice_is_fine)
{
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	refuse(sv[0]);
	CHECK_EQ(fdshare_refuse_fds(sv[0]), 0);
	CHECK_EQ(passrights(sv[0]), 0);
	close(sv[0]);
	close(sv[1]);
}

/* A refused frame sends nothing: the stream stays in step. */
static void check_frames(int type)
{
	int sv[2], fds[NFDS_MANY];
	struct fdshare_msg m;

	for (int i = 0; i < NFDS_MANY; i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		CHECK(fds[i] >= 0);
	}
	CHECK(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == 0);
	refuse(sv[1]);
	CHECK_ERR(fdshare_msg_send(sv[0], 1, "one", 3, fds, 1), EPERM);
	CHECK_ERR(fdshare_msg_send(sv[0], 2, "many", 4, fds, NFDS_MANY), EPERM);
	CHECK_EQ(fdshare_msg_send(sv[0], 3, "none", 4, NULL, 0), 0);
	CHECK_EQ(fdshare_msg_recv(sv[1], &m), 1);
	CHECK_EQ(m.type, 3);
	CHECK_EQ(m.len, 4);
	CHECK(memcmp(m.data, "none", 4) == 0);
	CHECK_EQ(m.nfds, 0);
	fdshare_msg_free(&m);
	check_empty(sv[1]);
	close(sv[0]);
	close(sv[1]);
	for (int i = 0; i < NFDS_MANY; i++)
		close(fds[i]);
}

TEST(framed_stream_refused_frame_sends_nothing)
{
	check_frames(SOCK_STREAM);
}

TEST(framed_seqpacket_refused_frame_sends_nothing)
{
	check_frames(SOCK_SEQPACKET);
}

/* Set on the listening socket, it holds for each accepted connection. */
TEST(accepted_connections_inherit_it)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l, c, a, fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0);
	/* abstract name: nothing to clean up */
	snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "fdshare-refuse-%d", (int)getpid());
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(l >= 0);
	CHECK(bind(l, (struct sockaddr *)&sa, sizeof sa) == 0);
	CHECK(listen(l, 4) == 0);
	refuse(l);
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(c >= 0);
	CHECK(connect(c, (struct sockaddr *)&sa, sizeof sa) == 0);
	a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	CHECK(a >= 0);
	CHECK_EQ(passrights(a), 0);
	CHECK_ERR(fdshare_send(c, "x", 1, &fd, 1, 0), EPERM);
	CHECK_EQ(fdshare_send(a, "x", 1, &fd, 1, 0), 1); /* the client accepts */
	close(a);
	close(c);
	close(l);
	close(fd);
}

TEST(other_sockets_and_files_are_errors)
{
	int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int p[2];

	CHECK(tcp >= 0 && udp >= 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	errno = 0;
	if (fdshare_refuse_fds(tcp) < 0 && errno == ENOPROTOOPT)
		t_skip("SO_PASSRIGHTS needs Linux 6.16 or later");
	CHECK_ERR(fdshare_refuse_fds(tcp), EOPNOTSUPP);
	CHECK_ERR(fdshare_refuse_fds(udp), EOPNOTSUPP);
	CHECK_ERR(fdshare_refuse_fds(p[0]), ENOTSOCK);
	close(p[0]);
	CHECK_ERR(fdshare_refuse_fds(p[0]), EBADF);
	CHECK_ERR(fdshare_refuse_fds(-1), EBADF);
	close(p[1]);
	close(tcp);
	close(udp);
}

/* Arches where setsockopt is its own system call (not socketcall). */
#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH AUDIT_ARCH_RISCV64
#endif

/*
 * Play a kernel before 6.16 in this process: setsockopt(SOL_SOCKET,
 * SO_PASSRIGHTS) fails with ENOPROTOOPT, as an unknown option does.
 */
static int forget_passrights(void)
{
#ifdef NATIVE_ARCH
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_setsockopt, 0, 5),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOL_SOCKET, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_PASSRIGHTS, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOPROTOOPT),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof f / sizeof *f, .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
#else
	errno = ENOSYS;
	return -1;
#endif
}

/* The caller carries on: the socket takes fds as if never asked. */
TEST(older_kernel_is_enoprotoopt_and_nothing_changes)
{
	int sv[2], fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid_t pid;
	int st;

	CHECK(fd >= 0);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int got = -1;
		size_t ngot = 1;
		char c;

		alarm(30);
		if (forget_passrights() < 0)
			_exit(SKIP_EXIT);
		CHECK_ERR(fdshare_refuse_fds(sv[1]), ENOPROTOOPT);
		CHECK_EQ(fdshare_send(sv[0], "x", 1, &fd, 1, 0), 1);
		CHECK_EQ(fdshare_recv(sv[1], &c, 1, &got, &ngot, 0), 1);
		CHECK_EQ(ngot, 1);
		CHECK(got >= 0);
		_exit(0);
	}
	st = t_wait(pid);
	close(sv[0]);
	close(sv[1]);
	close(fd);
	if (st == SKIP_EXIT)
		t_skip("cannot install a seccomp filter here");
	CHECK_EQ(st, 0);
}
