/*
 * The holder under load: 50 concurrent clients with 1,000 operations
 * each, a --takeover in the middle of such a load (nothing lost, no
 * request failed), and 100,000 held fds (handed over too).
 */
#include <sys/socket.h>

#include "test_holder.h"

#define CLIENTS 50
#define OPS 1000

/* A child's work: OPS operations (store, then fetch with remove), each
 * checked: the fd fetched is the one stored.  Exit code: 0 or which step. */
static int client_loop(const char *sock, int id, int stop_fd)
{
	struct fdshare_holder *c = fdshare_holder_connect(sock);
	int p[2], rounds = 0;

	if (c == NULL || pipe2(p, O_CLOEXEC) < 0)
		return 10;
	for (int k = 0;; k++) {
		char name[32];
		int *fds;
		size_t n;

		if (stop_fd < 0 && k == OPS / 2)
			break;
		if (stop_fd >= 0) {
			struct pollfd pf = { .fd = stop_fd, .events = POLLIN };

			if (poll(&pf, 1, 0) == 1 && rounds > 0)
				break;
		}
		snprintf(name, sizeof name, "c%d-%d", id, k);
		if (fdshare_store(c, name, &p[k & 1], 1, 0, 0) < 0) {
			fprintf(stderr, "client %d: store %s: %s\n", id, name, strerror(errno));
			return 11;
		}
		if (fdshare_fetch(c, name, &fds, &n, FDSHARE_FETCH_REMOVE) < 0) {
			fprintf(stderr, "client %d: fetch %s: %s\n", id, name, strerror(errno));
			return 12;
		}
		if (n != 1 || !th_same_file(fds[0], p[k & 1]))
			return 13;
		close(fds[0]);
		free(fds);
		rounds++;
	}
	fdshare_holder_close(c);
	close(p[0]);
	close(p[1]);
	return 0;
}

/* stop[0]: the loop ends when it reports a hang-up (-1: after OPS). */
static pid_t spawn_client(const char *sock, int id, const int *stop)
{
	pid_t pid = fork();
	int stop_fd = stop ? stop[0] : -1;

	CHECK(pid >= 0);
	if (pid == 0) {
		alarm(120);
		if (stop)
			close(stop[1]); /* else it would never hang up */
		_exit(client_loop(sock, id, stop_fd));
	}
	return pid;
}

TEST(fifty_clients_thousand_ops)
{
	struct th h;
	struct fdshare_holder *c;
	pid_t pids[CLIENTS], pid;
	int before;

	th_start(&h, NULL);
	c = th_connect(&h);
	CHECK(fdshare_holder_ping(c, &pid) == 0);
	before = th_count_fds(h.pid);
	for (int i = 0; i < CLIENTS; i++)
		pids[i] = spawn_client(h.sock, i, NULL);
	for (int i = 0; i < CLIENTS; i++)
		CHECK_EQ(t_wait(pids[i]), 0);
	CHECK_EQ(th_list_count(c, NULL), 0);
	CHECK_EQ(th_fds_settle(h.pid, before), before);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}

/* Wait for pid to exit, at most ms; its status, or -1. */
static int wait_exit(pid_t pid, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		th_sleep_ms(10);
	}
	return -1;
}

/* Store n names prefix-0 ... with fd, in batches of up to 1,000. */
static void store_names(struct fdshare_holder *c, const char *prefix, int n, int fd,
                        int flags, uint64_t ttl)
{
	static struct fdshare_store_item items[1000];
	static char names[1000][32];

	for (int done = 0; done < n;) {
		int k = n - done < 1000 ? n - done : 1000;

		for (int i = 0; i < k; i++) {
			snprintf(names[i], sizeof names[i], "%s-%d", prefix, done + i);
			items[i] = (struct fdshare_store_item){ names[i], &fd, 1, ttl, flags };
		}
		CHECK(fdshare_store_many(c, items, (size_t)k) == 0);
		done += k;
	}
}

static void remove_names(struct fdshare_holder *c, const char *prefix, int n)
{
	static const char *v[1000];
	static char names[1000][32];

	for (int done = 0; done < n;) {
		int k = n - done < 1000 ? n - done : 1000;

		for (int i = 0; i < k; i++) {
			snprintf(names[i], sizeof names[i], "%s-%d", prefix, done + i);
			v[i] = names[i];
		}
		CHECK(fdshare_remove_many(c, v, (size_t)k) == 0);
		done += k;
	}
}

static void check_fetch(struct fdshare_holder *c, const char *name, int like)
{
	int *fds;
	size_t n;

	CHECK(fdshare_fetch(c, name, &fds, &n, 0) == 0);
	CHECK(n == 1 && th_same_file(fds[0], like));
	close(fds[0]);
	free(fds);
}

/* B takes over from A on A's path; A must exit 0. */
static void take_over(struct th *a, struct th *b, rlim_t nofile)
{
	const char *args[] = { "--takeover", NULL };

	*b = *a;
	b->pid = th_spawn(b, args, nofile);
	CHECK_EQ(wait_exit(a->pid, 30000), 0);
	th_track(a, 0);
	th_track(b, 1);
}

TEST(takeover_keeps_everything)
{
	struct th a, b;
	struct fdshare_holder *c;
	struct fdshare_list l;
	int p[2], sv[2];
	pid_t pid;

	th_start(&a, NULL);
	c = th_connect(&a);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	store_names(c, "pre", 300, p[0], 0, 0);
	CHECK(fdshare_store(c, "ttl", &p[1], 1, 3600 * 1000, 0) == 0);
	CHECK(fdshare_store(c, "hup", &sv[0], 1, 0, FDSHARE_HOLD_DROP_ON_HANGUP) == 0);
	close(sv[0]);
	take_over(&a, &b, 0);
	/* The same connection carries on with the new holder. */
	CHECK(fdshare_holder_ping(c, &pid) == 0);
	CHECK_EQ(pid, b.pid);
	CHECK_EQ(th_list_count(c, "pre"), 300);
	check_fetch(c, "pre-299", p[0]);
	CHECK(fdshare_list(c, "ttl", &l) == 0);
	CHECK(l.n == 1 && l.v[0].left_ms > 3000 * 1000 && l.v[0].age_ms < 3000 * 1000);
	fdshare_list_free(&l);
	/* The hang-up watch was carried over too. */
	CHECK_EQ(th_list_count(c, "hup"), 1);
	close(sv[1]);
	for (int i = 0; i < 500 && th_list_count(c, "hup") != 0; i++)
		th_sleep_ms(10);
	CHECK_EQ(th_list_count(c, "hup"), 0);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&b), 0);
}

TEST(takeover_under_load_loses_nothing)
{
	enum { LOADERS = 10 };
	struct th a, b;
	struct fdshare_holder *c;
	pid_t pids[LOADERS];
	int p[2], stop[2];

	th_start(&a, NULL);
	c = th_connect(&a);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	store_names(c, "pre", 500, p[0], 0, 0);
	CHECK(pipe2(stop, O_CLOEXEC) == 0);
	for (int i = 0; i < LOADERS; i++)
		pids[i] = spawn_client(a.sock, i, stop);
	th_sleep_ms(200); /* the load is on */
	take_over(&a, &b, 0);
	th_sleep_ms(200); /* and goes on against the new holder */
	close(stop[1]);
	for (int i = 0; i < LOADERS; i++)
		CHECK_EQ(t_wait(pids[i]), 0);
	close(stop[0]);
	CHECK_EQ(th_list_count(c, "pre"), 500);
	CHECK_EQ(th_list_count(c, "c"), 0); /* every store was fetched back */
	check_fetch(c, "pre-0", p[0]);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&b), 0);
}

/* Whether a process may raise RLIMIT_NOFILE to n (root without
 * CAP_SYS_RESOURCE, in a container, may not). */
static int can_raise(rlim_t n)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { n, n };

		_exit(setrlimit(RLIMIT_NOFILE, &rl) == 0 ? 0 : 1);
	}
	return t_wait(pid) == 0;
}

/*
 * 100,000 held fds, stored in batches of 1,000 names, then handed over
 * (more than one frame of dump).  Where the hard limit cannot be raised
 * that far, as many as it allows (the report says so on stderr).
 */
TEST(hundred_thousand_fds)
{
	static char maxfds[32];
	const char *args[] = { "--max-fds", maxfds, NULL };
	rlim_t nofile = 100000 + 3000;
	struct rlimit rl;
	struct th a, b;
	struct fdshare_holder *c;
	int p[2], base, N = 100000;
	pid_t pid;

	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (!can_raise(nofile)) {
		nofile = rl.rlim_max;
		N = (int)(rl.rlim_max > 5000 ? (rl.rlim_max - 3000) / 1000 * 1000 : 0);
		if (N < 1000)
			t_skip("RLIMIT_NOFILE hard limit %llu cannot be raised",
			       (unsigned long long)rl.rlim_max);
		fprintf(stderr, "hundred_thousand_fds: the hard RLIMIT_NOFILE is %llu and "
		        "cannot be raised here: testing %d fds\n",
		        (unsigned long long)rl.rlim_max, N);
	}
	snprintf(maxfds, sizeof maxfds, "%d", N);
	th_start_nofile(&a, args, nofile);
	c = th_connect(&a);
	CHECK(fdshare_holder_ping(c, &pid) == 0);
	base = th_count_fds(a.pid);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	store_names(c, "n", N, p[0], 0, 0);
	CHECK_EQ(th_count_fds(a.pid), base + N);
	{
		int one = p[1];

		CHECK_ERR(fdshare_store(c, "over", &one, 1, 0, 0), EMFILE);
	}
	check_fetch(c, "n-0", p[0]);
	{
		char last[32];

		snprintf(last, sizeof last, "n-%d", N - 1);
		check_fetch(c, last, p[0]);
	}
	/* The hand-over of 100,000 fds takes more than one frame. */
	take_over(&a, &b, nofile);
	CHECK(fdshare_holder_ping(c, &pid) == 0);
	CHECK(th_count_fds(b.pid) >= N);
	check_fetch(c, "n-543", p[0]);
	remove_names(c, "n", N);
	CHECK(th_count_fds(b.pid) < 100);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&b), 0);
}

/* A bare connection, checked. */
static int raw_connect(const char *path)
{
	int s = th_raw_connect(path);

	CHECK(s >= 0);
	return s;
}

static uint32_t code_of(const struct fdshare_msg *m)
{
	CHECK(m->len >= 8);
	return get_le32(m->data);
}

/* A new holder that dies after the dump: the old one thaws, loses nothing,
 * and drops an entry that hung up while it was frozen. */
TEST(takeover_abandoned)
{
	struct th a;
	struct fdshare_holder *c;
	struct fdshare_msg m;
	int s, p[2], sv[2];
	pid_t pid;

	th_start(&a, NULL);
	c = th_connect(&a);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	store_names(c, "pre", 10, p[0], 0, 0);
	CHECK(fdshare_store(c, "hup", &sv[0], 1, 0, FDSHARE_HOLD_DROP_ON_HANGUP) == 0);
	close(sv[0]);
	s = raw_connect(a.sock);
	CHECK(fdshare_msg_send(s, 7 /* TAKEOVER */, NULL, 0, NULL, 0) == 0);
	CHECK_EQ(fdshare_msg_recv(s, &m), 1);
	CHECK_EQ(m.type, 0x80000005u); /* a DUMP reply */
	CHECK_EQ(code_of(&m), 0);
	CHECK_EQ(m.nfds, 11);
	fdshare_msg_free(&m);
	close(sv[1]); /* hangs up while the holder is frozen */
	{
		/* Frozen: another client is told "moved" (raw, no retry). */
		int r = raw_connect(a.sock);

		CHECK(fdshare_msg_send(r, 9 /* PING */, NULL, 0, NULL, 0) == 0);
		CHECK_EQ(fdshare_msg_recv(r, &m), 1);
		CHECK_EQ(code_of(&m), 10 /* moved */);
		fdshare_msg_free(&m);
		close(r);
	}
	close(s); /* the would-be new holder goes away */
	CHECK(fdshare_holder_ping(c, &pid) == 0); /* retried until thawed */
	CHECK_EQ(pid, a.pid);
	CHECK_EQ(th_list_count(c, "pre"), 10);
	for (int i = 0; i < 500 && th_list_count(c, "hup") != 0; i++)
		th_sleep_ms(10);
	CHECK_EQ(th_list_count(c, "hup"), 0);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&a), 0);
}

/* DUMP from one holder, RESTORE into another; both for root only. */
TEST(dump_and_restore)
{
	const char *args[] = { "--mode", "0666", NULL };
	struct th a, b;
	struct fdshare_holder *c;
	struct fdshare_msg m;
	int s, p[2];
	pid_t pid;

	th_start(&a, args);
	th_start(&b, NULL);
	c = th_connect(&a);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	store_names(c, "d", 5, p[0], 0, 60000);
	s = raw_connect(a.sock);
	CHECK(fdshare_msg_send(s, 5 /* DUMP */, NULL, 0, NULL, 0) == 0);
	CHECK_EQ(fdshare_msg_recv(s, &m), 1);
	close(s);
	CHECK_EQ(code_of(&m), 0);
	CHECK_EQ(m.nfds, 5);
	/* The body after code, index and more is a RESTORE payload. */
	s = raw_connect(b.sock);
	CHECK(fdshare_msg_send(s, 6 /* RESTORE */, (char *)m.data + 12, m.len - 12,
	                       m.fds, m.nfds) == 0);
	fdshare_msg_free(&m);
	CHECK_EQ(fdshare_msg_recv(s, &m), 1);
	CHECK_EQ(code_of(&m), 0);
	fdshare_msg_free(&m);
	close(s);
	fdshare_holder_close(c);
	c = th_connect(&b);
	CHECK_EQ(th_list_count(c, "d"), 5);
	check_fetch(c, "d-4", p[0]);
	fdshare_holder_close(c);
	/* Another uid may not dump. */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		th_become(1001);
		s = raw_connect(a.sock);
		if (fdshare_msg_send(s, 5, NULL, 0, NULL, 0) < 0 || fdshare_msg_recv(s, &m) != 1)
			_exit(10);
		_exit(code_of(&m) == 3 /* EACCES */ && m.nfds == 0 ? 0 : 11);
	}
	CHECK_EQ(t_wait(pid), 0);
	close(p[0]);
	close(p[1]);
	CHECK_EQ(th_stop(&b), 0);
	CHECK_EQ(th_stop(&a), 0);
}
