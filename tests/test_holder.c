/*
 * The holder, end to end through the real daemon: store, fetch, remove,
 * list, batches, names, replace/append, SIGTERM, stale and live sockets
 * (access control and the rules file: test_holder_rules.c).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include "test_holder.h"

TEST(store_fetch_remove_list)
{
	struct th h;
	struct fdshare_holder *c;
	struct fdshare_list l;
	struct fdshare_fdinfo info;
	int p[2], *fds;
	size_t n;
	char buf[8];

	th_start(&h, NULL);
	c = th_connect(&h);
	th_pipe(p);
	CHECK(fdshare_store(c, "web", &p[1], 1, 0, 0) == 0);
	close(p[1]);
	CHECK(fdshare_list(c, NULL, &l) == 0);
	CHECK_EQ(l.n, 1);
	CHECK(strcmp(l.v[0].name, "web") == 0);
	CHECK_EQ(l.v[0].owner, getuid());
	CHECK_EQ(l.v[0].nfds, 1);
	CHECK_EQ(l.v[0].left_ms, -1);
	CHECK(fdshare_list_fdinfo(&l, 0, 0, &info) == 0);
	CHECK_EQ(info.kind, FDSHARE_KIND_PIPE);
	CHECK_EQ(info.pid, h.pid);
	fdshare_list_free(&l);

	/* The same open file: a write through the fetched fd reaches p[0]. */
	CHECK(fdshare_fetch(c, "web", &fds, &n, 0) == 0);
	CHECK_EQ(n, 1);
	CHECK(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	CHECK_EQ(write(fds[0], "hi", 2), 2);
	CHECK_EQ(read(p[0], buf, sizeof buf), 2);
	close(fds[0]);
	free(fds);

	CHECK(fdshare_remove(c, "web") == 0);
	CHECK_ERR(fdshare_remove(c, "web"), ENOENT);
	CHECK_ERR(fdshare_fetch(c, "web", &fds, &n, 0), ENOENT);
	CHECK_EQ(th_list_count(c, NULL), 0);
	/* The holder's copy is gone: the pipe has no writer left. */
	CHECK_EQ(read(p[0], buf, sizeof buf), 0);
	close(p[0]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}

TEST(fetch_remove_takes_it_out)
{
	struct th h;
	struct fdshare_holder *c;
	int p[2], *fds;
	size_t n;

	th_start(&h, NULL);
	c = th_connect(&h);
	th_pipe(p);
	CHECK(fdshare_store(c, "a", p, 2, 0, 0) == 0);
	CHECK(fdshare_fetch(c, "a", &fds, &n, FDSHARE_FETCH_REMOVE) == 0);
	CHECK_EQ(n, 2);
	CHECK(th_same_file(fds[0], p[0]) && th_same_file(fds[1], p[1]));
	close(fds[0]);
	close(fds[1]);
	free(fds);
	CHECK_ERR(fdshare_fetch(c, "a", &fds, &n, 0), ENOENT);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}

TEST(batches_all_or_nothing)
{
	struct th h;
	struct fdshare_holder *c;
	int p[2], q[2], *fds;
	const char *names[] = { "one", "two", "three" };
	const char *missing[] = { "one", "nope", "three" };
	size_t counts[3];
	struct fdshare_store_item items[3];

	th_start(&h, NULL);
	c = th_connect(&h);
	th_pipe(p);
	th_pipe(q);
	items[0] = (struct fdshare_store_item){ "one", p, 2, 0, 0 };
	items[1] = (struct fdshare_store_item){ "two", &q[0], 1, 0, 0 };
	items[2] = (struct fdshare_store_item){ "three", &q[1], 1, 0, 0 };
	CHECK(fdshare_store_many(c, items, 3) == 0);

	/* One name missing: an error naming it, and nothing removed. */
	CHECK_ERR(fdshare_fetch_many(c, missing, 3, FDSHARE_FETCH_REMOVE, &fds, counts),
	          ENOENT);
	CHECK_EQ(fdshare_holder_errindex(c), 1);
	CHECK_EQ(th_list_count(c, NULL), 3);

	CHECK(fdshare_fetch_many(c, names, 3, FDSHARE_FETCH_REMOVE, &fds, counts) == 0);
	CHECK(counts[0] == 2 && counts[1] == 1 && counts[2] == 1);
	CHECK(th_same_file(fds[0], p[0]) && th_same_file(fds[1], p[1]));
	CHECK(th_same_file(fds[2], q[0]) && th_same_file(fds[3], q[1]));
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	free(fds);
	CHECK_EQ(th_list_count(c, NULL), 0);

	/* A store batch with a taken name stores nothing. */
	CHECK(fdshare_store(c, "two", p, 1, 0, 0) == 0);
	CHECK_ERR(fdshare_store_many(c, items, 3), EBUSY);
	CHECK_EQ(fdshare_holder_errindex(c), 1);
	CHECK_EQ(th_list_count(c, NULL), 1);
	/* The same name twice in one batch. */
	items[1].name = "one";
	CHECK(fdshare_remove(c, "two") == 0);
	CHECK_ERR(fdshare_store_many(c, items, 3), EINVAL);
	CHECK_EQ(fdshare_holder_errindex(c), 1); /* the second of the two */
	CHECK_EQ(th_list_count(c, NULL), 0);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}

TEST(replace_and_append)
{
	struct th h;
	struct fdshare_holder *c;
	int p[2], *fds;
	size_t n;

	th_start(&h, NULL);
	c = th_connect(&h);
	th_pipe(p);
	CHECK(fdshare_store(c, "x", &p[0], 1, 0, 0) == 0);
	CHECK_ERR(fdshare_store(c, "x", &p[1], 1, 0, 0), EBUSY);
	CHECK_ERR(fdshare_store(c, "x", &p[1], 1, 0,
	                        FDSHARE_HOLD_REPLACE | FDSHARE_HOLD_APPEND), EINVAL);
	CHECK(fdshare_store(c, "x", &p[1], 1, 0, FDSHARE_HOLD_REPLACE) == 0);
	CHECK(fdshare_fetch(c, "x", &fds, &n, 0) == 0);
	CHECK(n == 1 && th_same_file(fds[0], p[1]));
	close(fds[0]);
	free(fds);
	CHECK(fdshare_store(c, "x", &p[0], 1, 0, FDSHARE_HOLD_APPEND) == 0);
	CHECK(fdshare_fetch(c, "x", &fds, &n, FDSHARE_FETCH_REMOVE) == 0);
	CHECK(n == 2 && th_same_file(fds[0], p[1]) && th_same_file(fds[1], p[0]));
	close(fds[0]);
	close(fds[1]);
	free(fds);
	/* Append to nothing is a plain store. */
	CHECK(fdshare_store(c, "y", &p[0], 1, 0, FDSHARE_HOLD_APPEND) == 0);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}

/* A frame with a bad name, bypassing the client library's own check. */
static uint32_t raw_store(const char *sock, const char *name, size_t n, int fd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	unsigned char b[300] = { 1, 0, 0, 0 }; /* count 1 */
	struct fdshare_msg m;
	uint32_t code;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t len = 4;

	strcpy(sun.sun_path, sock);
	CHECK(connect(s, (struct sockaddr *)&sun, sizeof sun) == 0);
	memset(b + len, 0, 16); /* flags, nfds, ttl */
	b[len + 4] = 1;
	len += 16;
	b[len++] = (unsigned char)n;
	memcpy(b + len, name, n);
	len += n;
	CHECK(fdshare_msg_send(s, 1, b, len, &fd, 1) == 0);
	CHECK_EQ(fdshare_msg_recv(s, &m), 1);
	CHECK(m.len >= 8);
	code = (uint32_t)((unsigned char *)m.data)[0];
	fdshare_msg_free(&m);
	close(s);
	return code;
}

TEST(names_refused)
{
	struct th h;
	struct fdshare_holder *c;
	char big[300];
	int before;

	th_start(&h, NULL);
	c = th_connect(&h);
	memset(big, 'a', sizeof big);
	big[256] = '\0';
	CHECK_ERR(fdshare_store(c, "a:b", (int[]){ 0 }, 1, 0, 0), EINVAL);
	CHECK_ERR(fdshare_store(c, "a b", (int[]){ 0 }, 1, 0, 0), EINVAL);
	CHECK_ERR(fdshare_store(c, "a\tb", (int[]){ 0 }, 1, 0, 0), EINVAL);
	CHECK_ERR(fdshare_store(c, "", (int[]){ 0 }, 1, 0, 0), EINVAL);
	CHECK_ERR(fdshare_store(c, big, (int[]){ 0 }, 1, 0, 0), EINVAL);
	CHECK_ERR(fdshare_store(c, "caf\xc3\xa9", (int[]){ 0 }, 1, 0, 0), EINVAL);
	big[255] = '\0';
	CHECK(fdshare_store(c, big, (int[]){ 0 }, 1, 0, 0) == 0); /* 255: fine */
	/* The daemon refuses them too, and closes the fd it got at once. */
	before = th_count_fds(h.pid);
	CHECK_EQ(raw_store(h.sock, "a:b", 3, 0), 5 /* HP_EINVAL */);
	CHECK_EQ(raw_store(h.sock, "a b", 3, 0), 5);
	CHECK_EQ(raw_store(h.sock, "", 0, 0), 5);
	CHECK_EQ(th_fds_settle(h.pid, before), before);
	CHECK_EQ(th_list_count(c, NULL), 1);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}

TEST(stale_replaced_live_refused)
{
	struct th h, h2;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct fdshare_holder *c;
	pid_t pid;
	int s;

	th_start(&h, NULL);
	CHECK_EQ(th_stop(&h), 0);
	/* A stale socket file: bound, then its listener gone. */
	CHECK(mkdir(h.dir, 0755) == 0);
	strcpy(sun.sun_path, h.sock);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(bind(s, (struct sockaddr *)&sun, sizeof sun) == 0);
	close(s);
	h.pid = th_spawn(&h, NULL, 0);
	c = th_connect(&h);
	CHECK(fdshare_holder_ping(c, &pid) == 0);
	CHECK_EQ(pid, h.pid);
	/* A second holder on the same live path refuses to start. */
	h2 = h;
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		execl(th_fdshare(), "fdshare", "holder", "--socket", h2.sock, (char *)NULL);
		_exit(127);
	}
	CHECK_EQ(t_wait(pid), 1);
	CHECK(fdshare_holder_ping(c, &pid) == 0); /* the first one still serves */
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}

TEST(sigterm_exits_zero_and_removes_socket)
{
	struct th h;
	struct fdshare_holder *c;
	char sock[128];
	int p[2];

	th_start(&h, NULL);
	c = th_connect(&h);
	th_pipe(p);
	CHECK(fdshare_store(c, "a", p, 2, 0, 0) == 0);
	close(p[1]);
	strcpy(sock, h.sock);
	fdshare_holder_close(c);
	kill(h.pid, SIGTERM);
	CHECK_EQ(t_wait(h.pid), 0);
	CHECK(access(sock, F_OK) < 0);
	/* It closed what it held: the pipe has no writer left. */
	{
		char b;

		CHECK_EQ(read(p[0], &b, 1), 0);
	}
	close(p[0]);
	th_cleanup(&h);
}
