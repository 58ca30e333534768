/*
 * A blocking socket's own timeouts (SO_RCVTIMEO, SO_SNDTIMEO: socket(7))
 * bound the framed calls: EAGAIN when they run out, never a wait without
 * end.  The calls that could hang run in a child under alarm(2): a hang is
 * a death by SIGALRM, a failure.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/time.h>

#include "test_reader.h"
#include "../src/lib/internal.h"

#define TIMEO_US 50000 /* the socket timeout the tests set */
#define CHILD_ALARM 20 /* a child still running then has hung */
#define BIG (4u << 20) /* more than any socket buffer takes */
#define MANY 4096      /* small messages, more than the buffer takes */

static void set_timeo(int sock, int opt)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = TIMEO_US };

	CHECK_EQ(setsockopt(sock, SOL_SOCKET, opt, &tv, sizeof tv), 0);
}

/* A record of n bytes from p with fd attached (a frame's beginning only). */
static void raw_send(int sock, const void *p, size_t n, int fd)
{
	struct iovec iov = { .iov_base = (void *)p, .iov_len = n };

	CHECK_EQ(fds_sendmsg(sock, &iov, 1, &fd, 1, 0), (ssize_t)n);
}

/* Run fn(type) in a child bounded by alarm(2); it must exit 0. */
static void in_child(void (*fn)(int), int type)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		alarm(CHILD_ALARM);
		fn(type);
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
}

static void recv_timeouts(int type)
{
	int sv[2], base, fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	unsigned char h[20];
	struct fdshare_msg m, ms[4];
	struct fdshare_reader *r;

	CHECK(fd >= 0);
	pair(type, sv);
	set_timeo(sv[0], SO_RCVTIMEO);
	base = t_count_fds();

	/* Nothing comes: the timeout, as recvmsg(2) gives it. */
	CHECK_ERR(fdshare_msg_recv(sv[0], &m), EAGAIN);
	r = fdshare_reader_new(sv[0]);
	CHECK(r != NULL);
	CHECK_ERR(fdshare_reader_recv(r, &m), EAGAIN);
	CHECK_ERR(fdshare_reader_recvv(r, ms, 4), EAGAIN);
	/* Timed out before a frame began: nothing was lost. */
	CHECK_EQ(fdshare_msg_send(sv[1], 5, "abc", 3, &fd, 1), 0);
	CHECK_EQ(fdshare_reader_recv(r, &m), 1);
	CHECK_EQ(m.type, 5);
	CHECK_EQ(m.len, 3);
	CHECK_EQ(m.nfds, 1);
	fdshare_msg_free(&m);
	fdshare_reader_free(r);

	/* A frame begun, its fd sent, its payload never: EAGAIN, fd closed. */
	header(h, 6, 10, 1);
	raw_send(sv[1], h, sizeof h, fd);
	CHECK_ERR(fdshare_msg_recv(sv[0], &m), EAGAIN);
	CHECK_EQ(t_count_fds(), base);
	CHECK(m.fds == NULL && m.data == NULL);

	r = fdshare_reader_new(sv[0]);
	CHECK(r != NULL);
	raw_send(sv[1], h, sizeof h, fd);
	CHECK_ERR(fdshare_reader_recv(r, &m), EAGAIN);
	CHECK_EQ(t_count_fds(), base);
	fdshare_reader_free(r);

	close2(sv);
	close(fd);
}

TEST(rcvtimeo_bounds_stream_receives)
{
	in_child(recv_timeouts, SOCK_STREAM);
}

TEST(rcvtimeo_bounds_seqpacket_receives)
{
	in_child(recv_timeouts, SOCK_SEQPACKET);
}

static void send_timeouts(int type)
{
	int sv[2], fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	char *big = calloc(1, BIG);
	struct fdshare_msg *ms = calloc(MANY, sizeof *ms);
	size_t sent = 0;

	CHECK(fd >= 0 && big != NULL && ms != NULL);
	for (size_t i = 0; i < MANY; i++)
		ms[i] = (struct fdshare_msg){ .type = 1, .data = big, .len = 200 };
	pair(type, sv);
	set_timeo(sv[0], SO_SNDTIMEO);
	/* Nobody reads sv[1]: the buffer fills, the timeout runs out. */
	CHECK_ERR(fdshare_msg_send(sv[0], 1, big, BIG, &fd, 1), EAGAIN);
	close2(sv);

	pair(type, sv);
	set_timeo(sv[0], SO_SNDTIMEO);
	CHECK_ERR(fdshare_msg_sendv(sv[0], ms, MANY, &sent), EAGAIN);
	CHECK(sent > 0 && sent < MANY);
	close2(sv);
	close(fd);
	free(big);
	free(ms);
}

TEST(sndtimeo_bounds_stream_sends)
{
	in_child(send_timeouts, SOCK_STREAM);
}

TEST(sndtimeo_bounds_seqpacket_sends)
{
	in_child(send_timeouts, SOCK_SEQPACKET);
}
