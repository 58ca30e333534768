/*
 * The holder's own code run in this process, for limits this machine's
 * RLIMIT_NOFILE cannot reach end to end: entries of tens of thousands of
 * fds (one fd held many times over), past what one frame carries.
 */
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
