/* fdshare_describe: kind, flags, offset and target of descriptors. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stddef.h>
#include <unistd.h>

#include "fdshare.h"
#include "t.h"

#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static struct fdshare_fdinfo info;

static void rm_tmp(const char *path)
{
	char dir[4096];

	unlink(path);
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

TEST(regular_file_offset_flags)
{
	char path[256];
	int fd = t_tmpfile(path, sizeof path), ap;

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "hello world", 11), 11);
	CHECK_EQ(lseek(fd, 5, SEEK_SET), 5);
	CHECK_EQ(fdshare_describe_fd(fd, &info), 0);
	CHECK_EQ(info.kind, FDSHARE_KIND_FILE);
	CHECK_EQ(info.fd, fd);
	CHECK_EQ(info.pid, getpid());
	CHECK_EQ(info.offset, 5);
	CHECK_EQ(info.flags & O_ACCMODE, O_RDWR);
	CHECK(info.flags & O_CLOEXEC);
	CHECK(!(info.flags & O_APPEND));
	CHECK(strcmp(info.path, path) == 0);
	CHECK_EQ(info.deleted, 0);
	CHECK(strcmp(fdshare_kind_name(info.kind), "file") == 0);
	ap = open(path, O_WRONLY | O_APPEND | O_NONBLOCK);
	CHECK(ap >= 0);
	CHECK_EQ(fdshare_describe(getpid(), ap, &info), 0);
	CHECK_EQ(info.flags & O_ACCMODE, O_WRONLY);
	CHECK(info.flags & O_APPEND);
	CHECK(info.flags & O_NONBLOCK);
	CHECK(!(info.flags & O_CLOEXEC));
	close(ap);
	rm_tmp(path);
	CHECK_EQ(fdshare_describe_fd(fd, &info), 0);
	CHECK_EQ(info.deleted, 1);
	CHECK(strcmp(info.path, path) == 0);
	close(fd);
}

/* A live directory whose name ends in " (deleted)", one removed, a name unlinked. */
TEST(directory_names_and_deletion)
{
	char base[] = "/tmp/fdshare-describe.XXXXXX", d[96], b[96];
	size_t want;
	int fd;

	CHECK(mkdtemp(base) != NULL);
	snprintf(d, sizeof d, "%s/d (deleted)", base);
	CHECK_EQ(mkdir(d, 0700), 0);
	fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(fdshare_describe_fd(fd, &info), 0);
	CHECK_EQ(info.kind, FDSHARE_KIND_DIR);
	CHECK_EQ(info.deleted, 0);
	CHECK(strcmp(info.path, d) == 0);
	CHECK_EQ(rmdir(d), 0);
	CHECK_EQ(fdshare_describe_fd(fd, &info), 0);
	CHECK_EQ(info.deleted, 1);
	want = strlen(d);
	CHECK(strlen(info.path) == want && strcmp(info.path, d) == 0);
	close(fd);
	/* An unlinked name whose file lives on under another link. */
	snprintf(d, sizeof d, "%s/a", base);
	snprintf(b, sizeof b, "%s/b", base);
	fd = open(d, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(link(d, b), 0);
	CHECK_EQ(unlink(d), 0);
	CHECK_EQ(fdshare_describe_fd(fd, &info), 0);
	CHECK_EQ(info.deleted, 1);
	CHECK(strcmp(info.path, d) == 0);
	close(fd);
	CHECK_EQ(unlink(b), 0);
	CHECK_EQ(rmdir(base), 0);
}

TEST(pipe_dir_char)
{
	int p[2], dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	CHECK(dir >= 0 && null >= 0);
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	CHECK_EQ(fdshare_describe_fd(p[0], &info), 0);
	CHECK_EQ(info.kind, FDSHARE_KIND_PIPE);
	CHECK_EQ(info.flags & O_ACCMODE, O_RDONLY);
	CHECK_EQ(info.offset, -1);
	CHECK(strncmp(info.path, "pipe:[", 6) == 0);
	CHECK_EQ(fdshare_describe_fd(p[1], &info), 0);
	CHECK_EQ(info.flags & O_ACCMODE, O_WRONLY);
	CHECK_EQ(fdshare_describe_fd(dir, &info), 0);
	CHECK_EQ(info.kind, FDSHARE_KIND_DIR);
	CHECK(strcmp(info.path, "/") == 0);
	CHECK_EQ(fdshare_describe_fd(null, &info), 0);
	CHECK_EQ(info.kind, FDSHARE_KIND_CHAR);
	close(p[0]);
	close(p[1]);
	close(dir);
	close(null);
}

TEST(tty)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0)
		t_skip("no pseudo-terminal: %s", strerror(errno));
	CHECK_EQ(fdshare_describe_fd(m, &info), 0);
	CHECK_EQ(info.kind, FDSHARE_KIND_TTY);
	close(m);
}

static void check_kind(int fd, int kind)
{
	CHECK(fd >= 0);
	CHECK_EQ(fdshare_describe_fd(fd, &info), 0);
	CHECK_EQ(info.kind, kind);
	CHECK_EQ(info.offset, -1);
	close(fd);
}

TEST(anonymous_kinds)
{
	sigset_t set;
	int memfd;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	check_kind(eventfd(0, EFD_CLOEXEC), FDSHARE_KIND_EVENTFD);
	check_kind(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC), FDSHARE_KIND_TIMERFD);
	check_kind(signalfd(-1, &set, SFD_CLOEXEC), FDSHARE_KIND_SIGNALFD);
	check_kind(epoll_create1(EPOLL_CLOEXEC), FDSHARE_KIND_EPOLL);
	check_kind(inotify_init1(IN_CLOEXEC), FDSHARE_KIND_INOTIFY);
	check_kind(fdshare_pidfd_open(getpid()), FDSHARE_KIND_PIDFD);
	memfd = memfd_create("describe-test", MFD_CLOEXEC);
	CHECK(memfd >= 0);
	CHECK_EQ(fdshare_describe_fd(memfd, &info), 0);
	CHECK_EQ(info.kind, FDSHARE_KIND_MEMFD);
	CHECK_EQ(info.deleted, 0);
	CHECK(strstr(info.path, "describe-test") != NULL);
	close(memfd);
	CHECK(strcmp(fdshare_kind_name(-1), "other") == 0);
	CHECK(strcmp(fdshare_kind_name(FDSHARE_KIND_COUNT), "other") == 0);
	CHECK(strcmp(fdshare_kind_name(FDSHARE_KIND_PIDFD), "pidfd") == 0);
}

/* A listening TCP socket on 127.0.0.1 and its port. */
static int tcp_listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(s >= 0);
	CHECK_EQ(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	CHECK_EQ(listen(s, 1), 0);
	CHECK_EQ(getsockname(s, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return s;
}

static void check_tcp_listener(pid_t pid, int s, int port)
{
	char want[64];

	snprintf(want, sizeof want, "127.0.0.1:%d", port);
	CHECK_EQ(fdshare_describe(pid, s, &info), 0);
	CHECK_EQ(info.kind, FDSHARE_KIND_SOCKET);
	CHECK_EQ(info.sock.family, AF_INET);
	CHECK_EQ(info.sock.type, SOCK_STREAM);
	CHECK_EQ(info.sock.protocol, IPPROTO_TCP);
	CHECK(strcmp(info.sock.local, want) == 0);
	CHECK(strcmp(info.sock.state, "LISTEN") == 0);
	CHECK_EQ(info.sock.listening, 1);
	CHECK_EQ(info.sock.peer[0], '\0');
}

TEST(tcp_sockets)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int port, s = tcp_listener(&port), c, acc;
	char want[64];

	check_tcp_listener(0, s, port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(c >= 0);
	CHECK_EQ(connect(c, (struct sockaddr *)&a, sizeof a), 0);
	acc = accept4(s, NULL, NULL, SOCK_CLOEXEC);
	CHECK(acc >= 0);
	CHECK_EQ(fdshare_describe_fd(c, &info), 0);
	CHECK(strcmp(info.sock.state, "ESTABLISHED") == 0);
	snprintf(want, sizeof want, "127.0.0.1:%d", port);
	CHECK(strcmp(info.sock.peer, want) == 0);
	CHECK_EQ(info.sock.peer_pid, 0);
	close(acc);
	close(c);
	close(s);
}

TEST(udp_socket)
{
	int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };

	if (s < 0)
		t_skip("no IPv6: %s", strerror(errno));
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
		close(s);
		t_skip("cannot bind ::1: %s", strerror(errno));
	}
	CHECK_EQ(fdshare_describe_fd(s, &info), 0);
	CHECK_EQ(info.sock.family, AF_INET6);
	CHECK_EQ(info.sock.type, SOCK_DGRAM);
	CHECK_EQ(info.sock.protocol, IPPROTO_UDP);
	CHECK(strncmp(info.sock.local, "[::1]:", 6) == 0);
	CHECK(strcmp(info.sock.state, "UNCONNECTED") == 0);
	close(s);
}

TEST(unix_sockets)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char path[256];
	int fd = t_tmpfile(path, sizeof path), s, c, acc, sv[2];

	CHECK(fd >= 0);
	close(fd);
	unlink(path);
	CHECK(strlen(path) < sizeof a.sun_path);
	memcpy(a.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0);
	CHECK_EQ(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	CHECK_EQ(listen(s, 1), 0);
	CHECK_EQ(fdshare_describe_fd(s, &info), 0);
	CHECK_EQ(info.sock.family, AF_UNIX);
	CHECK(strcmp(info.sock.local, path) == 0);
	CHECK(strcmp(info.sock.state, "LISTEN") == 0);
	CHECK_EQ(info.sock.peer_pid, 0); /* a listener has no peer */
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(c >= 0);
	CHECK_EQ(connect(c, (struct sockaddr *)&a, sizeof a), 0);
	acc = accept4(s, NULL, NULL, SOCK_CLOEXEC);
	CHECK(acc >= 0);
	CHECK_EQ(fdshare_describe_fd(c, &info), 0);
	CHECK(strcmp(info.sock.peer, path) == 0);
	CHECK(strcmp(info.sock.state, "CONNECTED") == 0);
	CHECK_EQ(info.sock.peer_pid, getpid());
	CHECK_EQ(info.sock.peer_uid, getuid());
	close(acc);
	close(c);
	close(s);
	rm_tmp(path);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(fdshare_describe_fd(sv[0], &info), 0);
	CHECK_EQ(info.sock.type, SOCK_SEQPACKET);
	CHECK_EQ(info.sock.local[0], '\0');
	CHECK_EQ(info.sock.peer_pid, getpid());
	close(sv[0]);
	close(sv[1]);
}

TEST(unix_abstract)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char want[64];
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	socklen_t len;

	CHECK(s >= 0);
	snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "fdshare-describe-%d", (int)getpid());
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1));
	CHECK_EQ(bind(s, (struct sockaddr *)&a, len), 0);
	CHECK_EQ(fdshare_describe_fd(s, &info), 0);
	snprintf(want, sizeof want, "@%s", a.sun_path + 1);
	CHECK(strcmp(info.sock.local, want) == 0);
	CHECK_EQ(info.sock.type, SOCK_DGRAM);
	close(s);
}

/* Another process: a child describes the parent's descriptors. */
static void child_describes(pid_t parent, int file, int sock, int port, int deny_getfd)
{
	if (deny_getfd) {
		/* pidfd_getfd refused (EPERM): describe must use /proc/PID/net. */
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_getfd, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { .len = 4, .filter = f };

		CHECK_EQ(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
		CHECK_EQ(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog), 0);
		CHECK_ERR(fdshare_grab(parent, sock, 0), EPERM);
	}
	CHECK_EQ(fdshare_describe(parent, file, &info), 0);
	CHECK_EQ(info.pid, parent);
	CHECK_EQ(info.kind, FDSHARE_KIND_FILE);
	CHECK_EQ(info.offset, 3);
	check_tcp_listener(parent, sock, port);
	_exit(0);
}

static void describe_other(int deny_getfd)
{
	char path[256];
	int fd = t_tmpfile(path, sizeof path), port, s = tcp_listener(&port);
	pid_t parent = getpid(), pid;

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "abc", 3), 3);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		alarm(10);
		child_describes(parent, fd, s, port, deny_getfd);
	}
	CHECK_EQ(t_wait(pid), 0);
	close(fd);
	close(s);
	rm_tmp(path);
}

TEST(other_process)
{
	describe_other(0);
}

TEST(other_process_without_pidfd_getfd)
{
	describe_other(1);
}

TEST(errors)
{
	int p[2], st;
	pid_t pid;

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	close(p[1]);
	CHECK_ERR(fdshare_describe_fd(p[1], &info), EBADF);
	CHECK_ERR(fdshare_describe_fd(-1, &info), EBADF);
	CHECK_ERR(fdshare_describe(-5, p[0], &info), EINVAL);
	CHECK_ERR(fdshare_describe(0, p[0], NULL), EINVAL);
	close(p[0]);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(0);
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	/* Reaped: the pid is free (reuse within this test is unlikely but harmless). */
	if (kill(pid, 0) == 0)
		t_skip("pid %d was reused", (int)pid);
	CHECK_ERR(fdshare_describe(pid, 0, &info), ESRCH);
}
