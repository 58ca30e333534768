/*
 * The buffered reader (fdshare_reader_*) and the batched sender
 * (fdshare_msg_sendv): frames in order and whole, descriptors with the
 * right frame, read-ahead kept between calls, malformed input refused
 * with nothing leaked.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdshare.h"
#include "t.h"

#define MAGIC 0x48534446u

static void pair(int type, int sv[2])
{
	CHECK(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == 0);
}

static void close2(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
}

static void header(unsigned char *h, uint32_t type, uint32_t len, uint32_t nfds)
{
	uint32_t v[5] = { MAGIC, 1, type, len, nfds };

	for (int i = 0; i < 5; i++)
		for (int b = 0; b < 4; b++)
			h[i * 4 + b] = (unsigned char)(v[i] >> (8 * b));
}

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

/* Frames without fds are read ahead together and returned from the buffer. */
TEST(stream_read_ahead_is_kept)
{
	int sv[2];
	struct fdshare_reader *r;
	struct fdshare_msg m[8];

	pair(SOCK_STREAM, sv);
	for (uint32_t i = 0; i < 5; i++)
		CHECK_EQ(fdshare_msg_send(sv[0], i, "abc", 3, NULL, 0), 0);
	r = fdshare_reader_new(sv[1]);
	CHECK(r != NULL);
	CHECK_EQ(fdshare_reader_recv(r, m), 1);
	CHECK_EQ(m[0].type, 0);
	fdshare_msg_free(m);
	CHECK_EQ(fdshare_reader_buffered(r), 4 * 23);
	CHECK_EQ(fdshare_reader_recvv(r, m, 8), 4); /* none blocks: all buffered */
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(m[i].type, (unsigned)i + 1);
		CHECK(m[i].len == 3 && memcmp(m[i].data, "abc", 3) == 0);
		fdshare_msg_free(&m[i]);
	}
	CHECK_EQ(fdshare_reader_buffered(r), 0);
	fdshare_reader_free(r);
	close2(sv);
}

/* A frame's fds read ahead with the previous frame, then freed unread. */
TEST(free_closes_fds_read_ahead)
{
	for (int t = 0; t < 2; t++) {
		int sv[2], before;
		struct fdshare_reader *r;
		struct fdshare_msg m;

		pair(t ? SOCK_SEQPACKET : SOCK_STREAM, sv);
		before = t_count_fds();
		CHECK_EQ(fdshare_msg_send(sv[0], 1, "a", 1, NULL, 0), 0);
		CHECK_EQ(fdshare_msg_send(sv[0], 2, "b", 1, sv, 2), 0);
		CHECK_EQ(fdshare_msg_send(sv[0], 3, "c", 1, sv, 1), 0);
		r = fdshare_reader_new(sv[1]);
		CHECK(r != NULL);
		CHECK_EQ(fdshare_reader_recv(r, &m), 1);
		CHECK_EQ(m.type, 1);
		fdshare_msg_free(&m);
		/* The next frame's, held (on a stream, one read stops at them). */
		CHECK_EQ(t_count_fds(), before + (t ? 3 : 2));
		fdshare_reader_free(r);
		CHECK_EQ(t_count_fds(), before);
		close2(sv);
	}
}

/*
 * On SOCK_SEQPACKET one recvmmsg takes up to 16 records: their frames are
 * kept, counted by fdshare_reader_buffered, their fds held, and returned
 * without another read (the socket is empty by then).
 */
TEST(seqpacket_read_ahead_is_kept)
{
	int sv[2], before;
	struct fdshare_reader *r;
	struct fdshare_msg m[32];
	struct pollfd pfd;

	pair(SOCK_SEQPACKET, sv);
	before = t_count_fds();
	for (uint32_t i = 0; i < 20; i++)
		CHECK_EQ(fdshare_msg_send(sv[0], i, "abc", 3, &sv[0], 1), 0);
	r = fdshare_reader_new(sv[1]);
	CHECK(r != NULL);
	CHECK_EQ(fdshare_reader_buffered(r), 0);
	CHECK_EQ(fdshare_reader_recv(r, m), 1);
	CHECK(m[0].type == 0 && m[0].nfds == 1);
	fdshare_msg_free(m);
	CHECK_EQ(fdshare_reader_buffered(r), 15 * 23); /* 16 records were read */
	CHECK_EQ(t_count_fds(), before + 15);          /* their fds, held */
	CHECK_EQ(fdshare_reader_recvv(r, m, 32), 15);  /* those, and no more */
	for (int i = 0; i < 15; i++) {
		CHECK(m[i].type == (unsigned)i + 1 && m[i].nfds == 1);
		CHECK(m[i].len == 3 && memcmp(m[i].data, "abc", 3) == 0);
		fdshare_msg_free(&m[i]);
	}
	CHECK_EQ(fdshare_reader_buffered(r), 0);
	pfd = (struct pollfd){ .fd = sv[1], .events = POLLIN };
	CHECK_EQ(poll(&pfd, 1, 0), 1); /* the last 4 wait in the socket */
	CHECK_EQ(fdshare_reader_recvv(r, m, 32), 4);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(m[i].type, (unsigned)i + 16);
		fdshare_msg_free(&m[i]);
	}
	CHECK_EQ(poll(&pfd, 1, 0), 0);
	CHECK_EQ(t_count_fds(), before);
	fdshare_reader_free(r);
	close2(sv);
}

/* A sender may attach a frame's fds to any piece of it (protocol 1.4). */
TEST(stream_fds_on_a_later_piece)
{
	unsigned char h[20];
	int sv[2];
	struct fdshare_reader *r;
	struct fdshare_msg m;

	pair(SOCK_STREAM, sv);
	header(h, 9, 4, 1);
	CHECK_EQ(write(sv[0], h, 20), 20);
	CHECK_EQ(fdshare_send(sv[0], "data", 4, &sv[0], 1, 0), 4);
	header(h, 10, 0, 0);
	CHECK_EQ(write(sv[0], h, 20), 20);
	r = fdshare_reader_new(sv[1]);
	CHECK(r != NULL);
	CHECK_EQ(fdshare_reader_recv(r, &m), 1);
	CHECK(m.type == 9 && m.nfds == 1 && memcmp(m.data, "data", 4) == 0);
	fdshare_msg_free(&m);
	CHECK_EQ(fdshare_reader_recv(r, &m), 1);
	CHECK(m.type == 10 && m.nfds == 0);
	fdshare_msg_free(&m);
	fdshare_reader_free(r);
	close2(sv);
}

/*
 * Raw bytes in pieces (fds with piece i when fds_on[i] > 0), the writer
 * closed: the reader must fail with want and leave no fd behind.
 */
struct piece {
	const unsigned char *p;
	size_t n;
	int nfds;
};

static void expect_refused(int type, const struct piece *pieces, size_t np,
                           int want, int vec)
{
	int sv[2], fds[8], before;
	struct fdshare_reader *r;
	struct fdshare_msg m[4];
	int got = 0;

	pair(type, sv);
	for (int i = 0; i < 8; i++)
		fds[i] = sv[0];
	before = t_count_fds();
	for (size_t i = 0; i < np; i++)
		CHECK_EQ(fdshare_send(sv[0], pieces[i].p, pieces[i].n, fds,
		                      (size_t)pieces[i].nfds, 0), (ssize_t)pieces[i].n);
	shutdown(sv[0], SHUT_WR);
	r = fdshare_reader_new(sv[1]);
	CHECK(r != NULL);
	for (int tries = 0; tries < 8; tries++) {
		errno = 0;
		got = vec ? fdshare_reader_recvv(r, m, 4) : fdshare_reader_recv(r, m);
		if (got <= 0)
			break;
		for (int j = 0; j < got; j++)
			fdshare_msg_free(&m[j]);
	}
	CHECK_EQ(got, -1);
	CHECK_EQ(errno, want);
	fdshare_reader_free(r);
	CHECK_EQ(t_count_fds(), before);
	close2(sv);
}

static void refused_both(int type, const struct piece *p, size_t np, int want)
{
	expect_refused(type, p, np, want, 0);
	expect_refused(type, p, np, want, 1);
}

TEST(malformed_frames_refused)
{
	unsigned char ok[23], none1[20], says2[20], big[20], bad[20];

	header(ok, 1, 3, 0);
	memcpy(ok + 20, "abc", 3);
	header(none1, 2, 0, 1);     /* announces one fd */
	header(says2, 3, 0, 2);
	header(big, 4, 100, 0);     /* promises 100 bytes */
	header(bad, 5, 0, 0);
	bad[0] = 'X';
	{
		const struct piece p[] = { { ok, 23, 2 } }; /* fds on a frame of none */
		refused_both(SOCK_STREAM, p, 1, EPROTO);
		refused_both(SOCK_SEQPACKET, p, 1, EPROTO);
	}
	{
		/* the orphans must not go to the next frame that wants some */
		const struct piece p[] = { { ok, 23, 2 }, { says2, 20, 0 } };
		refused_both(SOCK_STREAM, p, 2, EPROTO);
		refused_both(SOCK_SEQPACKET, p, 2, EPROTO);
	}
	{
		/* fds of records after the bad one, in the same batch */
		const struct piece p[] = { { bad, 20, 0 }, { none1, 20, 1 }, { none1, 20, 1 } };
		refused_both(SOCK_STREAM, p, 3, EPROTO);
		refused_both(SOCK_SEQPACKET, p, 3, EPROTO);
	}
	{
		const struct piece p[] = { { ok, 23, 0 }, { ok, 23, 1 } };
		refused_both(SOCK_STREAM, p, 2, EPROTO); /* a good frame first */
		refused_both(SOCK_SEQPACKET, p, 2, EPROTO);
	}
	{
		const struct piece p[] = { { none1, 20, 0 }, { ok, 23, 0 } };
		refused_both(SOCK_STREAM, p, 2, EPROTO); /* its fd never came */
		refused_both(SOCK_SEQPACKET, p, 2, EPROTO);
	}
	{
		const struct piece p[] = { { says2, 20, 3 } };
		refused_both(SOCK_STREAM, p, 1, EPROTO);
		refused_both(SOCK_SEQPACKET, p, 1, EPROTO);
	}
	{
		const struct piece p[] = { { ok, 23, 0 }, { big, 20, 1 }, { ok, 23, 0 } };
		refused_both(SOCK_STREAM, p, 3, EPROTO); /* cut: the end inside */
	}
	{
		const struct piece p[] = { { ok, 23, 0 }, { bad, 20, 0 } };
		refused_both(SOCK_STREAM, p, 2, EPROTO);
		refused_both(SOCK_SEQPACKET, p, 2, EPROTO);
	}
	{
		const struct piece p[] = { { ok, 10, 1 } }; /* half a header */
		refused_both(SOCK_STREAM, p, 1, EPROTO);
		refused_both(SOCK_SEQPACKET, p, 1, EPROTO);
	}
}

/* An error after frames recvv returned comes with the next call. */
TEST(recvv_defers_an_error)
{
	unsigned char ok[23], bad[20];
	int sv[2];
	struct fdshare_reader *r;
	struct fdshare_msg m[4];

	header(ok, 1, 3, 0);
	memcpy(ok + 20, "abc", 3);
	header(bad, 5, 0, 0);
	bad[4] = 9;
	for (int t = 0; t < 2; t++) {
		pair(t ? SOCK_SEQPACKET : SOCK_STREAM, sv);
		CHECK_EQ(write(sv[0], ok, 23), 23);
		CHECK_EQ(write(sv[0], bad, 20), 20);
		r = fdshare_reader_new(sv[1]);
		CHECK(r != NULL);
		CHECK_EQ(fdshare_reader_recvv(r, m, 4), 1);
		fdshare_msg_free(&m[0]);
		CHECK_ERR(fdshare_reader_recvv(r, m, 4), EPROTO);
		fdshare_reader_free(r);
		close2(sv);
	}
}

TEST(bad_arguments)
{
	int sv[2], p[2];
	struct fdshare_reader *r;
	struct fdshare_msg m[2] = { { .type = 1, .len = 3, .data = "abc" },
	                            { .type = 2, .len = 1, .data = NULL } };
	size_t sent = 7;
	char c;

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(fdshare_reader_new(p[0]) == NULL && errno == ENOTSOCK);
	CHECK(fdshare_reader_new(-1) == NULL && errno == EBADF);
	close2(p);
	pair(SOCK_DGRAM, sv);
	CHECK(fdshare_reader_new(sv[0]) == NULL && errno == EPROTOTYPE);
	close2(sv);
	pair(SOCK_SEQPACKET, sv);
	CHECK_ERR(fdshare_msg_sendv(sv[0], m, 2, &sent), EINVAL);
	CHECK_EQ(sent, 0);
	CHECK_EQ(recv(sv[1], &c, 1, MSG_DONTWAIT), -1); /* nothing went */
	CHECK_EQ(errno, EAGAIN);
	m[1] = (struct fdshare_msg){ .type = 2, .nfds = 1, .fds = NULL };
	CHECK_ERR(fdshare_msg_sendv(sv[0], m, 2, NULL), EINVAL);
	m[1] = (struct fdshare_msg){ .type = 2, .len = FDSHARE_MSG_MAX_LEN + 1, .data = "" };
	CHECK_ERR(fdshare_msg_sendv(sv[0], m, 2, NULL), EINVAL);
	CHECK_ERR(fdshare_msg_sendv(sv[0], NULL, 1, NULL), EINVAL);
	CHECK_EQ(fdshare_msg_sendv(sv[0], NULL, 0, &sent), 0);
	CHECK_EQ(sent, 0);
	r = fdshare_reader_new(sv[1]);
	CHECK(r != NULL);
	CHECK_ERR(fdshare_reader_recvv(r, m, 0), EINVAL);
	CHECK_ERR(fdshare_reader_recvv(r, NULL, 1), EINVAL);
	fdshare_reader_free(r);
	fdshare_reader_free(NULL);
	close2(sv);
}

/* A peer gone: EPIPE, and *sent says how many went before. */
TEST(sendv_to_a_closed_peer)
{
	int sv[2];
	struct fdshare_msg m[3] = { { .type = 1 }, { .type = 2 }, { .type = 3 } };
	size_t sent = 9;

	for (int t = 0; t < 2; t++) {
		pair(t ? SOCK_SEQPACKET : SOCK_STREAM, sv);
		close(sv[1]);
		CHECK_ERR(fdshare_msg_sendv(sv[0], m, 3, &sent), EPIPE);
		CHECK_EQ(sent, 0);
		close(sv[0]);
	}
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

/*
 * A read ahead that ends inside a header (the buffer is full) already
 * brought that frame's fds; the rest of the header must not be read past,
 * or the next frame's fds would come too and go to the wrong frame.
 */
TEST(read_ahead_cut_inside_a_header)
{
	static char big[4076];
	int sv[2], p[2];
	struct fdshare_reader *r;
	struct fdshare_msg m;

	pair(SOCK_STREAM, sv);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	for (int i = 0; i < 3; i++) /* 3 x 4096 bytes */
		CHECK_EQ(fdshare_msg_send(sv[0], 1, big, sizeof big, NULL, 0), 0);
	CHECK_EQ(fdshare_msg_send(sv[0], 2, big, sizeof big - 10, NULL, 0), 0);
	/* 16374 bytes so far: a 16 KiB read ends 10 bytes into the next */
	CHECK_EQ(fdshare_msg_send(sv[0], 3, "read", 4, &p[0], 1), 0);
	CHECK_EQ(fdshare_msg_send(sv[0], 4, "write", 5, &p[1], 1), 0);
	r = fdshare_reader_new(sv[1]);
	CHECK(r != NULL);
	for (uint32_t type = 1; type <= 4; type++) {
		int n = type == 1 ? 3 : 1;

		for (int i = 0; i < n; i++) {
			CHECK_EQ(fdshare_reader_recv(r, &m), 1);
			CHECK_EQ(m.type, type);
			if (type >= 3) {
				CHECK_EQ(m.nfds, 1);
				CHECK_EQ(fcntl(m.fds[0], F_GETFL) & O_ACCMODE,
				         type == 3 ? O_RDONLY : O_WRONLY);
			}
			fdshare_msg_free(&m);
		}
	}
	fdshare_reader_free(r);
	close2(p);
	close2(sv);
}

/*
 * On SOCK_SEQPACKET an empty record reads as the end, as it does for
 * fdshare_msg_recv: the frames before it come, then 0 for good, and what
 * a batch read beyond it is dropped with its fds closed.
 */
TEST(seqpacket_empty_record_ends_the_stream)
{
	unsigned char a[23], b[23];
	int sv[2], before;
	struct fdshare_reader *r;
	struct fdshare_msg m[4];

	header(a, 1, 3, 0);
	memcpy(a + 20, "abc", 3);
	header(b, 2, 3, 1);
	memcpy(b + 20, "xyz", 3);
	for (int vec = 0; vec < 2; vec++) {
		pair(SOCK_SEQPACKET, sv);
		before = t_count_fds();
		CHECK_EQ(write(sv[0], a, 23), 23);
		CHECK_EQ(write(sv[0], "", 0), 0);
		CHECK_EQ(fdshare_send(sv[0], b, 23, &sv[0], 1, 0), 23);
		r = fdshare_reader_new(sv[1]);
		CHECK(r != NULL);
		CHECK_EQ(vec ? fdshare_reader_recvv(r, m, 4) : fdshare_reader_recv(r, m), 1);
		CHECK_EQ(m[0].type, 1);
		fdshare_msg_free(&m[0]);
		CHECK_EQ(vec ? fdshare_reader_recvv(r, m, 4) : fdshare_reader_recv(r, m), 0);
		CHECK_EQ(fdshare_reader_recvv(r, m, 4), 0);
		CHECK_EQ(fdshare_reader_recv(r, m), 0);
		fdshare_reader_free(r);
		CHECK_EQ(t_count_fds(), before);
		close2(sv);
	}
}
