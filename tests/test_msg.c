/* Framed messages: round trips, limits, and malformed frames from a raw peer. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdshare.h"
#include "t.h"

static void pair(int type, int sv[2])
{
	CHECK(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == 0);
}

static void close2(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
}

/*
 * Send in a child (a big frame does not fit in the socket buffer) and
 * receive here; check type, payload, fd count, identity and CLOEXEC.
 */
static void round_trip(int type, size_t len, size_t nfds)
{
	int sv[2], p[2];
	unsigned char *data = malloc(len ? len : 1);
	struct fdshare_msg m;
	struct stat ps;
	pid_t pid;

	CHECK(data != NULL);
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 31 + 7);
	pair(type, sv);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(fstat(p[0], &ps) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int *fds = malloc((nfds ? nfds : 1) * sizeof(int));

		alarm(60);
		close(sv[1]);
		for (size_t i = 0; i < nfds; i++)
			fds[i] = p[0];
		int r = fdshare_msg_send(sv[0], 0xabcd1234, data, len, fds, nfds);

		if (r != 0)
			fprintf(stderr, "msg_send(%zu bytes, %zu fds): %s\n", len, nfds,
			        strerror(errno));
		free(fds);
		free(data);
		_exit(r == 0 ? 0 : 1);
	}
	close(sv[0]);
	CHECK_EQ(fdshare_msg_recv(sv[1], &m), 1);
	CHECK_EQ(m.type, 0xabcd1234);
	CHECK_EQ(m.len, len);
	CHECK_EQ(m.nfds, nfds);
	CHECK(len == 0 ? m.data == NULL : memcmp(m.data, data, len) == 0);
	for (size_t i = 0; i < m.nfds; i++) {
		struct stat st;

		CHECK(fstat(m.fds[i], &st) == 0);
		CHECK(st.st_ino == ps.st_ino && st.st_dev == ps.st_dev);
		CHECK(fcntl(m.fds[i], F_GETFD) & FD_CLOEXEC);
	}
	fdshare_msg_free(&m);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(fdshare_msg_recv(sv[1], &m), 0); /* clean end after it */
	close(sv[1]);
	close2(p);
	free(data);
}

TEST(stream_round_trips)
{
	size_t lens[] = { 0, 16, 4076, 4077, 70000, 1 << 20 };
	size_t nfds[] = { 0, 1, 253, 254, 507 };

	for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
		for (size_t j = 0; j < sizeof nfds / sizeof *nfds; j++)
			round_trip(SOCK_STREAM, lens[i], nfds[j]);
}

TEST(seqpacket_round_trips)
{
	size_t lens[] = { 0, 16, 4076, 4077, 70000, 1 << 20 };
	size_t nfds[] = { 0, 1, 253, 254, 507 };

	for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
		for (size_t j = 0; j < sizeof nfds / sizeof *nfds; j++)
			round_trip(SOCK_SEQPACKET, lens[i], nfds[j]);
}

TEST(ten_thousand_fds_in_one_message)
{
	round_trip(SOCK_STREAM, 16, 10000);
	round_trip(SOCK_SEQPACKET, 16, 10000);
}

TEST(max_payload)
{
	round_trip(SOCK_STREAM, FDSHARE_MSG_MAX_LEN, 1);
}

TEST(several_messages_in_a_row_stay_apart)
{
	int sv[2];
	struct fdshare_msg m;

	pair(SOCK_STREAM, sv);
	CHECK_EQ(fdshare_msg_send(sv[0], 1, "one", 3, NULL, 0), 0);
	CHECK_EQ(fdshare_msg_send(sv[0], 2, "", 0, &sv[0], 1), 0);
	CHECK_EQ(fdshare_msg_send(sv[0], 3, "three", 5, NULL, 0), 0);
	CHECK_EQ(fdshare_msg_recv(sv[1], &m), 1);
	CHECK(m.type == 1 && m.len == 3 && memcmp(m.data, "one", 3) == 0 && m.nfds == 0);
	fdshare_msg_free(&m);
	CHECK_EQ(fdshare_msg_recv(sv[1], &m), 1);
	CHECK(m.type == 2 && m.len == 0 && m.nfds == 1);
	fdshare_msg_free(&m);
	CHECK_EQ(fdshare_msg_recv(sv[1], &m), 1);
	CHECK(m.type == 3 && m.len == 5 && memcmp(m.data, "three", 5) == 0);
	fdshare_msg_free(&m);
	close2(sv);
}

TEST(limits_are_einval_and_send_nothing)
{
	int sv[2], n = -1;
	char c = 0;

	pair(SOCK_STREAM, sv);
	CHECK_ERR(fdshare_msg_send(sv[0], 1, &c, (size_t)FDSHARE_MSG_MAX_LEN + 1, NULL, 0), EINVAL);
	CHECK_ERR(fdshare_msg_send(sv[0], 1, &c, 1, &sv[0], (size_t)FDSHARE_MSG_MAX_FDS + 1), EINVAL);
	CHECK_ERR(fdshare_msg_send(sv[0], 1, NULL, 5, NULL, 0), EINVAL);
	CHECK_ERR(fdshare_msg_send(sv[0], 1, &c, 1, NULL, 3), EINVAL);
	CHECK(ioctl(sv[1], FIONREAD, &n) == 0);
	CHECK_EQ(n, 0);
	close2(sv);
}

TEST(free_closes_remaining_fds_and_skips_taken_ones)
{
	int sv[2], taken, before;
	int three[3];
	struct fdshare_msg m;

	pair(SOCK_SEQPACKET, sv);
	three[0] = three[1] = three[2] = sv[0];
	before = t_count_fds();
	CHECK_EQ(fdshare_msg_send(sv[0], 9, "x", 1, three, 3), 0);
	CHECK_EQ(fdshare_msg_recv(sv[1], &m), 1);
	CHECK_EQ(t_count_fds(), before + 3);
	taken = m.fds[1];
	m.fds[1] = -1;
	fdshare_msg_free(&m);
	CHECK_EQ(t_count_fds(), before + 1);
	CHECK(fcntl(taken, F_GETFD) >= 0);
	close(taken);
	fdshare_msg_free(&m); /* a freed message is empty: freeing again is safe */
	fdshare_msg_free(NULL);
	close2(sv);
}

/* A message owning copies of fds[0..n) and a byte of data, as received. */
static void owned(struct fdshare_msg *m, const int *fds, size_t n)
{
	*m = (struct fdshare_msg){ .type = 1, .data = malloc(1), .len = 1,
	                           .fds = malloc((n ? n : 1) * sizeof(int)), .nfds = n };
	CHECK(m->data != NULL && m->fds != NULL);
	for (size_t i = 0; i < n; i++)
		m->fds[i] = fds[i];
}

static int is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* Exactly the fds listed are closed: runs, gaps, taken slots, any order. */
TEST(freev_closes_exactly_the_fds_of_the_messages)
{
	int v[8], null, before = t_count_fds();
	struct fdshare_msg m[4];

	/* Eight consecutive numbers, above any the harness has open. */
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(null >= 0);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(v[i] = fcntl(null, F_DUPFD_CLOEXEC, 500 + i), 500 + i);
	close(null);
	/* v[3] and v[6] belong to no message: the runs around them stay apart. */
	owned(&m[0], (int[]){ v[5], v[0] }, 2);
	owned(&m[1], (int[]){ v[2], -1, v[1] }, 3);
	owned(&m[2], NULL, 0);
	owned(&m[3], (int[]){ v[7], v[4] }, 2);
	m[3].fds[1] = -1; /* taken by the caller */
	errno = EXDEV;
	fdshare_msg_freev(m, 4);
	CHECK_EQ(errno, EXDEV);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(is_open(v[i]), (i == 3 || i == 4 || i == 6));
	for (int i = 0; i < 4; i++)
		CHECK(m[i].data == NULL && m[i].fds == NULL && m[i].len == 0 && m[i].nfds == 0);
	close(v[3]);
	close(v[4]);
	close(v[6]);
	CHECK_EQ(t_count_fds(), before);
	fdshare_msg_freev(m, 4); /* freed messages are empty: freeing again is safe */
	fdshare_msg_freev(NULL, 3);
	fdshare_msg_freev(m, 0);
}

/* Batches of received frames, more fds than one pass sorts (256), in reverse. */
TEST(freev_many_received_fds)
{
	enum { N = 3, PER = 200 };
	int sv[2], fds[PER], before;
	struct fdshare_msg m[N];
	struct fdshare_reader *r;

	pair(SOCK_SEQPACKET, sv);
	for (int i = 0; i < PER; i++)
		fds[i] = sv[0];
	before = t_count_fds();
	r = fdshare_reader_new(sv[1]);
	CHECK(r != NULL);
	for (int i = 0; i < N; i++)
		CHECK_EQ(fdshare_msg_send(sv[0], (uint32_t)i, "ab", 2, fds, PER), 0);
	for (int got = 0; got < N;) {
		int k = fdshare_reader_recvv(r, m + got, (size_t)(N - got));

		CHECK(k >= 1);
		got += k;
	}
	CHECK_EQ(t_count_fds(), before + N * PER);
	/* Reverse one message's fds: the sort, not the arrival, makes the runs. */
	for (int i = 0; i < PER / 2; i++) {
		int t = m[1].fds[i];

		m[1].fds[i] = m[1].fds[PER - 1 - i];
		m[1].fds[PER - 1 - i] = t;
	}
	fdshare_msg_freev(m, N);
	CHECK_EQ(t_count_fds(), before);
	fdshare_reader_free(r);
	close2(sv);
}

/* Raw frames: 20-byte header, little-endian, as docs/protocol.md says. */
static void header(unsigned char *h, uint32_t magic, unsigned ver, uint32_t type,
                   uint32_t len, uint32_t nfds)
{
	uint32_t v[5] = { magic, 0, type, len, nfds };

	for (int i = 0; i < 5; i++)
		for (int b = 0; b < 4; b++)
			h[i * 4 + b] = (unsigned char)(v[i] >> (8 * b));
	h[4] = (unsigned char)ver;
}

#define MAGIC 0x48534446u

/* Write raw bytes (fds on the first byte), close the writer, expect errno. */
static void expect_rejected(int type, const void *bytes, size_t n, int nfds, int want)
{
	int sv[2], fds[300], before;
	struct fdshare_msg m;

	pair(type, sv);
	for (int i = 0; i < nfds; i++)
		fds[i] = sv[0];
	before = t_count_fds();
	if (nfds > 0)
		CHECK_EQ(fdshare_send(sv[0], bytes, n, fds, (size_t)nfds, 0), (ssize_t)n);
	else if (n > 0)
		CHECK_EQ(write(sv[0], bytes, n), (ssize_t)n);
	shutdown(sv[0], SHUT_WR);
	CHECK_ERR(fdshare_msg_recv(sv[1], &m), want);
	CHECK(m.fds == NULL && m.data == NULL && m.nfds == 0 && m.len == 0);
	CHECK_EQ(t_count_fds(), before);
	close2(sv);
}

TEST(bad_magic_version_reserved)
{
	unsigned char h[20];

	header(h, 0x12345678, 1, 1, 0, 0);
	expect_rejected(SOCK_STREAM, h, 20, 0, EPROTO);
	header(h, MAGIC, 2, 1, 0, 0);
	expect_rejected(SOCK_STREAM, h, 20, 0, EPROTO);
	header(h, MAGIC, 1, 1, 0, 0);
	h[6] = 1;
	expect_rejected(SOCK_SEQPACKET, h, 20, 0, EPROTO);
	header(h, 0x12345678, 1, 1, 0, 1);
	expect_rejected(SOCK_STREAM, h, 20, 1, EPROTO);
}

TEST(huge_length_or_fd_count)
{
	unsigned char h[20];

	header(h, MAGIC, 1, 1, FDSHARE_MSG_MAX_LEN + 1, 0);
	expect_rejected(SOCK_STREAM, h, 20, 0, EPROTO);
	header(h, MAGIC, 1, 1, 0xffffffffu, 0);
	expect_rejected(SOCK_SEQPACKET, h, 20, 0, EPROTO);
	header(h, MAGIC, 1, 1, 0, FDSHARE_MSG_MAX_FDS + 1);
	expect_rejected(SOCK_STREAM, h, 20, 1, EPROTO);
}

TEST(fds_without_a_header)
{
	expect_rejected(SOCK_STREAM, "garbage", 7, 5, EPROTO);
	expect_rejected(SOCK_SEQPACKET, "x", 1, 253, EPROTO);
	expect_rejected(SOCK_STREAM, "x", 1, 1, EPROTO); /* cut header */
}

TEST(datagram_socket_is_eprototype_and_nothing_is_read)
{
	struct fdshare_msg m;
	int sv[2];
	char c;

	CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(fdshare_msg_send(sv[0], 1, "x", 1, NULL, 0), 0);
	CHECK_ERR(fdshare_msg_recv(sv[1], &m), EPROTOTYPE);
	CHECK(m.fds == NULL && m.data == NULL);
	CHECK(recv(sv[1], &c, 1, MSG_DONTWAIT) == 1); /* the datagram is still there */
	close2(sv);
}

TEST(fds_not_matching_the_header)
{
	unsigned char h[20];

	header(h, MAGIC, 1, 1, 0, 0); /* says none, brings two */
	expect_rejected(SOCK_STREAM, h, 20, 2, EPROTO);
	header(h, MAGIC, 1, 1, 0, 3); /* says three, brings two */
	expect_rejected(SOCK_STREAM, h, 20, 2, EPROTO);
	expect_rejected(SOCK_SEQPACKET, h, 20, 2, EPROTO);
	header(h, MAGIC, 1, 1, 0, 300); /* says 300: a carrier byte is missing */
	expect_rejected(SOCK_STREAM, h, 20, 253, EPROTO);
}

TEST(stream_cut_mid_message)
{
	unsigned char f[30];

	header(f, MAGIC, 1, 1, 100, 1); /* promises 100 bytes, sends 10 */
	memset(f + 20, 'p', 10);
	expect_rejected(SOCK_STREAM, f, 30, 1, EPROTO);
	expect_rejected(SOCK_STREAM, f, 11, 0, EPROTO);
	expect_rejected(SOCK_STREAM, f, 19, 1, EPROTO);
}

TEST(seqpacket_record_longer_than_frame)
{
	unsigned char f[40];

	header(f, MAGIC, 1, 1, 10, 0); /* first record: header + 20 bytes */
	memset(f + 20, 'p', 20);
	expect_rejected(SOCK_SEQPACKET, f, 40, 1, EPROTO);
}

TEST(clean_end_between_messages)
{
	int sv[2];
	struct fdshare_msg m;

	pair(SOCK_STREAM, sv);
	close(sv[0]);
	CHECK_EQ(fdshare_msg_recv(sv[1], &m), 0);
	close(sv[1]);
	pair(SOCK_SEQPACKET, sv);
	close(sv[0]);
	CHECK_EQ(fdshare_msg_recv(sv[1], &m), 0);
	close(sv[1]);
}

/* A raw peer dribbling a valid frame a byte at a time, fds on byte 1. */
TEST(stream_frame_in_single_bytes)
{
	unsigned char f[25];
	int sv[2];
	struct fdshare_msg m;
	pid_t pid;

	header(f, MAGIC, 1, 77, 5, 2);
	memcpy(f + 20, "slow!", 5);
	pair(SOCK_STREAM, sv);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int two[2] = { sv[0], sv[0] };

		alarm(20);
		if (fdshare_send(sv[0], f, 1, two, 2, 0) != 1)
			_exit(1);
		for (int i = 1; i < 25; i++) {
			usleep(1000);
			if (write(sv[0], f + i, 1) != 1)
				_exit(2);
		}
		_exit(0);
	}
	CHECK_EQ(fdshare_msg_recv(sv[1], &m), 1);
	CHECK(m.type == 77 && m.len == 5 && memcmp(m.data, "slow!", 5) == 0 && m.nfds == 2);
	fdshare_msg_free(&m);
	CHECK_EQ(t_wait(pid), 0);
	close2(sv);
}
