/*
 * Interoperation with an implementation no one here wrote: Python's
 * socket.send_fds / recv_fds / recvmsg, and the framed protocol of
 * docs/protocol.md spoken by scripts in tests/py/ written from that
 * document.  Payload byte i of a message of type t is (i * 7 + t) & 255 and
 * its k-th fd a memfd of size k + 1 (tests/py/fdshare_wire.py).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdshare.h"
#include "t.h"

#define MAX_ARGS 16

static const char *python_or_skip(void)
{
	const char *py = t_python();

	if (py == NULL)
		t_skip("python3 not found (Debian package python3)");
	return py;
}

/*
 * Run tests/py/SCRIPT SOCKFD ARGS... with sock inherited (the only fd of
 * ours it gets: the rest are O_CLOEXEC), bounded by an alarm that
 * survives the exec.  -B: no __pycache__ in the source tree.
 */
static pid_t spawn_py(const char *script, int sock, const char *const *args)
{
	const char *py = python_or_skip(), *argv[MAX_ARGS + 5];
	char path[256], num[16];
	int n = 0;
	pid_t pid;

	snprintf(path, sizeof path, "tests/py/%s", script);
	if (access(path, R_OK) != 0)
		t_fail(__FILE__, __LINE__, "%s not found: run from the source root", path);
	argv[n++] = py;
	argv[n++] = "-B";
	argv[n++] = path;
	argv[n++] = num;
	for (; args && *args && n < MAX_ARGS + 4; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int s = fcntl(sock, F_DUPFD, 3); /* a copy without FD_CLOEXEC */

		snprintf(num, sizeof num, "%d", s);
		alarm(60);
		execv(py, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static unsigned char pattern(uint32_t type, size_t i)
{
	return (unsigned char)(i * 7 + type);
}

/* n memfds, the k-th of size k + 1. */
static int *memfds(size_t n)
{
	int *fds = malloc((n ? n : 1) * sizeof(int));

	CHECK(fds != NULL);
	for (size_t k = 0; k < n; k++) {
		fds[k] = memfd_create("fdshare-test", MFD_CLOEXEC);
		CHECK(fds[k] >= 0);
		CHECK(ftruncate(fds[k], (off_t)k + 1) == 0);
	}
	return fds;
}

static void close_all(int *fds, size_t n)
{
	for (size_t k = 0; k < n; k++)
		close(fds[k]);
	free(fds);
}

static off_t size_of(int fd)
{
	struct stat st;

	CHECK(fstat(fd, &st) == 0);
	return st.st_size;
}

static int has_cloexec(int fd)
{
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

static const int types[] = { SOCK_STREAM, SOCK_SEQPACKET };

static void remove_tmp(char *path)
{
	CHECK(unlink(path) == 0);
	*strrchr(path, '/') = 0;
	CHECK(rmdir(path) == 0);
}

/* (1) socket.send_fds -> fdshare_recv. */
static void from_send_fds(int type)
{
	char path[256], buf[64] = { 0 };
	const char *args[] = { path, NULL };
	int f = t_tmpfile(path, sizeof path), sv[2], fds[4];
	struct stat a, b;
	size_t n = 4;
	pid_t pid;

	CHECK(f >= 0);
	CHECK_EQ(write(f, "0123456789", 10), 10);
	CHECK(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == 0);
	pid = spawn_py("send_fds.py", sv[0], args);
	close(sv[0]);

	CHECK_EQ(fdshare_recv(sv[1], buf, sizeof buf, fds, &n, 0), 11);
	CHECK(memcmp(buf, "from-python", 11) == 0);
	CHECK_EQ(n, 1);
	CHECK(fstat(fds[0], &a) == 0 && fstat(f, &b) == 0);
	CHECK(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	CHECK(has_cloexec(fds[0]));
	CHECK_EQ(fcntl(fds[0], F_GETFL) & O_ACCMODE, O_RDWR);
	CHECK_EQ(pwrite(fds[0], "PY", 2, 0), 2); /* written through it, seen here */
	CHECK_EQ(pread(f, buf, 10, 0), 10);
	CHECK(memcmp(buf, "PY23456789", 10) == 0);
	close(fds[0]);

	n = 4;
	CHECK_EQ(fdshare_recv(sv[1], buf, sizeof buf, fds, &n, 0), 5);
	CHECK(memcmp(buf, "three", 5) == 0);
	CHECK_EQ(n, 3);
	for (size_t k = 0; k < n; k++) {
		CHECK_EQ(size_of(fds[k]), (off_t)k + 1);
		CHECK(has_cloexec(fds[k]));
		close(fds[k]);
	}
	n = 4;
	CHECK_EQ(fdshare_recv(sv[1], buf, sizeof buf, fds, &n, 0), 0);
	CHECK_EQ(n, 0);
	CHECK_EQ(t_wait(pid), 0);
	close(sv[1]);
	close(f);
	remove_tmp(path);
}

TEST(python_send_fds_to_fdshare_recv)
{
	for (size_t i = 0; i < sizeof types / sizeof *types; i++)
		from_send_fds(types[i]);
}

/* (2) fdshare_send -> socket.recv_fds. */
static void to_recv_fds(int type)
{
	char path[256], buf[16] = { 0 };
	const char *args[] = { "0123456789", NULL };
	int f = t_tmpfile(path, sizeof path), sv[2], out[2], fds[2];
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	CHECK(f >= 0);
	CHECK_EQ(pwrite(f, "0123456789", 10, 0), 10);
	CHECK(pipe2(out, O_CLOEXEC) == 0);
	CHECK(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == 0);
	pid = spawn_py("recv_fds.py", sv[0], args);
	close(sv[0]);
	fds[0] = f;
	fds[1] = out[1];
	CHECK_EQ(fdshare_send(sv[1], "from-c", 6, fds, 2, 0), 6);
	close(out[1]);
	close(sv[1]);
	while ((r = read(out[0], buf + got, sizeof buf - 1 - got)) > 0)
		got += (size_t)r;
	CHECK(strcmp(buf, "py-ok") == 0);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(lseek(f, 0, SEEK_CUR), 10); /* its read moved our offset */
	close(out[0]);
	close(f);
	remove_tmp(path);
}

TEST(fdshare_send_to_python_recv_fds)
{
	for (size_t i = 0; i < sizeof types / sizeof *types; i++)
		to_recv_fds(types[i]);
}

struct spec {
	uint32_t type;
	size_t len, nfds;
	const char *arg; /* the same, for the script */
};

static void check_msg(const struct fdshare_msg *m, const struct spec *s)
{
	size_t differ = 0;

	CHECK_EQ(m->type, s->type);
	CHECK_EQ(m->len, s->len);
	for (size_t i = 0; i < m->len; i++)
		differ += ((unsigned char *)m->data)[i] != pattern(s->type, i);
	CHECK_EQ(differ, 0);
	CHECK_EQ(m->nfds, s->nfds);
	for (size_t k = 0; k < m->nfds; k++) {
		CHECK_EQ(size_of(m->fds[k]), (off_t)k + 1);
		CHECK(has_cloexec(m->fds[k]));
	}
}

/* (3) frames written by Python -> fdshare_msg_recv. */
static void from_python_frames(int type, int split)
{
	static const struct spec specs[] = {
		{ 10, 0, 0, "10:0:0" },
		{ 11, 3, 1, "11:3:1" },
		{ 12, 5000, 600, "12:5000:600" },
		{ 13, 70000, 254, "13:70000:254" },
	};
	const size_t n = sizeof specs / sizeof *specs;
	const char *args[MAX_ARGS];
	struct fdshare_msg m;
	size_t a = 0;
	int sv[2];
	pid_t pid;

	if (split)
		args[a++] = "--split";
	for (size_t i = 0; i < n; i++)
		args[a++] = specs[i].arg;
	args[a] = NULL;
	CHECK(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == 0);
	pid = spawn_py("frame_send.py", sv[0], args);
	close(sv[0]);
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ(fdshare_msg_recv(sv[1], &m), 1);
		check_msg(&m, &specs[i]);
		fdshare_msg_free(&m);
	}
	CHECK_EQ(fdshare_msg_recv(sv[1], &m), 0);
	CHECK_EQ(t_wait(pid), 0);
	close(sv[1]);
}

TEST(python_frames_to_fdshare_msg_recv)
{
	from_python_frames(SOCK_STREAM, 0);
	from_python_frames(SOCK_STREAM, 1);
	from_python_frames(SOCK_SEQPACKET, 0);
}

/* (4) fdshare_msg_send -> frames parsed by Python. */
static void to_python_frames(int type)
{
	static const struct spec specs[] = {
		{ 0x01020304, 0, 0, "0x01020304:0:0" },
		{ 7, 2, 1, "7:2:1" },
		{ 9, 70000, 600, "9:70000:600" },
		{ 0xffffffff, 4076, 253, "0xffffffff:4076:253" },
		{ 5, 4077, 254, "5:4077:254" },
	};
	const size_t n = sizeof specs / sizeof *specs;
	const char *args[MAX_ARGS];
	unsigned char *data = malloc(70000);
	int sv[2], *fds = memfds(600);
	pid_t pid;

	CHECK(data != NULL);
	for (size_t i = 0; i < n; i++)
		args[i] = specs[i].arg;
	args[n] = NULL;
	CHECK(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == 0);
	pid = spawn_py("frame_recv.py", sv[0], args);
	close(sv[0]);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < specs[i].len; j++)
			data[j] = pattern(specs[i].type, j);
		CHECK_EQ(fdshare_msg_send(sv[1], specs[i].type, data, specs[i].len,
		                          fds, specs[i].nfds), 0);
	}
	close(sv[1]);
	CHECK_EQ(t_wait(pid), 0);
	close_all(fds, 600);
	free(data);
}

TEST(fdshare_msg_send_to_python_frames)
{
	for (size_t i = 0; i < sizeof types / sizeof *types; i++)
		to_python_frames(types[i]);
}
