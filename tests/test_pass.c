/* fdshare_send / fdshare_recv: SCM_RIGHTS on every socket type. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
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

static int same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static int has_cloexec(int fd)
{
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

/* n copies of one pipe's read end go over; they come back as n new fds. */
static void round_trip(int type, size_t n)
{
	int sv[2], p[2], in[FDSHARE_MAX_FDS], out[FDSHARE_MAX_FDS];
	char buf[8] = { 0 };
	size_t got = FDSHARE_MAX_FDS;

	pair(type, sv);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	for (size_t i = 0; i < n; i++)
		in[i] = p[0];
	CHECK_EQ(fdshare_send(sv[0], "hello", 5, in, n, 0), 5);
	CHECK_EQ(fdshare_recv(sv[1], buf, sizeof buf, out, &got, 0), 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	CHECK_EQ(got, n);
	for (size_t i = 0; i < got; i++) {
		CHECK(out[i] != p[0]);
		CHECK(same_file(out[i], p[0]));
		CHECK(has_cloexec(out[i]));
		for (size_t j = 0; j < i; j++)
			CHECK(out[i] != out[j]);
	}
	for (size_t i = 0; i < got; i++)
		close(out[i]);
	close2(p);
	close2(sv);
}

TEST(stream_0_1_253)
{
	round_trip(SOCK_STREAM, 0);
	round_trip(SOCK_STREAM, 1);
	round_trip(SOCK_STREAM, 253);
}

TEST(seqpacket_0_1_253)
{
	round_trip(SOCK_SEQPACKET, 0);
	round_trip(SOCK_SEQPACKET, 1);
	round_trip(SOCK_SEQPACKET, 253);
}

TEST(dgram_0_1_253)
{
	round_trip(SOCK_DGRAM, 0);
	round_trip(SOCK_DGRAM, 1);
	round_trip(SOCK_DGRAM, 253);
}

TEST(too_many_or_no_byte_is_einval)
{
	int sv[2], fds[254], n = 0;
	char c;
	size_t cap = 0;

	pair(SOCK_STREAM, sv);
	for (int i = 0; i < 254; i++)
		fds[i] = sv[0];
	CHECK_ERR(fdshare_send(sv[0], "x", 1, fds, 254, 0), EINVAL);
	CHECK_ERR(fdshare_send(sv[0], "", 0, fds, 1, 0), EINVAL);
	CHECK_ERR(fdshare_send(sv[0], "x", 1, NULL, 1, 0), EINVAL);
	CHECK_ERR(fdshare_send(sv[0], "x", 1, fds, 1, 0x100), EINVAL);
	CHECK_ERR(fdshare_recv(sv[1], &c, 1, NULL, &cap, 0x100), EINVAL);
	/* nothing was sent by any of them */
	CHECK(ioctl(sv[1], FIONREAD, &n) == 0);
	CHECK_EQ(n, 0);
	close2(sv);
}

TEST(same_open_file_description)
{
	char path[256];
	int sv[2], f = t_tmpfile(path, sizeof path), got_fd;
	size_t got = 1;
	char c;

	CHECK(f >= 0);
	pair(SOCK_STREAM, sv);
	CHECK_EQ(fdshare_send(sv[0], "f", 1, &f, 1, 0), 1);
	CHECK_EQ(fdshare_recv(sv[1], &c, 1, &got_fd, &got, 0), 1);
	CHECK_EQ(got, 1);
	CHECK_EQ(write(got_fd, "abcdef", 6), 6);
	CHECK_EQ(lseek(f, 0, SEEK_CUR), 6); /* the offset moved in the other */
	CHECK_EQ(fcntl(got_fd, F_SETFL, O_APPEND), 0);
	CHECK(fcntl(f, F_GETFL) & O_APPEND); /* and so do status flags */
	close(got_fd);
	close(f);
	unlink(path);
	*strrchr(path, '/') = 0;
	rmdir(path);
	close2(sv);
}

TEST(cloexec_default_and_nocloexec_flag)
{
	int sv[2], fd;
	size_t got = 1;
	char c;

	pair(SOCK_SEQPACKET, sv);
	CHECK_EQ(fdshare_send(sv[0], "a", 1, &sv[0], 1, 0), 1);
	CHECK_EQ(fdshare_recv(sv[1], &c, 1, &fd, &got, 0), 1);
	CHECK(has_cloexec(fd));
	close(fd);
	got = 1;
	CHECK_EQ(fdshare_send(sv[0], "a", 1, &sv[0], 1, 0), 1);
	CHECK_EQ(fdshare_recv(sv[1], &c, 1, &fd, &got, FDSHARE_NOCLOEXEC), 1);
	CHECK_EQ(got, 1);
	CHECK(!has_cloexec(fd));
	close(fd);
	close2(sv);
}

/* A sender's extra fds must not survive in the receiver. */
static void over_capacity(int type, size_t sent, size_t cap)
{
	int sv[2], in[FDSHARE_MAX_FDS], out[FDSHARE_MAX_FDS];
	int before;
	char c;
	size_t got = cap;

	pair(type, sv);
	for (size_t i = 0; i < sent; i++)
		in[i] = sv[0];
	CHECK_EQ(fdshare_send(sv[0], "x", 1, in, sent, 0), 1);
	before = t_count_fds();
	CHECK_ERR(fdshare_recv(sv[1], &c, 1, cap ? out : NULL, cap ? &got : NULL, 0), ECHRNG);
	CHECK_EQ(t_count_fds(), before);
	if (cap)
		CHECK_EQ(got, 0);
	close2(sv);
}

TEST(capacity_too_small_is_echrng)
{
	over_capacity(SOCK_STREAM, 2, 1);
	over_capacity(SOCK_SEQPACKET, 253, 10);
	over_capacity(SOCK_DGRAM, 5, 4);
}

TEST(fds_to_receiver_expecting_none_is_echrng)
{
	over_capacity(SOCK_STREAM, 1, 0);
	over_capacity(SOCK_STREAM, 253, 0);
	over_capacity(SOCK_DGRAM, 30, 0);
}

TEST(rlimit_truncation_is_echrng)
{
	int sv[2], in[64], out[64], before;
	struct rlimit old, low;
	size_t got = 64;
	char c;

	pair(SOCK_STREAM, sv);
	for (int i = 0; i < 64; i++)
		in[i] = sv[0];
	CHECK_EQ(fdshare_send(sv[0], "x", 1, in, 64, 0), 1);
	CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
	before = t_count_fds();
	/* room for a few new fds above the highest one open, not for 64 */
	low = old;
	low.rlim_cur = (rlim_t)(sv[1] > before ? sv[1] : before) + 8;
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
	errno = 0;
	ssize_t r = fdshare_recv(sv[1], &c, 1, out, &got, 0);
	int e = errno;
	CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
	CHECK_EQ(r, -1);
	CHECK_EQ(e, ECHRNG);
	CHECK_EQ(got, 0);
	CHECK_EQ(t_count_fds(), before);
	close2(sv);
}

TEST(truncated_record_is_emsgsize)
{
	int types[] = { SOCK_DGRAM, SOCK_SEQPACKET };

	for (int i = 0; i < 2; i++) {
		int sv[2], fd, before;
		size_t got = 1;
		char buf[4];

		pair(types[i], sv);
		CHECK_EQ(fdshare_send(sv[0], "abcdefgh", 8, &sv[0], 1, 0), 8);
		before = t_count_fds();
		CHECK_ERR(fdshare_recv(sv[1], buf, sizeof buf, &fd, &got, 0), EMSGSIZE);
		CHECK_EQ(got, 0);
		CHECK_EQ(t_count_fds(), before);
		close2(sv);
	}
}

TEST(closed_peer_is_epipe_without_sigpipe)
{
	int sv[2];
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old;

	CHECK(sigaction(SIGPIPE, &dfl, &old) == 0);
	pair(SOCK_STREAM, sv);
	close(sv[1]);
	CHECK_ERR(fdshare_send(sv[0], "x", 1, &sv[0], 1, 0), EPIPE);
	CHECK_ERR(fdshare_send(sv[0], "x", 1, NULL, 0, 0), EPIPE);
	close(sv[0]);
	sigaction(SIGPIPE, &old, NULL);
}

TEST(end_of_stream_is_zero)
{
	int sv[2], fd;
	size_t got = 1;
	char c;

	pair(SOCK_STREAM, sv);
	close(sv[0]);
	CHECK_EQ(fdshare_recv(sv[1], &c, 1, &fd, &got, 0), 0);
	CHECK_EQ(got, 0);
	close(sv[1]);
}

TEST(dontwait_gives_eagain_or_short_count)
{
	int sv[2];
	size_t got = 1, big = 1 << 20;
	char *buf = malloc(big);
	ssize_t n;
	int fd;

	CHECK(buf != NULL);
	memset(buf, 'z', big);
	pair(SOCK_STREAM, sv);
	CHECK_ERR(fdshare_recv(sv[1], buf, 1, &fd, &got, FDSHARE_DONTWAIT), EAGAIN);
	n = fdshare_send(sv[0], buf, big, &sv[0], 1, FDSHARE_DONTWAIT);
	CHECK(n > 0 && (size_t)n < big);
	CHECK_ERR(fdshare_send(sv[0], buf, big, NULL, 0, FDSHARE_DONTWAIT), EAGAIN);
	/* the fd came with the first byte */
	got = 1;
	CHECK(fdshare_recv(sv[1], buf, 10, &fd, &got, 0) > 0);
	CHECK_EQ(got, 1);
	close(fd);
	free(buf);
	close2(sv);
}

/* A child reads slowly in small pieces; the fds come with the first byte. */
TEST(short_reads_and_writes_on_stream)
{
	size_t big = 3 << 20;
	char *buf = malloc(big);
	int sv[2], p[2];
	pid_t pid;

	CHECK(buf != NULL);
	for (size_t i = 0; i < big; i++)
		buf[i] = (char)(i * 7);
	pair(SOCK_STREAM, sv);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char piece[1000];
		size_t off = 0, total_fds = 0;
		int fds[4];

		alarm(60);
		close(sv[0]);
		while (off < big) {
			size_t got = 4;
			ssize_t n = fdshare_recv(sv[1], piece, sizeof piece, fds, &got, 0);

			if (n <= 0)
				_exit(1);
			if (got > 0 && off != 0)
				_exit(2);
			for (size_t i = 0; i < got; i++) {
				if (write(fds[i], "!", 1) != 1)
					_exit(3);
				close(fds[i]);
			}
			total_fds += got;
			for (ssize_t i = 0; i < n; i++)
				if (piece[i] != (char)((off + (size_t)i) * 7))
					_exit(4);
			off += (size_t)n;
		}
		free(buf);
		_exit(total_fds == 2 ? 0 : 5);
	}
	close(sv[1]);
	int two[2] = { p[1], p[1] };
	CHECK_EQ(fdshare_send(sv[0], buf, big, two, 2, 0), (ssize_t)big);
	CHECK_EQ(t_wait(pid), 0);
	char marks[3] = { 0 };
	CHECK_EQ(read(p[0], marks, sizeof marks), 2);
	CHECK(memcmp(marks, "!!", 2) == 0);
	close2(p);
	close(sv[0]);
	free(buf);
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void storm(int on)
{
	struct itimerval it = { { 0, on ? 200 : 0 }, { 0, on ? 200 : 0 } };
	struct sigaction sa = { .sa_handler = on ? on_alarm : SIG_DFL };

	sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART: calls see EINTR */
	setitimer(ITIMER_REAL, &it, NULL);
}

/*
 * Under a signal storm: a send blocked on a full socket and a recv blocked
 * on an empty one both complete correctly.
 */
TEST(eintr_storm_during_blocked_send_and_recv)
{
	size_t big = 4 << 20;
	char *buf = malloc(big), c;
	int sv[2], fd;
	size_t got = 1;
	pid_t pid;

	CHECK(buf != NULL);
	memset(buf, 'q', big);
	pair(SOCK_STREAM, sv);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		size_t off = 0;
		char piece[4096];

		alarm(60);
		close(sv[0]);
		usleep(200000); /* let the sender block on a full socket */
		while (off < big) {
			ssize_t n = read(sv[1], piece, sizeof piece);

			if (n <= 0)
				_exit(1);
			off += (size_t)n;
			if (off % (256 << 10) < sizeof piece)
				usleep(2000);
		}
		usleep(200000); /* let the parent block in recv */
		free(buf);
		_exit(fdshare_send(sv[1], "k", 1, &sv[1], 1, 0) == 1 ? 0 : 2);
	}
	alarms = 0;
	storm(1);
	ssize_t sent = fdshare_send(sv[0], buf, big, NULL, 0, 0);
	int seen_during_send = alarms;
	ssize_t r = fdshare_recv(sv[0], &c, 1, &fd, &got, 0);
	storm(0);
	CHECK_EQ(sent, (ssize_t)big);
	CHECK(seen_during_send > 0);
	CHECK_EQ(r, 1);
	CHECK_EQ(got, 1);
	CHECK(alarms > seen_during_send);
	close(fd);
	CHECK_EQ(t_wait(pid), 0);
	close2(sv);
	free(buf);
}

TEST(passcred_and_passpidfd_do_not_truncate_or_leak)
{
	int sv[2], in[FDSHARE_MAX_FDS], out[FDSHARE_MAX_FDS], on = 1;
	size_t got = FDSHARE_MAX_FDS;
	char c;

	pair(SOCK_STREAM, sv);
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
	int pidfd_ok = setsockopt(sv[1], SOL_SOCKET, SO_PASSPIDFD, &on, sizeof on) == 0;
	for (int i = 0; i < FDSHARE_MAX_FDS; i++)
		in[i] = sv[0];
	int before = t_count_fds();
	CHECK_EQ(fdshare_send(sv[0], "c", 1, in, FDSHARE_MAX_FDS, 0), 1);
	CHECK_EQ(fdshare_recv(sv[1], &c, 1, out, &got, 0), 1);
	CHECK_EQ(got, FDSHARE_MAX_FDS);
	CHECK_EQ(t_count_fds(), before + FDSHARE_MAX_FDS); /* no SCM_PIDFD left */
	for (size_t i = 0; i < got; i++)
		close(out[i]);
	close2(sv);
	if (!pidfd_ok)
		t_skip("SO_PASSPIDFD not supported by this kernel (credentials part passed)");
}
