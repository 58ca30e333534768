/*
 * The holder's expiry, hang-up eviction and limits, end to end: each
 * refusal is an error reply, the connection stays usable where it can,
 * and the holder's own fd count comes back to where it was.
 */
#include "test_holder.h"

/* The holder's fd count once it has surely accepted c. */
static int settled_count(struct fdshare_holder *c, pid_t holder)
{
	pid_t pid;

	CHECK(fdshare_holder_ping(c, &pid) == 0);
	return th_count_fds(holder);
}

/* Poll until name is gone (ENOENT), at most 10 s. */
static int gone(struct fdshare_holder *c, const char *name)
{
	for (int i = 0; i < 1000; i++) {
		int *fds;
		size_t n;

		if (fdshare_fetch(c, name, &fds, &n, 0) < 0)
			return errno == ENOENT;
		for (size_t k = 0; k < n; k++)
			close(fds[k]);
		free(fds);
		th_sleep_ms(10);
	}
	return 0;
}

TEST(ttl_expiry_and_time_left)
{
	struct th h;
	struct fdshare_holder *c;
	struct fdshare_list l;
	int p[2], before;
	char b;

	th_start(&h, NULL);
	c = th_connect(&h);
	before = settled_count(c, h.pid);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(fdshare_store(c, "short", &p[1], 1, 300, 0) == 0);
	CHECK(fdshare_store(c, "long", &p[0], 1, 3600 * 1000, 0) == 0);
	close(p[1]);
	CHECK(fdshare_list(c, "short", &l) == 0);
	CHECK_EQ(l.n, 1);
	CHECK(l.v[0].left_ms >= 0 && l.v[0].left_ms <= 300);
	fdshare_list_free(&l);
	CHECK(gone(c, "short"));
	/* Closed for real: the pipe's only writer was the holder's copy. */
	CHECK_EQ(read(p[0], &b, 1), 0);
	CHECK(fdshare_list(c, NULL, &l) == 0);
	CHECK_EQ(l.n, 1);
	CHECK(l.v[0].left_ms > 3000 * 1000);
	fdshare_list_free(&l);
	CHECK(fdshare_remove(c, "long") == 0);
	CHECK_EQ(th_fds_settle(h.pid, before), before);
	close(p[0]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}

TEST(hangup_eviction)
{
	struct th h;
	struct fdshare_holder *c;
	int sv[2], p[2], fd;
	char path[256];

	th_start(&h, NULL);
	c = th_connect(&h);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(fdshare_store(c, "conn", &sv[0], 1, 0, FDSHARE_HOLD_DROP_ON_HANGUP) == 0);
	CHECK(fdshare_store(c, "kept", &sv[0], 1, 0, 0) == 0);
	close(sv[0]);
	th_sleep_ms(50);
	CHECK_EQ(th_list_count(c, NULL), 2); /* the peer is still there */
	close(sv[1]);                         /* the peer goes away */
	CHECK(gone(c, "conn"));
	CHECK_EQ(th_list_count(c, NULL), 1); /* without the flag: kept */
	/* A regular file cannot be watched: refused, not stored. */
	fd = t_tmpfile(path, sizeof path);
	CHECK(fd >= 0);
	CHECK_ERR(fdshare_store(c, "file", &fd, 1, 0, FDSHARE_HOLD_DROP_ON_HANGUP), EINVAL);
	close(fd);
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
	/* A pipe's write end reports EPOLLERR when the reader goes. */
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(fdshare_store(c, "pipe", &p[1], 1, 0, FDSHARE_HOLD_DROP_ON_HANGUP) == 0);
	close(p[1]);
	close(p[0]);
	CHECK(gone(c, "pipe"));
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}

TEST(max_fds_and_quota)
{
	const char *args[] = { "--max-fds", "4", "--quota", "3", "--mode", "0666", NULL };
	struct th h;
	struct fdshare_holder *c;
	int p[2], four[5];
	pid_t pid;

	th_start(&h, args);
	c = th_connect(&h);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	for (int i = 0; i < 5; i++)
		four[i] = p[0];
	CHECK_ERR(fdshare_store(c, "q", four, 5, 0, 0), EMFILE); /* over --max-fds */
	CHECK_ERR(fdshare_store(c, "q", four, 5, 0, 0), EMFILE); /* still usable */
	CHECK_ERR(fdshare_store(c, "q", four, 4, 0, 0), EDQUOT); /* over --quota */
	CHECK(fdshare_store(c, "q", four, 3, 0, 0) == 0);
	CHECK_ERR(fdshare_store(c, "r", four, 1, 0, 0), EDQUOT);  /* root's quota */
	/* Another uid has its own quota, but the total is full. */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct fdshare_holder *d;
		int st;

		th_become(1001);
		d = fdshare_holder_connect(h.sock);
		if (d == NULL)
			_exit(10);
		st = fdshare_store(d, "s", four, 2, 0, 0) == -1 && errno == EMFILE ? 0 : 11;
		if (st == 0 && fdshare_store(d, "s", four, 1, 0, 0) < 0)
			st = 12;
		fdshare_holder_close(d);
		_exit(st);
	}
	CHECK_EQ(t_wait(pid), 0);
	/* Replacing one's own entry frees what it held first. */
	CHECK(fdshare_store(c, "q", four, 3, 0, FDSHARE_HOLD_REPLACE) == 0);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}

/* A uid's ping on a new connection: 0, or the errno. */
static int ping_new(const struct th *h)
{
	struct fdshare_holder *c = fdshare_holder_connect(h->sock);
	int r;

	if (c == NULL)
		return errno;
	r = fdshare_holder_ping(c, NULL) == 0 ? 0 : errno;
	fdshare_holder_close(c);
	return r;
}

/*
 * As uid 1001: two connections, refused a third (before and after the
 * parent has done its part) until one is closed.
 */
static int uid_takes_two(const struct th *h, int tell, int hear)
{
	struct fdshare_holder *a, *b;
	char x;
	int r = EUSERS;

	alarm(30); /* the parent may fail and never answer */
	th_become(1001);
	a = fdshare_holder_connect(h->sock);
	b = fdshare_holder_connect(h->sock);
	if (a == NULL || b == NULL || fdshare_holder_ping(a, NULL) < 0 ||
	    fdshare_holder_ping(b, NULL) < 0)
		return 10;
	if (ping_new(h) != EUSERS)
		return 11;
	if (write(tell, "A", 1) != 1 || read(hear, &x, 1) != 1)
		return 12;
	if (ping_new(h) != EUSERS) /* still: what the parent did changes nothing */
		return 13;
	fdshare_holder_close(b);
	/* A place is free again (the holder notices the hang-up first). */
	for (int i = 0; i < 500 && r == EUSERS; i++) {
		r = ping_new(h);
		if (r == EUSERS)
			th_sleep_ms(10);
	}
	fdshare_holder_close(a);
	return r == 0 ? 0 : 14;
}

/* The uid-1001 client of the connection-limit tests, in a child. */
struct uid_child {
	pid_t pid;
	int up, down; /* its "A" (two connections held) comes up; "B" goes down */
};

/* Start it; back once it holds its two connections. */
static void uid_child_start(const struct th *h, struct uid_child *ch)
{
	int up[2], down[2];
	char x;

	CHECK(pipe2(up, O_CLOEXEC) == 0 && pipe2(down, O_CLOEXEC) == 0);
	ch->pid = fork();
	CHECK(ch->pid >= 0);
	if (ch->pid == 0)
		_exit(uid_takes_two(h, up[1], down[0]));
	close(up[1]);
	close(down[0]);
	ch->up = up[0];
	ch->down = down[1];
	if (read(ch->up, &x, 1) != 1)
		CHECK_EQ(t_wait(ch->pid), 0); /* it says where it failed */
}

/* Let it go on; it must end well. */
static void uid_child_finish(struct uid_child *ch)
{
	CHECK_EQ(write(ch->down, "B", 1), 1);
	CHECK_EQ(t_wait(ch->pid), 0);
	close(ch->up);
	close(ch->down);
}

/* A ping as uid on a new connection, from a child: 0, or the errno. */
static int ping_as(const struct th *h, uid_t uid)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		th_become(uid);
		_exit(ping_new(h));
	}
	return t_wait(pid);
}

TEST(max_clients_per_uid)
{
	const char *args[] = { "--max-clients", "8", "--max-clients-per-uid", "2",
	                       "--mode", "0666", NULL };
	struct fdshare_holder *root[3];
	struct uid_child a;
	struct th h;

	th_start(&h, args);
	uid_child_start(&h, &a);
	/* Another uid has its own share; root is not counted. */
	CHECK_EQ(ping_as(&h, 1002), 0);
	for (int i = 0; i < 3; i++) {
		root[i] = th_connect(&h);
		CHECK(fdshare_holder_ping(root[i], NULL) == 0);
	}
	uid_child_finish(&a);
	CHECK(th_log_has(&h, "uid 1001 has --max-clients-per-uid 2 connections"));
	for (int i = 0; i < 3; i++)
		fdshare_holder_close(root[i]);
	CHECK_EQ(th_stop(&h), 0);
}

#define ADMIN_CONNS 4 /* src/holder/loop.c: root's room past --max-clients */

/*
 * --max-clients: one more client is refused (EUSERS), but root and the
 * holder's user still get ADMIN_CONNS connections, so that a full holder
 * can be listed, emptied or taken over; one more than that is refused.
 */
TEST(max_clients_with_room_for_root)
{
	const char *args[] = { "--max-clients", "2", "--max-clients-per-uid", "2",
	                       "--mode", "0666", NULL };
	struct fdshare_holder *root[ADMIN_CONNS + 1];
	struct uid_child a;
	struct th h;

	th_start(&h, args);
	uid_child_start(&h, &a);
	CHECK_EQ(ping_as(&h, 1002), EUSERS);
	for (int i = 0; i < ADMIN_CONNS; i++) {
		root[i] = th_connect(&h);
		CHECK(fdshare_holder_ping(root[i], NULL) == 0);
	}
	root[ADMIN_CONNS] = th_connect(&h);
	CHECK_ERR(fdshare_holder_ping(root[ADMIN_CONNS], NULL), EUSERS);
	for (int i = 0; i <= ADMIN_CONNS; i++)
		fdshare_holder_close(root[i]);
	CHECK(th_log_has(&h, "--max-clients 2 reached"));
	uid_child_finish(&a);
	CHECK_EQ(th_stop(&h), 0);
}

TEST(max_request)
{
	const char *args[] = { "--max-request", "200", NULL };
	struct th h;
	struct fdshare_holder *c;
	struct fdshare_store_item items[20];
	char names[20][16];
	int p[2], before;
	pid_t pid;

	th_start(&h, args);
	c = th_connect(&h);
	before = settled_count(c, h.pid);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof names[i], "name-%02d", i);
		items[i] = (struct fdshare_store_item){ names[i], p, 1, 0, 0 };
	}
	CHECK_ERR(fdshare_store_many(c, items, 20), EMSGSIZE);
	CHECK_EQ(th_fds_settle(h.pid, before), before); /* the 20 fds closed */
	CHECK(fdshare_holder_ping(c, &pid) == 0);       /* the same connection */
	CHECK(fdshare_store_many(c, items, 2) == 0);
	/* A big one (2 MiB) is read to its end and dropped too. */
	{
		size_t big = 2 * 1024 * 1024;
		char *junk = calloc(1, big);
		int s = th_raw_connect(h.sock);
		struct fdshare_msg m;

		CHECK(s >= 0);
		CHECK(junk != NULL);
		CHECK(fdshare_msg_send(s, 1, junk, big, p, 2) == 0);
		free(junk);
		CHECK_EQ(fdshare_msg_recv(s, &m), 1);
		CHECK(m.len >= 8 && ((unsigned char *)m.data)[0] == 8 /* EMSGSIZE */);
		fdshare_msg_free(&m);
		CHECK(fdshare_msg_send(s, 9, NULL, 0, NULL, 0) == 0); /* PING */
		CHECK_EQ(fdshare_msg_recv(s, &m), 1);
		CHECK(m.len >= 8 && ((unsigned char *)m.data)[0] == 0);
		fdshare_msg_free(&m);
		close(s);
	}
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}

/* The first hdr_bytes of a header announcing a STORE of len bytes and
 * nfds fds (none or 2), with the fds. */
static void half_request(int s, int fd, uint32_t len, uint32_t nfds, size_t hdr_bytes)
{
	unsigned char h[20] = { 'F', 'D', 'S', 'H', 1, 0, 0, 0, 1, 0, 0, 0 };
	int fds[2] = { fd, fd };

	put_le32(h + 12, len);
	put_le32(h + 16, nfds);
	CHECK_EQ(fdshare_send(s, h, hdr_bytes, fds, nfds ? 2 : 0, 0), (ssize_t)hdr_bytes);
}

TEST(timeout_drops_half_request_only)
{
	const char *args[] = { "--timeout", "300", NULL };
	struct th h;
	struct fdshare_holder *c;
	int s, p[2], before;
	char b;
	pid_t pid;

	th_start(&h, args);
	c = th_connect(&h);
	before = settled_count(c, h.pid);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	s = th_raw_connect(h.sock);
	CHECK(s >= 0);
	half_request(s, p[0], 100, 2, 20); /* the header, 2 fds, no payload */
	/* Others are served meanwhile, at once. */
	for (int i = 0; i < 20; i++)
		CHECK(fdshare_holder_ping(c, &pid) == 0);
	/* Then the half request's connection is closed, its fds with it. */
	{
		struct pollfd pf = { .fd = s, .events = POLLIN };

		CHECK_EQ(poll(&pf, 1, 10000), 1);
		CHECK_EQ(read(s, &b, 1), 0);
	}
	close(s);
	CHECK_EQ(th_fds_settle(h.pid, before), before);
	/* A header cut in the middle counts as a half request too. */
	s = th_raw_connect(h.sock);
	CHECK(s >= 0);
	half_request(s, p[0], 0, 0, 7);
	{
		struct pollfd pf = { .fd = s, .events = POLLIN };

		CHECK_EQ(poll(&pf, 1, 10000), 1);
		CHECK_EQ(read(s, &b, 1), 0);
	}
	close(s);
	/* An idle client with nothing in flight is not dropped. */
	th_sleep_ms(500);
	CHECK(fdshare_holder_ping(c, &pid) == 0);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}

TEST(killed_client_leaks_nothing)
{
	struct th h;
	struct fdshare_holder *c;
	int p[2], before, ready[2];

	th_start(&h, NULL);
	c = th_connect(&h);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(fdshare_store(c, "kept", p, 1, 0, 0) == 0);
	before = settled_count(c, h.pid);
	for (int round = 0; round < 5; round++) {
		pid_t pid;
		char x;

		CHECK(pipe2(ready, O_CLOEXEC) == 0);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			int s = th_raw_connect(h.sock);

			CHECK(s >= 0);
			/* Mid-request: the header and fds, a payload never sent. */
			half_request(s, p[1], 1000, 2, 20);
			if (write(ready[1], "x", 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		close(ready[1]);
		CHECK_EQ(read(ready[0], &x, 1), 1);
		close(ready[0]);
		th_sleep_ms(20);
		kill(pid, SIGKILL);
		CHECK_EQ(t_wait(pid), 128 + SIGKILL);
	}
	CHECK_EQ(th_fds_settle(h.pid, before), before);
	CHECK_EQ(th_list_count(c, NULL), 1);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}

TEST(garbage_is_refused_and_dropped)
{
	struct th h;
	struct fdshare_holder *c;
	int s, before;
	pid_t pid;
	char b[64];

	th_start(&h, NULL);
	c = th_connect(&h);
	before = settled_count(c, h.pid);
	s = th_raw_connect(h.sock);
	CHECK(s >= 0);
	memset(b, 'x', sizeof b);
	CHECK_EQ(write(s, b, sizeof b), (ssize_t)sizeof b);
	errno = 0;
	CHECK(read(s, b, sizeof b) == 0 || errno == ECONNRESET); /* bad magic: hung up */
	close(s);
	/* An unknown request type gets an error reply. */
	s = th_raw_connect(h.sock);
	CHECK(s >= 0);
	{
		struct fdshare_msg m;

		CHECK(fdshare_msg_send(s, 999, NULL, 0, NULL, 0) == 0);
		CHECK_EQ(fdshare_msg_recv(s, &m), 1);
		CHECK(m.len >= 8 && ((unsigned char *)m.data)[0] == 12 /* HP_ENOTSUP */);
		fdshare_msg_free(&m);
	}
	close(s);
	CHECK(fdshare_holder_ping(c, &pid) == 0);
	fdshare_holder_close(c);
	CHECK_EQ(th_fds_settle(h.pid, before - 1), before - 1); /* c's socket */
	CHECK_EQ(th_stop(&h), 0);
}

TEST(timeout_drops_client_not_reading)
{
	const char *args[] = { "--timeout", "300", NULL };
	struct th h;
	struct fdshare_holder *c;
	unsigned char ping[20] = { 'F', 'D', 'S', 'H', 1, 0, 0, 0, 9 };
	struct pollfd pf;
	int s, before, sent = 0;
	pid_t pid;

	th_start(&h, args);
	c = th_connect(&h);
	before = settled_count(c, h.pid);
	s = th_raw_connect(h.sock);
	CHECK(s >= 0);
	/*
	 * Requests, never a reply read, until the holder stops taking them
	 * (its replies to us fill up): 200 ms without room to send.
	 */
	for (;;) {
		pf = (struct pollfd){ .fd = s, .events = POLLOUT };
		if (send(s, ping, sizeof ping, MSG_DONTWAIT) == sizeof ping) {
			CHECK(++sent < 1000000);
			continue;
		}
		CHECK(errno == EAGAIN);
		if (poll(&pf, 1, 200) == 0 || (pf.revents & (POLLHUP | POLLERR)))
			break;
	}
	CHECK(fdshare_holder_ping(c, &pid) == 0); /* the others are served */
	pf = (struct pollfd){ .fd = s, .events = POLLIN };
	for (int i = 0; i < 1000 && !(pf.revents & POLLHUP); i++) {
		th_sleep_ms(10); /* replies wait unread: poll returns at once */
		CHECK(poll(&pf, 1, 0) >= 0);
	}
	CHECK(pf.revents & POLLHUP);
	close(s);
	CHECK_EQ(th_fds_settle(h.pid, before), before);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}
