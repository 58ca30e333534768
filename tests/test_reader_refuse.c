/*
 * The buffered reader and the batched sender refuse what they must:
 * malformed frames with nothing leaked, errors kept for the next call,
 * bad arguments, a peer gone.
 */
#include <fcntl.h>

#include "test_reader.h"

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
