/*
 * The buffered reader (fdshare_reader_*) and the batched sender
 * (fdshare_msg_sendv): frames in order and whole, descriptors with the
 * right frame, one by one or in batches, on blocking sockets or not.
 * (Read-ahead kept between calls: test_reader_ahead.c; malformed input
 * and bad arguments refused: test_reader_refuse.c.)
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "test_reader.h"

/* Message i of a test sequence: sizes that cross every record boundary. */
struct spec {
	size_t len, nfds;
};

static const struct spec mixed[] = {
	{ 16, 1 }, { 0, 0 }, { 4076, 253 }, { 4077, 254 }, { 0, 300 },
	{ 100000, 0 }, { 5, 0 }, { 1, 506 }, { 70000, 1 }, { 3, 2 },
};
#define NMIXED (sizeof mixed / sizeof mixed[0])

static unsigned char byte_of(size_t msg, size_t i)
{
	return (unsigned char)(msg * 131 + i * 7 + 1);
}

/* Build message k of specs into m, its data and fds (all fd). */
static void make(struct fdshare_msg *m, size_t k, const struct spec *s, int fd)
{
	unsigned char *d = malloc(s->len ? s->len : 1);
	int *fds = malloc((s->nfds ? s->nfds : 1) * sizeof(int));

	CHECK(d != NULL && fds != NULL);
	for (size_t i = 0; i < s->len; i++)
		d[i] = byte_of(k, i);
	for (size_t i = 0; i < s->nfds; i++)
		fds[i] = fd;
	*m = (struct fdshare_msg){ .type = (uint32_t)(1000 + k), .data = d,
	                           .len = s->len, .fds = fds, .nfds = s->nfds };
}

/* A child sends specs[0..n) repeated reps times, by sendv when batched. */
static pid_t sender(int sock, const struct spec *specs, size_t n, int reps,
                    int batched, int fd)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid > 0)
		return pid;
	alarm(60);
	struct fdshare_msg *m = calloc(n, sizeof *m);
	for (size_t k = 0; k < n; k++)
		make(&m[k], k, &specs[k], fd);
	for (int r = 0; r < reps; r++) {
		size_t sent = 99;

		if (batched) {
			if (fdshare_msg_sendv(sock, m, n, &sent) != 0 || sent != n)
				_exit(1);
			continue;
		}
		for (size_t k = 0; k < n; k++)
			if (fdshare_msg_send(sock, m[k].type, m[k].data, m[k].len,
			                     m[k].fds, m[k].nfds) != 0)
				_exit(2);
	}
	_exit(0);
}

/* m is message k of specs, its fds the file of st, close-on-exec. */
static void expect(struct fdshare_msg *m, size_t k, const struct spec *s,
                   const struct stat *st)
{
	CHECK_EQ(m->type, 1000 + k);
	CHECK_EQ(m->len, s->len);
	CHECK_EQ(m->nfds, s->nfds);
	for (size_t i = 0; i < s->len; i++)
		if (((unsigned char *)m->data)[i] != byte_of(k, i))
			CHECK(!"payload byte differs");
	for (size_t i = 0; i < s->nfds; i++) {
		struct stat fs;

		CHECK(fstat(m->fds[i], &fs) == 0);
		CHECK(fs.st_ino == st->st_ino && fs.st_dev == st->st_dev);
		CHECK(fcntl(m->fds[i], F_GETFD) & FD_CLOEXEC);
	}
	fdshare_msg_free(m);
}

enum how { ONE, VEC2, VEC64 };

/* Send specs reps times from a child; receive them all here. */
static void run(int type, const struct spec *specs, size_t n, int reps,
                int batched, enum how how)
{
	int sv[2], fd;
	struct stat st;
	struct fdshare_reader *r;
	struct fdshare_msg m[64];
	size_t total = n * (size_t)reps, seen = 0;
	pid_t pid;

	pair(type, sv);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && fstat(fd, &st) == 0);
	pid = sender(sv[0], specs, n, reps, batched, fd);
	close(sv[0]);
	close(fd);
	r = fdshare_reader_new(sv[1]);
	CHECK(r != NULL);
	while (seen < total) {
		size_t want = how == ONE ? 1 : how == VEC2 ? 2 : 64;
		int got = how == ONE ? fdshare_reader_recv(r, m)
		                     : fdshare_reader_recvv(r, m, want);

		CHECK(got >= 1 && (size_t)got <= want);
		for (int j = 0; j < got; j++, seen++)
			expect(&m[j], seen % n, &specs[seen % n], &st);
	}
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(fdshare_reader_recv(r, m), 0);
	CHECK_EQ(fdshare_reader_recvv(r, m, 3), 0);
	CHECK_EQ(fdshare_reader_buffered(r), 0);
	fdshare_reader_free(r);
	close(sv[1]);
}

TEST(stream_frames_in_order_one_by_one)
{
	run(SOCK_STREAM, mixed, NMIXED, 3, 0, ONE);
}

TEST(seqpacket_frames_in_order_one_by_one)
{
	run(SOCK_SEQPACKET, mixed, NMIXED, 3, 0, ONE);
}

TEST(stream_recvv_and_sendv)
{
	run(SOCK_STREAM, mixed, NMIXED, 3, 1, VEC64);
	run(SOCK_STREAM, mixed, NMIXED, 2, 1, VEC2);
}

/* Big frames inside a batch, and batches that end inside a frame. */
TEST(seqpacket_recvv_and_sendv)
{
	run(SOCK_SEQPACKET, mixed, NMIXED, 3, 1, VEC64);
	run(SOCK_SEQPACKET, mixed, NMIXED, 3, 1, VEC2);
	run(SOCK_SEQPACKET, mixed, NMIXED, 2, 0, VEC64);
}

/* 108 and 109 bytes: the largest payload sendv copies behind its header
 * and the smallest it sends from the caller's buffer. */
static const struct spec small[] = {
	{ 16, 1 }, { 16, 0 }, { 0, 0 }, { 40, 3 }, { 108, 1 }, { 109, 2 },
};
#define NSMALL (sizeof small / sizeof small[0])

TEST(many_small_frames_batched)
{
	run(SOCK_SEQPACKET, small, NSMALL, 500, 1, VEC64);
	run(SOCK_STREAM, small, NSMALL, 500, 1, VEC64);
	run(SOCK_SEQPACKET, small, NSMALL, 100, 0, ONE);
}

/* A non-blocking socket is waited for, both ways. */
TEST(nonblocking_sockets)
{
	run(SOCK_SEQPACKET, small, 4, 2000, 1, VEC64);
	int sv[2];
	struct fdshare_msg m[64];
	struct fdshare_reader *r;
	pid_t pid;
	size_t seen = 0;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct stat st;

	CHECK(fd >= 0 && fstat(fd, &st) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	pid = sender(sv[0], small, 4, 3000, 1, fd);
	close(sv[0]);
	close(fd);
	r = fdshare_reader_new(sv[1]);
	CHECK(r != NULL);
	while (seen < 12000) {
		int got = fdshare_reader_recvv(r, m, 64);

		CHECK(got >= 1);
		for (int j = 0; j < got; j++, seen++)
			expect(&m[j], seen % 4, &small[seen % 4], &st);
	}
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(fdshare_reader_recvv(r, m, 64), 0);
	fdshare_reader_free(r);
	close(sv[1]);
}
