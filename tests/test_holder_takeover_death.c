/*
 * A takeover whose new holder dies, or gives up, after it renamed a
 * socket of its own over a path of the old holder's, before TAKEOVER_DONE:
 * the old holder must carry on, reachable at both its paths, with every
 * entry (docs/fdshare-holder.8, HAND-OVER: "If the new holder dies before
 * step 3, the old one carries on").  The new holder that dies is played
 * here, frame by frame; the one that gives up is the real one.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include "test_holder.h"
#include "../src/lib/holder_proto.h"

/* The notify socket's directory: the main one is th_start's. */
static char nd_dir[64];

static void nd_remove(void)
{
	DIR *d;
	struct dirent *e;
	char path[sizeof nd_dir + 300];

	if (nd_dir[0] == '\0' || (d = opendir(nd_dir)) == NULL)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof path, "%s/%s", nd_dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(nd_dir);
	nd_dir[0] = '\0';
}

/* A holder with --notify-socket NSOCK in a directory of its own. */
static void start_with_notify(struct th *h, char *nsock, size_t size)
{
	static int registered;
	char dir[] = "/tmp/fdshare-tkd.XXXXXX";
	const char *args[] = { "--notify-socket", nsock, NULL };

	if (!registered) {
		atexit(nd_remove);
		registered = 1;
	}
	nd_remove();
	CHECK(mkdtemp(dir) != NULL);
	snprintf(nd_dir, sizeof nd_dir, "%s", dir);
	snprintf(nsock, size, "%s/n.sock", dir);
	th_start(h, args);
}

/* Be the new holder up to the dump: the connection, still open. */
static int take_dump(const struct th *h)
{
	struct timeval tv = { .tv_sec = 10 };
	int s = th_raw_connect(h->sock), more = 1;

	CHECK(s >= 0);
	CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	CHECK(fdshare_msg_send(s, HP_TAKEOVER, NULL, 0, NULL, 0) == 0);
	for (int i = 0; i < 100 && more; i++) {
		struct fdshare_msg m;

		CHECK(fdshare_msg_recv(s, &m) == 1);
		CHECK_EQ(m.type, HP_DUMP | HP_REPLY);
		CHECK(m.len >= 16);
		CHECK_EQ(get_le32(m.data), HP_OK);
		more = get_le32((unsigned char *)m.data + 8) != 0;
		fdshare_msg_free(&m); /* a dying holder's copies */
	}
	CHECK(!more);
	return s;
}

/* A socket of type bound at path.fake, renamed over path, closed: dead. */
static void dead_socket_over(const char *path, int type)
{
	struct sockaddr_un sun;
	char tmp[sizeof sun.sun_path];
	int s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	CHECK(s >= 0);
	snprintf(tmp, sizeof tmp, "%s.fake", path);
	CHECK(sockaddr_unix(tmp, &sun) == 0);
	CHECK(bind(s, (struct sockaddr *)&sun, sizeof sun) == 0);
	if (type == SOCK_STREAM)
		CHECK(listen(s, 16) == 0);
	CHECK(rename(tmp, path) == 0);
	close(s);
}

/* One FDSTORE=1 datagram to path, with fd. */
static int notify_store(const char *path, const char *name, int fd)
{
	char text[300];
	size_t len = (size_t)snprintf(text, sizeof text, "FDSTORE=1\nFDNAME=%s\nFDPOLL=0",
	                              name);

	return th_notify_send(path, text, len, &fd, 1);
}

/* name holds the open file of fd, at the holder on path (fetched, closed). */
static int holds(const char *path, const char *name, int fd)
{
	struct fdshare_holder *c = fdshare_holder_connect(path);
	int *fds = NULL, same = 0;
	size_t n = 0;

	if (c && fdshare_fetch(c, name, &fds, &n, 0) == 0) {
		same = n == 1 && th_same_file(fds[0], fd);
		close_fds(fds, n);
		free(fds);
	}
	fdshare_holder_close(c);
	return same;
}

/* Within 10 s, the holder on path serves name as fd's open file. */
static int holds_soon(const char *path, const char *name, int fd)
{
	for (int i = 0; i < 1000; i++) {
		if (holds(path, name, fd))
			return 1;
		th_sleep_ms(10);
	}
	return 0;
}

/* Within 10 s, a datagram to nsock stores fd under name in the holder. */
static int notify_reaches(const struct th *h, const char *nsock, const char *name, int fd)
{
	for (int i = 0; i < 1000; i++) {
		if (notify_store(nsock, name, fd) == 0 && holds_soon(h->sock, name, fd))
			return 1;
		th_sleep_ms(10);
	}
	return 0;
}

static void store_one(const struct th *h, const char *name, int fd)
{
	struct fdshare_holder *c = th_connect(h);

	CHECK(fdshare_store(c, name, &fd, 1, 0, 0) == 0);
	fdshare_holder_close(c);
}

static pid_t serving_pid(const struct th *h)
{
	struct fdshare_holder *c = fdshare_holder_connect(h->sock);
	pid_t pid = -1;

	if (c == NULL || fdshare_holder_ping(c, &pid) < 0)
		pid = -1;
	fdshare_holder_close(c);
	return pid;
}

/*
 * The new holder renamed its listening socket over the path, then died
 * before TAKEOVER_DONE: the old holder takes the path back (a dead
 * socket there), and serves every entry.
 */
TEST(new_holder_dies_after_taking_the_path)
{
	struct th h;
	int p[2], s;

	th_start(&h, NULL);
	th_pipe(p);
	store_one(&h, "kept", p[0]);
	s = take_dump(&h);
	dead_socket_over(h.sock, SOCK_STREAM);
	close(s); /* dead */
	CHECK(holds_soon(h.sock, "kept", p[0]));
	CHECK_EQ(serving_pid(&h), h.pid);
	CHECK(th_log_has(&h, "taken back"));
	close(p[0]);
	close(p[1]);
	CHECK_EQ(th_stop(&h), 0);
}

/*
 * The same with the notify socket, which a new holder takes first: the
 * path left dead, the old holder takes it back, and a datagram sent to it
 * while it was frozen is handled.
 */
TEST(new_holder_dies_after_taking_the_notify_path)
{
	char nsock[128];
	struct th h;
	int p[2], q[2], s;

	start_with_notify(&h, nsock, sizeof nsock);
	th_pipe(p);
	th_pipe(q);
	store_one(&h, "kept", p[0]);
	s = take_dump(&h);
	CHECK(notify_store(nsock, "frozen", q[0]) == 0); /* waits in the old socket */
	dead_socket_over(nsock, SOCK_DGRAM);
	close(s);
	CHECK(holds_soon(h.sock, "kept", p[0]));
	CHECK(holds_soon(h.sock, "frozen", q[0]));
	CHECK(notify_reaches(&h, nsock, "later", q[1]));
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	CHECK_EQ(th_stop(&h), 0);
	nd_remove();
}

/*
 * A real new holder (--takeover) that gives up after its notify socket
 * took that path: it cannot bind the main one (a directory sits at
 * PATH.PID).  It exits 1; the old holder carries on, reachable at both.
 */
TEST(new_holder_gives_up_after_taking_the_notify_path)
{
	char nsock[128], block[160];
	struct th h;
	int go[2], p[2], st = -1;
	pid_t pid;

	start_with_notify(&h, nsock, sizeof nsock);
	th_pipe(p);
	store_one(&h, "kept", p[0]);
	th_pipe(go);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char c;
		int log = open(h.log, O_WRONLY | O_APPEND | O_CLOEXEC);

		if (read(go[0], &c, 1) != 1 || log < 0 || dup2(log, 2) < 0)
			_exit(126);
		execl(th_fdshare(), th_fdshare(), "holder", "--takeover", "--socket", h.sock,
		      "--notify-socket", nsock, (char *)NULL);
		_exit(127);
	}
	close(go[0]);
	snprintf(block, sizeof block, "%s.%d", h.sock, (int)pid);
	CHECK(mkdir(block, 0700) == 0);
	CHECK(write(go[1], "x", 1) == 1);
	close(go[1]);
	for (int i = 0; i < 2000 && st == -1; i++) {
		int ws;

		if (waitpid(pid, &ws, WNOHANG) == pid)
			st = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
		else
			th_sleep_ms(10);
	}
	if (st == -1) {
		kill(pid, SIGKILL);
		t_wait(pid);
	}
	rmdir(block);
	CHECK_EQ(st, 1);
	CHECK(notify_reaches(&h, nsock, "later", p[1]));
	CHECK(holds(h.sock, "kept", p[0]));
	CHECK_EQ(serving_pid(&h), h.pid);
	close(p[0]);
	close(p[1]);
	CHECK_EQ(th_stop(&h), 0);
	nd_remove();
}
