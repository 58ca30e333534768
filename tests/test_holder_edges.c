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
#include "../src/lib/holder_proto.h"

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

/* A batch of more fds than one frame carries: EINVAL, nothing sent. */
TEST(store_batch_past_one_frame_is_einval)
{
	static const size_t counts[] = { FDSHARE_MSG_MAX_FDS + 1, 1u << 20 };
	struct fdshare_store_item *items;
	struct fdshare_holder *c;
	struct th a;
	int *fds, p[2];

	th_pipe(p);
	fds = malloc(FDSHARE_MSG_MAX_FDS * sizeof *fds);
	items = calloc(counts[1] / FDSHARE_MSG_MAX_FDS * FDSHARE_MSG_MAX_FDS + 1, sizeof *items);
	CHECK(fds != NULL && items != NULL);
	for (size_t i = 0; i < FDSHARE_MSG_MAX_FDS; i++)
		fds[i] = p[0];
	th_start(&a, NULL);
	c = th_connect(&a);
	for (size_t k = 0; k < sizeof counts / sizeof *counts; k++) {
		/* items of FDSHARE_MSG_MAX_FDS fds and a last one of 1 */
		size_t n = (counts[k] - 1) / FDSHARE_MSG_MAX_FDS + 1;

		for (size_t i = 0; i < n; i++) {
			char *name = malloc(24);

			CHECK(name != NULL);
			snprintf(name, 24, "b%zu", i);
			items[i] = (struct fdshare_store_item){ name, fds,
			        i + 1 < n ? FDSHARE_MSG_MAX_FDS : 1, 0, 0 };
		}
		CHECK_ERR(fdshare_store_many(c, items, n), EINVAL);
		for (size_t i = 0; i < n; i++)
			free((char *)items[i].name);
	}
	CHECK_EQ(th_list_count(c, NULL), 0);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&a), 0);
	free(items);
	free(fds);
	close(p[0]);
	close(p[1]);
}
