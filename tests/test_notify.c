/*
 * The sd_notify receiver inside libfdshare (src/lib/notify.c): the parser
 * on its own, then real datagrams with fds and credentials.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../src/lib/notify.h"
#include "t.h"

static int parse(const char *s, struct notify_msg *m)
{
	return notify_parse(s, strlen(s), m);
}

TEST(parse_ready)
{
	struct notify_msg m;

	CHECK_EQ(parse("READY=1", &m), 0);
	CHECK(m.ready && !m.fdstore && !m.fdstoreremove && !m.stopping && m.fdpoll);
	CHECK_EQ(parse("STATUS=up\nREADY=1\n", &m), 0);
	CHECK(m.ready);
	CHECK_EQ(parse("X=1\r\rREADY=1\r", &m), 0); /* '\r' separates too */
	CHECK(m.ready);
	CHECK_EQ(parse("STOPPING=1\nRELOADING=1", &m), 0);
	CHECK(m.stopping && m.reloading && !m.ready);
}

/* A key counts only as a whole line, exactly. */
TEST(parse_whole_lines)
{
	static const char *const not_ready[] = {
		"READY=0", "READY=10", " READY=1", "READY=1 ", "ready=1", "READY",
		"XREADY=1", "STATUS=READY=1", "READY=yes", "",
	};
	struct notify_msg m;

	for (size_t i = 0; i < sizeof not_ready / sizeof *not_ready; i++) {
		CHECK_EQ(parse(not_ready[i], &m), 0);
		if (m.ready)
			t_fail(__FILE__, __LINE__, "'%s' read as READY=1", not_ready[i]);
	}
	CHECK_EQ(parse("FDSTORE=2\nFDSTOREREMOVE=yes", &m), 0);
	CHECK(!m.fdstore && !m.fdstoreremove);
}

TEST(parse_fdstore)
{
	struct notify_msg m;

	CHECK_EQ(parse("FDSTORE=1\nFDNAME=web", &m), 0);
	CHECK(m.fdstore && m.fdpoll && !m.bad_fdname);
	CHECK_EQ(strcmp(m.fdname, "web"), 0);
	CHECK_EQ(strcmp(notify_store_name(&m), "web"), 0);
	CHECK_EQ(parse("FDSTORE=1", &m), 0);
	CHECK_EQ(strcmp(notify_store_name(&m), "stored"), 0);
	CHECK_EQ(parse("FDNAME=a b~!\nFDSTORE=1", &m), 0); /* order is free */
	CHECK_EQ(strcmp(m.fdname, "a b~!"), 0);
	CHECK_EQ(parse("FDSTOREREMOVE=1\nFDNAME=x", &m), 0);
	CHECK(m.fdstoreremove && !m.fdstore);
	CHECK_EQ(strcmp(m.fdname, "x"), 0);
}

/* The first FDNAME= and FDPOLL= count, later ones are ignored. */
TEST(parse_first_wins)
{
	struct notify_msg m;

	CHECK_EQ(parse("FDNAME=one\nFDNAME=two\nFDSTORE=1", &m), 0);
	CHECK_EQ(strcmp(m.fdname, "one"), 0);
	CHECK_EQ(parse("FDNAME=bad:name\nFDNAME=two", &m), 0);
	CHECK(m.bad_fdname);
	CHECK_EQ(strcmp(notify_store_name(&m), "stored"), 0);
	CHECK_EQ(parse("FDPOLL=0\nFDPOLL=1", &m), 0);
	CHECK(!m.fdpoll);
}

TEST(parse_bad_fdname)
{
	char longname[7 + 257];
	static const char *const bad[] = {
		"FDNAME=", "FDNAME=a:b", "FDNAME=a\\b", "FDNAME=tab\there",
		"FDNAME=caf\xc3\xa9", "FDNAME=\x7f",
	};
	struct notify_msg m;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK_EQ(parse(bad[i], &m), 0);
		if (!m.bad_fdname || m.fdname[0])
			t_fail(__FILE__, __LINE__, "'%s' taken as a name", bad[i]);
	}
	memcpy(longname, "FDNAME=", 7);
	memset(longname + 7, 'n', 256);
	longname[7 + 256] = '\0';
	CHECK_EQ(parse(longname, &m), 0);
	CHECK(m.bad_fdname);
	longname[7 + 255] = '\0'; /* 255 is the most */
	CHECK_EQ(parse(longname, &m), 0);
	CHECK(!m.bad_fdname);
	CHECK_EQ(strlen(m.fdname), 255);
}

TEST(parse_fdpoll)
{
	static const char *const off[] = { "0", "no", "n", "false", "f", "off", "OFF", "False" };
	static const char *const on[] = { "1", "yes", "y", "true", "t", "on", "YES" };
	struct notify_msg m;
	char line[32];

	for (size_t i = 0; i < sizeof off / sizeof *off; i++) {
		snprintf(line, sizeof line, "FDSTORE=1\nFDPOLL=%s", off[i]);
		CHECK_EQ(parse(line, &m), 0);
		CHECK(!m.fdpoll && !m.bad_fdpoll);
	}
	for (size_t i = 0; i < sizeof on / sizeof *on; i++) {
		snprintf(line, sizeof line, "FDPOLL=%s", on[i]);
		CHECK_EQ(parse(line, &m), 0);
		CHECK(m.fdpoll && !m.bad_fdpoll);
	}
	CHECK_EQ(parse("FDPOLL=maybe", &m), 0);
	CHECK(m.fdpoll && m.bad_fdpoll);
	CHECK_EQ(parse("FDPOLL=", &m), 0);
	CHECK(m.fdpoll && m.bad_fdpoll);
}

TEST(parse_nul_and_size)
{
	static char big[NOTIFY_MAX + 1];
	struct notify_msg m;

	CHECK_EQ(notify_parse("READY=1", 8, &m), 0); /* one trailing NUL */
	CHECK(m.ready);
	CHECK_ERR(notify_parse("READY=1\0\0", 9, &m), EBADMSG);
	CHECK_ERR(notify_parse("X=1\0READY=1", 11, &m), EBADMSG);
	CHECK(!m.ready);
	CHECK_EQ(notify_parse("", 0, &m), 0);
	memset(big, '\n', sizeof big);
	memcpy(big + NOTIFY_MAX - 7, "READY=1", 7);
	CHECK_EQ(notify_parse(big, NOTIFY_MAX, &m), 0);
	CHECK(m.ready);
	CHECK_ERR(notify_parse(big, NOTIFY_MAX + 1, &m), EMSGSIZE);
}

/* ---- real datagrams ---- */

/* rx bound with SO_PASSCRED, tx connected to it. */
static void dgram_pair(int *rx, int *tx)
{
	int sv[2], on = 1;

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
	*rx = sv[0];
	*tx = sv[1];
}

static void send_with(int tx, const void *buf, size_t len, const int *fds, size_t n)
{
	CHECK_EQ(fdshare_send(tx, buf, len, fds, n, 0), (ssize_t)len);
}

/*
 * A pipe whose write end goes into a message: once our copy is closed,
 * the read end reads EOF exactly when the receiver closed its copy too.
 */
struct probe {
	int r, w;
};

static struct probe probe_new(void)
{
	int p[2];

	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
	return (struct probe){ p[0], p[1] };
}

static int probe_closed_elsewhere(struct probe *p)
{
	char c;

	if (p->w >= 0) {
		close(p->w);
		p->w = -1;
	}
	return read(p->r, &c, 1) == 0;
}

static void probe_free(struct probe *p)
{
	if (p->w >= 0)
		close(p->w);
	close(p->r);
}

TEST(recv_fdstore)
{
	struct notify_rx *rx = malloc(sizeof *rx);
	struct probe a = probe_new(), b = probe_new();
	int r, t, fds[2] = { a.w, b.w };
	static const char msg[] = "FDSTORE=1\nFDNAME=pair\nFDPOLL=0";

	CHECK(rx != NULL);
	dgram_pair(&r, &t);
	CHECK_EQ(notify_recv(r, rx), 0); /* nothing yet */
	send_with(t, msg, sizeof msg - 1, fds, 2);
	CHECK_EQ(notify_recv(r, rx), 1);
	CHECK(rx->msg.fdstore && !rx->msg.fdpoll);
	CHECK_EQ(strcmp(rx->msg.fdname, "pair"), 0);
	CHECK_EQ(rx->pid, getpid());
	CHECK_EQ(rx->uid, getuid());
	CHECK_EQ(rx->nfds, 2);
	CHECK(!probe_closed_elsewhere(&a)); /* ours now */
	CHECK(fcntl(rx->fds[0], F_GETFD) & FD_CLOEXEC);
	close(rx->fds[0]);
	close(rx->fds[1]);
	CHECK(probe_closed_elsewhere(&a) && probe_closed_elsewhere(&b));
	probe_free(&a);
	probe_free(&b);
	close(r);
	close(t);
	free(rx);
}

/* Fds without FDSTORE=1 are closed at once, the message still read. */
TEST(recv_closes_unwanted_fds)
{
	struct notify_rx *rx = malloc(sizeof *rx);
	struct probe p = probe_new();
	int r, t;

	CHECK(rx != NULL);
	dgram_pair(&r, &t);
	send_with(t, "READY=1\nFDNAME=x", 16, &p.w, 1);
	CHECK_EQ(notify_recv(r, rx), 1);
	CHECK(rx->msg.ready);
	CHECK_EQ(rx->nfds, 0);
	CHECK(probe_closed_elsewhere(&p));
	probe_free(&p);
	close(r);
	close(t);
	free(rx);
}

/* Dropped messages: their fds closed, the socket still usable. */
static void check_dropped(const void *buf, size_t len, int err)
{
	struct notify_rx *rx = malloc(sizeof *rx);
	struct probe p = probe_new();
	int r, t;

	CHECK(rx != NULL);
	dgram_pair(&r, &t);
	send_with(t, buf, len, &p.w, 1);
	CHECK_ERR(notify_recv(r, rx), err);
	CHECK_EQ(rx->nfds, 0);
	CHECK(probe_closed_elsewhere(&p));
	send_with(t, "READY=1", 7, NULL, 0);
	CHECK_EQ(notify_recv(r, rx), 1);
	CHECK(rx->msg.ready);
	probe_free(&p);
	close(r);
	close(t);
	free(rx);
}

TEST(recv_oversize_dropped)
{
	static char big[NOTIFY_MAX + 1];

	memset(big, '\n', sizeof big);
	memcpy(big, "FDSTORE=1", 9);
	check_dropped(big, sizeof big, EMSGSIZE);
}

TEST(recv_nul_dropped)
{
	check_dropped("FDSTORE=1\0FDNAME=x", 18, EBADMSG);
}

/* Exactly NOTIFY_MAX bytes is still a message. */
TEST(recv_largest)
{
	static char big[NOTIFY_MAX];
	struct notify_rx *rx = malloc(sizeof *rx);
	int r, t;

	CHECK(rx != NULL);
	memset(big, '\n', sizeof big);
	memcpy(big + sizeof big - 7, "READY=1", 7);
	dgram_pair(&r, &t);
	send_with(t, big, sizeof big, NULL, 0);
	CHECK_EQ(notify_recv(r, rx), 1);
	CHECK(rx->msg.ready);
	close(r);
	close(t);
	free(rx);
}

/* As many fds as one message can carry. */
TEST(recv_max_fds)
{
	struct notify_rx *rx = malloc(sizeof *rx);
	int fds[FDSHARE_MAX_FDS], r, t, null;

	CHECK(rx != NULL);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(null >= 0);
	for (size_t i = 0; i < FDSHARE_MAX_FDS; i++)
		fds[i] = null;
	dgram_pair(&r, &t);
	send_with(t, "FDSTORE=1", 9, fds, FDSHARE_MAX_FDS);
	CHECK_EQ(notify_recv(r, rx), 1);
	CHECK_EQ(rx->nfds, FDSHARE_MAX_FDS);
	CHECK_EQ(strcmp(notify_store_name(&rx->msg), "stored"), 0);
	for (size_t i = 0; i < rx->nfds; i++)
		close(rx->fds[i]);
	close(null);
	close(r);
	close(t);
	free(rx);
}

/* notify_socket_open: a path, credentials on, and a sender's pid. */
TEST(socket_open)
{
	char dir[] = "/tmp/fdshare-notify.XXXXXX", path[64];
	struct notify_rx *rx = malloc(sizeof *rx);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s, c, st;
	pid_t child;

	CHECK(rx != NULL && mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/notify", dir);
	s = notify_socket_open(path);
	CHECK(s >= 0);
	CHECK(fcntl(s, F_GETFL) & O_NONBLOCK);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		c = socket(AF_UNIX, SOCK_DGRAM, 0);
		_exit(sendto(c, "READY=1", 7, 0, (struct sockaddr *)&sun, sizeof sun) == 7 ? 0 : 1);
	}
	CHECK_EQ(t_wait(child), 0);
	CHECK_EQ(notify_recv(s, rx), 1);
	CHECK(rx->msg.ready);
	CHECK_EQ(rx->pid, child);
	st = notify_socket_open(path); /* taken */
	CHECK(st < 0 && errno == EADDRINUSE);
	CHECK_ERR(notify_socket_open(""), ENAMETOOLONG);
	close(s);
	unlink(path);
	rmdir(dir);
	free(rx);
}
