/*
 * fdshare_peer, and two unrelated processes (siblings, not parent and
 * child) that meet on a socket path and pass descriptors.
 */
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdshare.h"
#include "t.h"

/* The "Pid:" line of /proc/self/fdinfo/PIDFD: the pid it refers to, -1 gone. */
static long pidfd_pid(int pidfd)
{
	char path[64], line[256];
	long pid = -2;
	FILE *f;

	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
	f = fopen(path, "re");
	CHECK(f != NULL);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "Pid:", 4) == 0)
			pid = strtol(line + 4, NULL, 10);
	fclose(f);
	return pid;
}

static int has_cloexec(int fd)
{
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

/* A socket path in a fresh directory that other uids may reach. */
struct place {
	char dir[64];
	struct sockaddr_un sa;
};

static void place_make(struct place *p)
{
	snprintf(p->dir, sizeof p->dir, "/tmp/fdshare-peer.XXXXXX");
	CHECK(mkdtemp(p->dir) != NULL);
	CHECK(chmod(p->dir, 0755) == 0);
	memset(&p->sa, 0, sizeof p->sa);
	p->sa.sun_family = AF_UNIX;
	snprintf(p->sa.sun_path, sizeof p->sa.sun_path, "%s/sock", p->dir);
}

static void place_remove(struct place *p)
{
	unlink(p->sa.sun_path);
	CHECK(rmdir(p->dir) == 0);
}

static int place_listen(struct place *p)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(s >= 0);
	CHECK(bind(s, (struct sockaddr *)&p->sa, sizeof p->sa) == 0);
	CHECK(chmod(p->sa.sun_path, 0777) == 0);
	CHECK(listen(s, 4) == 0);
	return s;
}

static int place_connect(struct place *p)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(s >= 0);
	CHECK(connect(s, (struct sockaddr *)&p->sa, sizeof p->sa) == 0);
	return s;
}

/* accept, but give up after 10 s rather than hang on a dead connector. */
static int accept_bounded(int ls)
{
	struct pollfd pf = { .fd = ls, .events = POLLIN };

	CHECK_EQ(poll(&pf, 1, 10000), 1);
	return accept4(ls, NULL, NULL, SOCK_CLOEXEC);
}

static void become(uid_t uid, gid_t gid)
{
	CHECK(setgroups(0, NULL) == 0);
	CHECK(setresgid(gid, gid, gid) == 0);
	CHECK(setresuid(uid, uid, uid) == 0);
}

TEST(peer_is_the_child_that_made_the_socketpair)
{
	int chan[2], s = -1, done[2];
	size_t n = 1;
	struct fdshare_peer p;
	char c;
	pid_t pid;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan) == 0);
	CHECK(pipe2(done, O_CLOEXEC) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int sp[2];

		alarm(10);
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
		CHECK_EQ(fdshare_send(chan[0], "s", 1, &sp[0], 1, 0), 1);
		close(done[1]);
		CHECK_EQ(read(done[0], &c, 1), 0); /* stay alive until told */
		_exit(0);
	}
	close(done[0]);
	CHECK_EQ(fdshare_recv(chan[1], &c, 1, &s, &n, 0), 1);
	CHECK_EQ(n, 1);
	CHECK_EQ(fdshare_peer(s, &p), 0);
	CHECK_EQ(p.pid, pid);
	CHECK_EQ(p.uid, geteuid());
	CHECK_EQ(p.gid, getegid());
	CHECK(p.pidfd >= 0);
	CHECK(has_cloexec(p.pidfd));
	CHECK_EQ(pidfd_pid(p.pidfd), pid);
	close(p.pidfd);
	/* A socketpair's credentials are its creator's, whoever holds the ends. */
	CHECK_EQ(fdshare_peer(chan[1], &p), 0);
	CHECK_EQ(p.pid, getpid());
	CHECK(p.pidfd >= 0);
	CHECK_EQ(pidfd_pid(p.pidfd), getpid());
	close(p.pidfd);
	close(done[1]);
	CHECK_EQ(t_wait(pid), 0);
	close(s);
	close(chan[0]);
	close(chan[1]);
}

/* A child, as uid and gid (or ours if uid < 0), connects through a path. */
static void peer_over_path(long uid, long gid)
{
	struct place pl;
	struct fdshare_peer p;
	int ls, s, done[2];
	char c;
	pid_t pid;

	place_make(&pl);
	ls = place_listen(&pl);
	CHECK(pipe2(done, O_CLOEXEC) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		alarm(10);
		close(done[1]);
		if (uid >= 0)
			become((uid_t)uid, (gid_t)gid);
		s = place_connect(&pl);
		CHECK_EQ(read(done[0], &c, 1), 0);
		_exit(0);
	}
	close(done[0]);
	s = accept_bounded(ls);
	CHECK(s >= 0);
	CHECK_EQ(fdshare_peer(s, &p), 0);
	CHECK_EQ(p.pid, pid);
	CHECK_EQ(p.uid, uid >= 0 ? (uid_t)uid : geteuid());
	CHECK_EQ(p.gid, uid >= 0 ? (gid_t)gid : getegid());
	CHECK(p.pidfd >= 0);
	CHECK_EQ(pidfd_pid(p.pidfd), pid);
	close(p.pidfd);
	close(done[1]);
	CHECK_EQ(t_wait(pid), 0);
	close(s);
	close(ls);
	place_remove(&pl);
}

TEST(peer_over_a_path)
{
	peer_over_path(-1, -1);
}

TEST(peer_of_another_uid_over_a_path)
{
	if (geteuid() != 0)
		t_skip("needs root to connect as another uid");
	peer_over_path(1001, 1003);
}

TEST(peer_that_has_exited_still_has_credentials)
{
	struct place pl;
	struct fdshare_peer p;
	int ls, s;
	pid_t pid;

	place_make(&pl);
	ls = place_listen(&pl);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		alarm(10);
		place_connect(&pl);
		_exit(0);
	}
	s = accept_bounded(ls);
	CHECK(s >= 0);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(fdshare_peer(s, &p), 0);
	CHECK_EQ(p.pid, pid);
	CHECK_EQ(p.uid, geteuid());
	/* No pidfd, or one that knows its process is gone. */
	if (p.pidfd >= 0) {
		CHECK_EQ(pidfd_pid(p.pidfd), -1);
		close(p.pidfd);
	}
	close(s);
	close(ls);
	place_remove(&pl);
}

TEST(peer_of_a_non_socket_is_enotsock)
{
	struct fdshare_peer p;
	int fds[2];

	CHECK(pipe2(fds, O_CLOEXEC) == 0);
	CHECK_ERR(fdshare_peer(fds[0], &p), ENOTSOCK);
	CHECK_ERR(fdshare_peer(-1, &p), EBADF);
	close(fds[0]);
	close(fds[1]);
}

/* No peer at all: the kernel answers pid 0, uid and gid -1; not a peer. */
TEST(peer_of_an_unconnected_socket_is_enotconn)
{
	struct fdshare_peer p = { .pidfd = -1 };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r, e;

	CHECK(s >= 0);
	errno = 0;
	r = fdshare_peer(s, &p);
	e = errno;
	if (r == 0 && p.pidfd >= 0)
		close(p.pidfd);
	close(s);
	CHECK_EQ(r, -1);
	CHECK_EQ(e, ENOTCONN);
}

/*
 * Siblings: the receiver is forked first and listens on a path; then a
 * pipe is made and the sender forked with its write end, so the receiver
 * never had it.  The sender connects and passes the write end, once with
 * fdshare_send and once in a framed message with a second fd; the
 * receiver writes through each, naming the peer pid it saw.
 */
static void sibling_receive(struct place *pl, int ready)
{
	struct fdshare_peer p;
	struct fdshare_msg m;
	char buf[64];
	int ls, s, fd = -1;
	size_t n = 1;

	alarm(10);
	ls = place_listen(pl);
	CHECK_EQ(write(ready, "r", 1), 1);
	close(ready);
	s = accept_bounded(ls);
	CHECK(s >= 0);
	CHECK_EQ(fdshare_peer(s, &p), 0);
	if (p.pidfd >= 0)
		close(p.pidfd);
	CHECK_EQ(fdshare_recv(s, buf, 4, &fd, &n, 0), 4);
	CHECK(memcmp(buf, "pipe", 4) == 0 && n == 1);
	snprintf(buf, sizeof buf, "recv from %d;", (int)p.pid);
	CHECK_EQ(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
	close(fd);
	CHECK_EQ(fdshare_msg_recv(s, &m), 1);
	CHECK(m.type == 42 && m.len == 5 && memcmp(m.data, "frame", 5) == 0);
	CHECK_EQ(m.nfds, 2);
	snprintf(buf, sizeof buf, "msg from %d;", (int)p.pid);
	CHECK_EQ(write(m.fds[0], buf, strlen(buf)), (ssize_t)strlen(buf));
	CHECK_EQ(write(m.fds[1], "!", 1), 1);
	fdshare_msg_free(&m);
	CHECK_EQ(fdshare_msg_recv(s, &m), 0);
	_exit(0);
}

static void sibling_send(struct place *pl, int ready, int w)
{
	int s, two[2];
	char c;

	alarm(10);
	CHECK_EQ(read(ready, &c, 1), 1);
	s = place_connect(pl);
	CHECK_EQ(fdshare_send(s, "pipe", 4, &w, 1, 0), 4);
	two[0] = two[1] = w;
	CHECK_EQ(fdshare_msg_send(s, 42, "frame", 5, two, 2), 0);
	_exit(0);
}

TEST(siblings_meet_on_a_path_and_pass_a_pipe)
{
	struct place pl;
	int ready[2], out[2];
	pid_t rx, tx;
	char buf[128] = { 0 }, want[128];
	size_t got = 0;
	ssize_t n;

	place_make(&pl);
	CHECK(pipe2(ready, O_CLOEXEC) == 0);
	rx = fork();
	CHECK(rx >= 0);
	if (rx == 0) {
		close(ready[0]);
		sibling_receive(&pl, ready[1]);
	}
	close(ready[1]);
	CHECK(pipe2(out, O_CLOEXEC) == 0);
	tx = fork();
	CHECK(tx >= 0);
	if (tx == 0) {
		close(out[0]);
		sibling_send(&pl, ready[0], out[1]);
	}
	close(ready[0]);
	close(out[1]);
	/* End of file once both have exited: their alarms bound the wait. */
	while ((n = read(out[0], buf + got, sizeof buf - 1 - got)) > 0)
		got += (size_t)n;
	close(out[0]);
	CHECK_EQ(t_wait(rx), 0);
	CHECK_EQ(t_wait(tx), 0);
	snprintf(want, sizeof want, "recv from %d;msg from %d;!", (int)tx, (int)tx);
	CHECK(strcmp(buf, want) == 0);
	place_remove(&pl);
}
