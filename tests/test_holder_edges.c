/*
 * The holder and its client library at their edges: times to live at
 * the top of their range, entries and batches past what one frame can
 * carry, a RESTORE naming one entry twice, quotas when another uid's
 * entry grows; and a holder (a fake one here) that dies mid-reply, sends
 * garbage or more descriptors than its reply says.
 */
#include <ftw.h>
#include <stdint.h>
#include <sys/socket.h>

#include "test_holder.h"
/* The holder's code itself, for the tests that run it in this process. */
#include "../src/holder/acl.c"
#include "../src/holder/conn.c"
#include "../src/holder/list.c"
#include "../src/holder/loop.c"
#include "../src/holder/ops.c"
#include "../src/holder/reader.c"
#include "../src/holder/request.c"
#include "../src/holder/rules.c"
#include "../src/holder/store.c"
#include "../src/holder/takeover.c"
#include "../src/holder/uids.c"

/* What start.c and notify.c would give it: no rules file, no notify socket. */
int holder_load_rules(struct holder *h, int at_start)
{
	(void)h;
	(void)at_start;
	return 0;
}

void hnotify_event(struct holder *h)
{
	(void)h;
}

void hnotify_stop(struct holder *h)
{
	(void)h;
}

void hnotify_pause(struct holder *h, int pause)
{
	(void)h;
	(void)pause;
}

/* ---- helpers ---- */

static int raw(const struct th *h)
{
	int s = th_raw_connect(h->sock);

	CHECK(s >= 0);
	return s;
}

/* One request on a bare connection, its reply's code (and the reply). */
static uint32_t raw_call(int s, uint32_t type, const struct hp_out *o, const int *fds,
                         size_t nfds, struct fdshare_msg *m)
{
	uint32_t code;

	CHECK(!o->bad);
	CHECK(fdshare_msg_send(s, type, o->p, o->len, fds, nfds) == 0);
	CHECK_EQ(fdshare_msg_recv(s, m), 1);
	CHECK_EQ(m->type, type | HP_REPLY);
	CHECK(m->len >= 8);
	code = get_le32(m->data);
	return code;
}

static uint32_t raw_code(int s, uint32_t type, const struct hp_out *o, const int *fds,
                         size_t nfds)
{
	struct fdshare_msg m;
	uint32_t code = raw_call(s, type, o, fds, nfds, &m);

	fdshare_msg_free(&m);
	return code;
}

static void restore_item(struct hp_out *o, uint32_t nfds, uint32_t owner, const char *name)
{
	hp_put32(o, 0);
	hp_put32(o, nfds);
	hp_put64(o, 0);
	hp_put32(o, owner);
	hp_put64(o, 0);
	hp_putname(o, name, strlen(name));
}

/* A child's exit status within ms, or -1 (killed then). */
static int wait_bounded(pid_t pid, long ms)
{
	int st;

	for (long t = 0; t < ms; t += 10) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		th_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	t_wait(pid);
	return -1;
}

/* ---- times to live ---- */

/*
 * A TTL is a u64 of ms: the longest are "as good as never", not "at
 * once" (now + ttl overflowed) and not undefined behaviour in the holder.
 */
TEST(ttl_at_the_top_of_its_range)
{
	static const uint64_t ttls[] = { UINT64_MAX, (uint64_t)INT64_MAX,
	                                 (uint64_t)INT64_MAX + 1, UINT64_MAX / 1000 };
	struct fdshare_holder *c;
	struct fdshare_list l;
	struct th a;
	int p[2];

	th_start(&a, NULL);
	c = th_connect(&a);
	th_pipe(p);
	for (size_t i = 0; i < sizeof ttls / sizeof *ttls; i++) {
		char name[16];

		snprintf(name, sizeof name, "t%zu", i);
		CHECK(fdshare_store(c, name, &p[0], 1, ttls[i], 0) == 0);
		/* and an append that restarts it */
		CHECK(fdshare_store(c, name, &p[0], 1, ttls[i], FDSHARE_HOLD_APPEND) == 0);
	}
	th_sleep_ms(50); /* an expiry due now would have run */
	CHECK(fdshare_list(c, "t", &l) == 0);
	CHECK_EQ(l.n, sizeof ttls / sizeof *ttls);
	for (size_t i = 0; i < l.n; i++) {
		CHECK_EQ(l.v[i].nfds, 2);
		CHECK(l.v[i].left_ms > (int64_t)1000 * 3600 * 24 * 365);
	}
	fdshare_list_free(&l);
	CHECK(fdshare_holder_ping(c, NULL) == 0);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&a), 0);
}

/* The same through RESTORE (a dump of another holder, or a takeover). */
TEST(restore_ttl_at_the_top_of_its_range)
{
	struct hp_out o = { 0 };
	struct fdshare_list l;
	struct fdshare_holder *c;
	struct th a;
	int p[2], s;

	th_start(&a, NULL);
	th_pipe(p);
	s = raw(&a);
	hp_put32(&o, 1);
	hp_put32(&o, 0);
	hp_put32(&o, 1);
	hp_put64(&o, UINT64_MAX);
	hp_put32(&o, 0);
	hp_put64(&o, UINT64_MAX);
	hp_putname(&o, "r", 1);
	CHECK_EQ(raw_code(s, HP_RESTORE, &o, &p[0], 1), HP_OK);
	free(o.p);
	close(s);
	th_sleep_ms(50);
	c = th_connect(&a);
	CHECK(fdshare_list(c, "r", &l) == 0);
	CHECK_EQ(l.n, 1);
	CHECK(l.v[0].left_ms > (int64_t)1000 * 3600 * 24 * 365);
	fdshare_list_free(&l);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&a), 0);
}

/* ---- RESTORE ---- */

/*
 * A RESTORE that names an entry twice is refused whole, like a STORE:
 * two entries of one name would leave one unreachable, dumped twice, and
 * a takeover of that dump refused.
 */
TEST(restore_same_name_twice_refused)
{
	struct hp_out o = { 0 };
	struct fdshare_holder *c;
	struct th a, b;
	int p[2], fds[3], s, base;

	th_start(&a, NULL);
	th_pipe(p);
	c = th_connect(&a);
	CHECK(fdshare_holder_ping(c, NULL) == 0);
	base = th_count_fds(a.pid);
	s = raw(&a);
	hp_put32(&o, 3);
	restore_item(&o, 1, 0, "x");
	restore_item(&o, 1, 0, "y");
	restore_item(&o, 1, 0, "x");
	fds[0] = fds[1] = fds[2] = p[0];
	CHECK_EQ(raw_code(s, HP_RESTORE, &o, fds, 3), HP_EINVAL);
	free(o.p);
	close(s);
	CHECK_EQ(th_list_count(c, NULL), 0);
	CHECK_EQ(th_fds_settle(a.pid, base), base);
	/* and what is held can still be handed over */
	CHECK(fdshare_store(c, "x", &p[0], 1, 0, 0) == 0);
	b = a;
	{
		const char *args[] = { "--takeover", NULL };

		b.pid = th_spawn(&b, args, 0);
	}
	CHECK_EQ(wait_bounded(a.pid, 30000), 0);
	th_track(&a, 0);
	th_track(&b, 1);
	CHECK_EQ(th_list_count(c, NULL), 1);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&b), 0);
}

/* ---- entries and batches past one frame ---- */

/*
 * Tens of thousands of fds in one entry need an RLIMIT_NOFILE that CI may
 * not grant: these tests run the holder's own code in this process, with
 * entries that hold one fd many times over (what the store counts, not
 * what it opened), and talk to it over a socketpair.
 */
struct ih {
	struct holder h;
	struct conn *c;
	int sv[2], fake;
};

static void ih_start(struct ih *t)
{
	memset(t, 0, sizeof *t);
	t->h.lfd = t->h.sigfd = t->h.reserve_fd = t->h.nfd = -1;
	t->h.cf.max_fds = t->h.cf.quota = 1000000;
	t->h.cf.max_clients = t->h.cf.max_uid_clients = 16;
	t->h.cf.max_request = 1 << 20;
	t->h.self_uid = getuid();
	t->h.epfd = epoll_create1(EPOLL_CLOEXEC);
	CHECK(t->h.epfd >= 0);
	CHECK(store_init(&t->h.store) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, t->sv) == 0);
	t->c = conn_new(&t->h, t->sv[0]);
	CHECK(t->c != NULL);
	t->fake = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(t->fake >= 0);
}

/* An entry that holds t->fake n times. */
static void ih_entry(struct ih *t, const char *name, size_t n)
{
	struct entry *e = entry_new(name, strlen(name));

	CHECK(e != NULL && (e->fds = malloc(n * sizeof(int))) != NULL);
	for (size_t i = 0; i < n; i++)
		e->fds[i] = t->fake;
	e->nfds = n;
	e->created = mono_ms();
	CHECK(store_put(&t->h.store, e) == 0);
}

/* The fds the store holds that are not the fake one are closed. */
static void ih_stop(struct ih *t)
{
	struct store *s = &t->h.store;

	for (size_t b = 0; b < s->size; b++)
		for (struct entry *e = s->tab[b]; e; e = e->next) {
			for (size_t i = 0; i < e->nfds; i++)
				if (e->fds[i] != t->fake)
					close(e->fds[i]);
			e->nfds = 0;
		}
	store_free(s);
	conn_close(&t->h, t->c);
	free_limbo(&t->h);
	free(t->h.uids);
	close(t->h.epfd);
	close(t->sv[1]);
	close(t->fake);
}

/* A request in, the code of its reply out (its fds never taken). */
static uint32_t ih_call(struct ih *t, uint32_t type, const struct hp_out *o, const int *fds,
                        size_t nfds)
{
	unsigned char b[28];

	CHECK(!o->bad);
	CHECK(fdshare_msg_send(t->sv[1], type, o->p, o->len, fds, nfds) == 0);
	conn_event(&t->h, t->c, EPOLLIN);
	CHECK(!t->c->dead);
	CHECK(recv(t->sv[1], b, sizeof b, MSG_DONTWAIT) == (ssize_t)sizeof b);
	CHECK_EQ(get_le32(b + 8), type | HP_REPLY);
	CHECK_EQ(get_le32(b + 16), 0); /* no fds: refused */
	return get_le32(b + 20);
}

/*
 * An entry leaves the holder in one frame (FETCH, DUMP), so it holds at
 * most FDSHARE_MSG_MAX_FDS fds: an APPEND past that is refused, rather
 * than taken to make a reply no client can read (and a dump that overruns
 * its buffer of one frame's fds).
 */
TEST(append_past_one_frame_refused)
{
	struct hp_out o = { 0 };
	struct ih t;
	int p[2];

	ih_start(&t);
	ih_entry(&t, "big", FDSHARE_MSG_MAX_FDS);
	th_pipe(p);
	hp_put32(&o, 1);
	hp_put32(&o, HP_F_APPEND);
	hp_put32(&o, 1);
	hp_put64(&o, 0);
	hp_putname(&o, "big", 3);
	CHECK_EQ(ih_call(&t, HP_STORE, &o, &p[0], 1), HP_EINVAL);
	CHECK_EQ(store_get(&t.h.store, "big", 3)->nfds, FDSHARE_MSG_MAX_FDS);
	free(o.p);
	ih_stop(&t);
	close(p[0]);
	close(p[1]);
}

/*
 * A FETCH whose entries add up to more fds than a frame carries is
 * refused whole (EMSGSIZE, the index of the item that goes past), its
 * entries kept even with REMOVE: not a reply no client can read, the
 * entries gone with it.
 */
TEST(fetch_past_one_frame_refused)
{
	struct hp_out o = { 0 };
	struct ih t;

	ih_start(&t);
	ih_entry(&t, "a", 40000);
	ih_entry(&t, "b", 40000);
	for (uint32_t flags = 0; flags <= HP_F_REMOVE; flags++) {
		o.len = 0;
		hp_put32(&o, 2);
		hp_put32(&o, flags);
		hp_putname(&o, "a", 1);
		hp_put32(&o, flags);
		hp_putname(&o, "b", 1);
		CHECK_EQ(ih_call(&t, HP_FETCH, &o, NULL, 0), HP_EMSGSIZE);
		CHECK_EQ(t.h.store.count, 2);
		CHECK_EQ(t.h.store.fds, 80000);
	}
	free(o.p);
	ih_stop(&t);
}

/* ---- quotas ---- */

/* A rules file: its path out; removed by rules_gone. */
static void rules_file(char *path, size_t size, const char *text)
{
	int fd = t_tmpfile(path, size);

	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static void rules_gone(const char *path)
{
	char dir[256];

	snprintf(dir, sizeof dir, "%s", path);
	unlink(path);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

/* In a child as uid u: store name (flags) with n fds; 0 or the errno. */
static int store_as(const struct th *h, uid_t u, const char *name, int fd, size_t n,
                    int flags)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		struct fdshare_holder *c;
		int fds[8];

		alarm(30);
		th_become(u);
		for (size_t i = 0; i < n && i < 8; i++)
			fds[i] = fd;
		c = fdshare_holder_connect(h->sock);
		if (c == NULL)
			_exit(100);
		errno = 0;
		_exit(fdshare_store(c, name, fds, n, 0, flags) == 0 ? 0 : errno);
	}
	return t_wait(pid);
}

/*
 * --quota counts the fds each owner uid holds.  An APPEND adds fds to the
 * entry's owner, so it is that owner's quota that must have room, not the
 * sender's: else a uid granted "store" on another's names holds without
 * limit, on the other's account.
 */
TEST(quota_of_the_owner_on_append)
{
	char rules[256], *args[] = { "--mode", "0666", "--quota", "2", "--rules", rules,
	                             NULL };
	struct fdshare_holder *c;
	struct fdshare_list l;
	struct th a;
	int p[2];

	rules_file(rules, sizeof rules, "uid=1001 store q\n");
	th_start(&a, (const char *const *)args);
	th_pipe(p);
	CHECK_EQ(store_as(&a, 1002, "q", p[0], 2, 0), 0);
	CHECK_EQ(store_as(&a, 1001, "q", p[0], 1, FDSHARE_HOLD_APPEND), EDQUOT);
	CHECK_EQ(store_as(&a, 1001, "q", p[0], 1, FDSHARE_HOLD_APPEND), EDQUOT);
	c = th_connect(&a);
	CHECK(fdshare_list(c, "q", &l) == 0);
	CHECK_EQ(l.n, 1);
	CHECK_EQ(l.v[0].owner, 1002);
	CHECK_EQ(l.v[0].nfds, 2);
	fdshare_list_free(&l);
	/* a REPLACE makes the entry 1001's: its own quota, the old one freed */
	CHECK_EQ(store_as(&a, 1001, "q", p[0], 2, FDSHARE_HOLD_REPLACE), 0);
	CHECK_EQ(store_as(&a, 1002, "q2", p[0], 2, 0), 0);
	CHECK_EQ(store_as(&a, 1001, "q3", p[0], 1, 0), EDQUOT);
	CHECK(fdshare_list(c, "q", &l) == 0);
	CHECK_EQ(l.n, 2);
	fdshare_list_free(&l);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&a), 0);
	rules_gone(rules);
}

/* ---- the client library against a holder that misbehaves ---- */

enum { FAKE_SHORT_COUNTS, FAKE_EXTRA_FDS, FAKE_DIES_MID_REPLY, FAKE_GARBAGE };

/* A fake holder at path: reads one request, answers it as told, exits. */
static pid_t fake_holder(const char *path, int how, int fd)
{
	struct sockaddr_un sun;
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	CHECK(l >= 0 && sockaddr_unix(path, &sun) == 0);
	CHECK(bind(l, (struct sockaddr *)&sun, sizeof sun) == 0 && listen(l, 4) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		unsigned char b[64], r[32];
		struct iovec iov = { r, 0 };
		int s, fds[2] = { fd, fd };

		alarm(20);
		s = accept(l, NULL, NULL);
		if (s < 0 || read(s, b, sizeof b) <= 0)
			_exit(1);
		frame_put_header(r, HP_FETCH | HP_REPLY, 12, how == FAKE_SHORT_COUNTS ? 2 : 1);
		put_le32(r + 20, 0);
		put_le32(r + 24, 0);
		put_le32(r + 28, 1);
		iov.iov_len = how == FAKE_DIES_MID_REPLY ? 26 : 32;
		if (how == FAKE_GARBAGE)
			memset(r, 0x5a, 20);
		fds_sendmsg(s, &iov, 1, fds, how == FAKE_SHORT_COUNTS || how == FAKE_EXTRA_FDS ?
		            2 : 1, 0);
		_exit(0);
	}
	close(l);
	return pid;
}

/*
 * Whatever the holder sends, fdshare_fetch returns -1 with EPROTO and
 * leaves no fd open (the harness counts them): counts that do not add up
 * to the fds, more fds than the header says, a reply cut short, garbage.
 */
TEST(client_against_a_holder_that_misbehaves)
{
	char dir[] = "/tmp/fdshare-fake.XXXXXX", path[64];
	int p[2];

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/s", dir);
	th_pipe(p);
	for (int how = FAKE_SHORT_COUNTS; how <= FAKE_GARBAGE; how++) {
		pid_t pid = fake_holder(path, how, p[0]);
		struct fdshare_holder *c = fdshare_holder_connect(path);
		int *fds;
		size_t n;

		CHECK(c != NULL);
		CHECK_ERR(fdshare_fetch(c, "x", &fds, &n, 0), EPROTO);
		fdshare_holder_close(c);
		CHECK_EQ(t_wait(pid), 0);
		unlink(path);
	}
	rmdir(dir);
	close(p[0]);
	close(p[1]);
}

#define DEEP_LEVELS 15   /* directories of DEEP_NAME_LEN bytes: a path near 3.8 KB */
#define DEEP_NAME_LEN 250
#define BIG_LIST_ENTRIES 18 /* of 253 fds each: their descriptions pass 16 MiB */

/* A file DEEP_LEVELS directories down from dir; its fd, the chain made. */
static int deep_file(const char *dir)
{
	char name[DEEP_NAME_LEN + 1];
	int at = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

	CHECK(at >= 0);
	memset(name, 'd', DEEP_NAME_LEN);
	name[DEEP_NAME_LEN] = '\0';
	for (int i = 0; i < DEEP_LEVELS; i++) {
		int next;

		CHECK(mkdirat(at, name, 0700) == 0);
		next = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK(next >= 0);
		close(at);
		at = next;
	}
	fd = openat(at, "f", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(at);
	return fd;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/*
 * A LIST whose answer would pass a message's 16 MiB: EMSGSIZE, which says
 * what to do (list by a prefix), not ENOMEM; a prefix then lists.
 */
TEST(list_past_one_frame_is_emsgsize)
{
	char dir[] = "/tmp/fdshare-deep.XXXXXX";
	int fds[FDSHARE_MAX_FDS], fd;
	struct fdshare_holder *c;
	struct fdshare_list l;
	struct th a;

	CHECK(mkdtemp(dir) != NULL);
	fd = deep_file(dir);
	for (size_t i = 0; i < FDSHARE_MAX_FDS; i++)
		fds[i] = fd;
	th_start(&a, NULL);
	c = th_connect(&a);
	for (int i = 0; i < BIG_LIST_ENTRIES; i++) {
		char name[16];

		snprintf(name, sizeof name, "deep%02d", i);
		CHECK(fdshare_store(c, name, fds, FDSHARE_MAX_FDS, 0, 0) == 0);
	}
	CHECK_ERR(fdshare_list(c, NULL, &l), EMSGSIZE);
	CHECK(fdshare_list(c, "deep01", &l) == 0);
	CHECK_EQ(l.n, 1);
	CHECK_EQ(l.v[0].nfds, FDSHARE_MAX_FDS);
	fdshare_list_free(&l);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&a), 0);
	close(fd);
	CHECK(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
}
