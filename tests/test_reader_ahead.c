/*
 * The buffered reader's read-ahead: frames read together are kept between
 * calls with their descriptors, given to the right frame, closed when the
 * reader is freed unread; and where a stream ends.
 */
#include <fcntl.h>
#include <poll.h>

#include "test_reader.h"

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
