/*
 * Fault injection in the holder daemon and its clients (docs/robustness.md,
 * section 2).  The real holder ($BUILD/fdshare holder) runs with the shim
 * preloaded and under its remote control (tests/fault/fault.h): the Nth
 * call to any interposed function fails with one errno, for N = 1 up to
 * the calls a session makes (counted first, with the shim counting only).
 *
 *   session       the holder faulted while one client stores two entries
 *                 (one dropped on hang-up), fetches, lists, fetches with
 *                 remove and removes; another client keeps its connection
 *   client_ops    the test's own process faulted in fdshare_store, fetch,
 *                 list and remove, each from connect to close
 *   takeover_new  the new holder (fdshare holder --takeover) faulted from
 *                 its start
 *   takeover_old  the old holder faulted from the takeover request on
 *
 * Each run must leave: the holder alive (or, in a takeover, exactly one
 * holder serving the path, the other exited with a status, never by a
 * signal); its descriptor count what it holds; every call's result a
 * success or a clear error (ENOMEM, ENFILE from the holder, the injected
 * errno in the client), never one that contradicts what happened (EBUSY
 * for a store that did not happen, ENOENT for an entry that is there);
 * the state the results say; the other client served.  The holder bugs
 * found so far are tolerated and printed (tests/fault/holder_fx.h).  Each
 * test prints "# faults NAME: R runs, F faults, K known bugs" for
 * tools/robustness-report.sh.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault/selfload.h"
#include "fault/remote.h"
#include "fdshare.h"
#include "test_holder.h"
#include "fault/holder_fx.h"

static const int errs[] = { EINTR, EAGAIN, ENOMEM, EMFILE, ENOBUFS };
#define NERRS (sizeof errs / sizeof *errs)
#define MAX_N 10000

/* ---- session: the holder faulted ---- */

/*
 * One operation's result under a fault in the holder: what the state
 * says (want: 0 or an errno), a clear error that changed nothing, or a
 * known bug's signature.
 */
struct outcome {
	const char *op;
	int got, want;
	int bug;        /* BUG_*, or -1 */
	int bad;        /* none of those */
};

static int holder_error(int e)
{
	return e == ENOMEM || e == ENFILE;
}

/*
 * Judge got; 1 when the operation took effect.  replayed: the errno of
 * the request carried out, its reply lost and the request sent again.
 */
static int judge(struct outcome *o, const char *op, int got, int want, int replayed)
{
	*o = (struct outcome){ .op = op, .got = got, .want = want, .bug = -1 };
	if (got == want)
		return want == 0;
	if (holder_error(got))
		return 0;
	if (want == 0 && replayed && got == replayed) {
		o->bug = BUG_REPLAY;
		return 1;
	}
	if (want == 0 && replayed == EBUSY && got == EINVAL) /* a store */
		o->bug = BUG_EINVAL;
	else
		o->bad = 1;
	return 0;
}

#define NOPS 7

static void run_session(struct fx *f, struct outcome *o, int *exists)
{
	int fds_a[2] = { f->null, f->pipe[0] };
	struct fdshare_store_item items[2] = {
		{ .name = "s.a", .fds = fds_a, .nfds = 2 },
		{ .name = "s.b", .fds = &f->sock[0], .nfds = 1,
		  .flags = FDSHARE_HOLD_DROP_ON_HANGUP },
	};
	struct fdshare_holder *c = fdshare_holder_connect(f->th.sock);
	long n;
	int r;

	VERIFY(f, c != NULL);
	r = fdshare_store_many(c, items, 2) == 0 ? 0 : errno;
	if (judge(&o[0], "store", r, 0, EBUSY))
		exists[0] = exists[1] = 1;
	judge(&o[1], "ping (the other client)",
	      fdshare_holder_ping(f->u, NULL) == 0 ? 0 : errno, 0, 0);
	judge(&o[2], "fetch s.a", fetch_check(c, "s.a", 0, fds_a, 2),
	      exists[0] ? 0 : ENOENT, 0);
	n = list_count(c, "s.");
	judge(&o[3], "list s.", n >= 0 ? (n == exists[0] + exists[1] ? 0 : -1) : (int)-n,
	      0, 0);
	r = fetch_check(c, "s.b", FDSHARE_FETCH_REMOVE, &f->sock[0], 1);
	if (judge(&o[4], "fetch --remove s.b", r, exists[1] ? 0 : ENOENT, ENOENT))
		exists[1] = 0;
	r = fdshare_remove(c, "s.a") == 0 ? 0 : errno;
	if (judge(&o[5], "remove s.a", r, exists[0] ? 0 : ENOENT, ENOENT))
		exists[0] = 0;
	fdshare_holder_close(c);
	judge(&o[6], "ping (the other client) after",
	      fdshare_holder_ping(f->u, NULL) == 0 ? 0 : errno, 0, 0);
}

static const char *ename(int e)
{
	return e == 0 ? "success" : e < 0 ? "wrong data" :
	       strerrorname_np(e) ? strerrorname_np(e) : "?";
}

/* A known bug's signature holds only for the calls that can cause it. */
static int bug_cause(int bug, int hit)
{
	if (bug == BUG_REPLAY)
		return hit == FAULT_SENDMSG || hit == FAULT_MALLOC || hit == FAULT_REALLOC;
	return hit == FAULT_MALLOC || hit == FAULT_EPOLL_CTL;
}

static void session_run(struct fx *f, int err, long n, long *calls)
{
	static const char *const names[] = { "s.a", "s.b" };
	struct outcome o[NOPS];
	struct fault_state st;
	int exists[2] = { 0, 0 };

	snprintf(f->where, sizeof f->where, "%s at holder call %ld", strerrorname_np(err), n);
	VERIFY(f, remote_cmd(f->th.pid, fault_ctl(FAULT_CTL_ARM, FAULT_ALL, n, err, 0),
	                     &st) == 0);
	run_session(f, o, exists);
	VERIFY(f, remote_cmd(f->th.pid, fault_ctl(FAULT_CTL_DISARM, 0, 0, 0, 0), &st) == 0);
	if (st.hit >= 0) {
		fx_where(f, shim.fn_name(st.hit));
		f->faults++;
	}
	f->runs++;
	if (calls)
		*calls = st.seen;
	VERIFY(f, alive(f->th.pid));
	for (int i = 0; i < NOPS; i++) {
		if (o[i].bad || (o[i].bug >= 0 && !bug_cause(o[i].bug, st.hit)))
			t_fail(__FILE__, __LINE__, "%s: %s gave %s, want %s", f->where,
			       o[i].op, ename(o[i].got), ename(o[i].want));
		KNOWN(f, o[i].bug, o[i].bug >= 0);
	}
	/* what the results say is what the holder holds; then it is cleared */
	VERIFY(f, list_count(f->u, "s.") == exists[0] + exists[1]);
	fx_clear(f, names, 2);
	VERIFY(f, fdshare_holder_ping(f->u, NULL) == 0);
	VERIFY(f, settle(f->th.pid, f->base) == f->base);
}

TEST(session)
{
	struct fx f;

	fx_start(&f);
	CHECK(fdshare_store(f.u, "keep", &f.null, 1, 0, 0) == 0);
	fx_base(&f);
	for (size_t e = 0; e < NERRS; e++) {
		long calls = 0;

		session_run(&f, errs[e], FAULT_CTL_N_MAX, &calls);
		CHECK(calls > 0 && calls < MAX_N);
		for (long n = 1; n <= calls; n++)
			session_run(&f, errs[e], n, NULL);
	}
	CHECK_EQ(fetch_check(f.u, "keep", 0, &f.null, 1), 0);
	fx_stop(&f, "session");
}

/* ---- client_ops: the test's own process faulted ---- */

enum { C_STORE, C_FETCH, C_LIST, C_REMOVE };
static const char *const c_names[] = { "store", "fetch", "list", "remove" };

/* Connect, the operation, close: 0, an errno, or -1 for wrong data. */
static int client_op(struct fx *f, int op)
{
	struct fdshare_holder *c = fdshare_holder_connect(f->th.sock);
	long n;
	int r = 0;

	if (c == NULL)
		return errno;
	switch (op) {
	case C_STORE:
		r = fdshare_store(c, "c.x", &f->null, 1, 0, 0) == 0 ? 0 : errno;
		break;
	case C_FETCH:
		r = fetch_check(c, "c.x", 0, &f->null, 1);
		break;
	case C_LIST:
		n = list_count(c, "c.");
		r = n == 1 ? 0 : n < 0 ? (int)-n : -1;
		break;
	default:
		r = fdshare_remove(c, "c.x") == 0 ? 0 : errno;
	}
	fdshare_holder_close(c);
	return r;
}

/* One run; 1 when the fault was reached. */
static int client_run(struct fx *f, int op, unsigned long mask, int err, long n)
{
	static const char *const names[] = { "c.x" };
	int before, r, hit;
	long live, left;

	snprintf(f->where, sizeof f->where, "%s, %s at client call %ld", c_names[op],
	         strerrorname_np(err), n);
	if (op == C_STORE)
		fx_clear(f, names, 1);
	else
		VERIFY(f, fdshare_store(f->u, "c.x", &f->null, 1, 0, 0) == 0 || errno == EBUSY);
	before = t_count_fds();
	shim.track(1);
	shim.arm(mask, n, err, 0);
	r = client_op(f, op);
	shim.disarm();
	hit = shim.hit();
	live = shim.live();
	shim.track(0);
	if (hit >= 0) {
		size_t k = strlen(f->where);

		snprintf(f->where + k, sizeof f->where - k, " (%s failed)", shim.fn_name(hit));
		f->faults++;
	}
	f->runs++;
	if (r != 0 && (hit < 0 || r != err))
		t_fail(__FILE__, __LINE__, "%s: gave %s", f->where, ename(r));
	VERIFY(f, live == 0);
	VERIFY(f, t_count_fds() == before);
	/* the holder: serving, holding what the result says */
	VERIFY(f, alive(f->th.pid));
	left = list_count(f->u, "c.");
	if (r == 0)
		VERIFY(f, left == (op == C_REMOVE ? 0 : 1));
	else
		VERIFY(f, left == 0 || left == 1);
	fx_clear(f, names, 1);
	VERIFY(f, settle(f->th.pid, f->base) == f->base);
	return hit >= 0;
}

/* Whether malloc is the shim's here (a static sanitizer runtime's is not). */
static int alloc_interposed(void)
{
	void *(*volatile alloc)(size_t) = malloc;
	void *p;

	shim.arm(FAULT_ALLOC, 1, ENOMEM, 0);
	p = alloc(16);
	shim.disarm();
	free(p);
	return p == NULL;
}

static void client_sweep(struct fx *f, int op, unsigned long mask, int err)
{
	for (long n = 1; n <= MAX_N; n++)
		if (!client_run(f, op, mask, err, n))
			return;
	t_fail(__FILE__, __LINE__, "%s: still faulting after %d calls", f->where, MAX_N);
}

TEST(client_ops)
{
	struct fx f;

	fx_start(&f);
	fx_base(&f);
	for (int op = C_STORE; op <= C_REMOVE; op++) {
		for (size_t e = 0; e < NERRS; e++)
			client_sweep(&f, op, FAULT_SYSCALLS, errs[e]);
		if (alloc_interposed())
			client_sweep(&f, op, FAULT_ALLOC, ENOMEM);
	}
	fx_stop(&f, "client_ops");
}

/* ---- takeovers: the new holder or the old one faulted ---- */

static void tk_store(struct fx *f)
{
	int a[2] = { f->null, f->pipe[0] };
	struct fdshare_store_item items[3] = {
		{ .name = "t.a", .fds = a, .nfds = 2 },
		{ .name = "t.b", .fds = &f->sock[0], .nfds = 1,
		  .flags = FDSHARE_HOLD_DROP_ON_HANGUP },
		{ .name = "t.c", .fds = &f->pipe[1], .nfds = 1, .ttl_ms = 3600000 },
	};

	CHECK(fdshare_store_many(f->u, items, 3) == 0);
}

/* The entries as stored, seen by the client that is never faulted. */
static void tk_check(struct fx *f)
{
	int a[2] = { f->null, f->pipe[0] };

	VERIFY(f, list_count(f->u, "t.") == 3);
	VERIFY(f, fetch_check(f->u, "t.a", 0, a, 2) == 0);
	VERIFY(f, fetch_check(f->u, "t.b", 0, &f->sock[0], 1) == 0);
	VERIFY(f, fetch_check(f->u, "t.c", 0, &f->pipe[1], 1) == 0);
}

/* The pid of the holder a new connection to the path reaches. */
static pid_t serving(struct fx *f)
{
	struct fdshare_holder *c = fdshare_holder_connect(f->th.sock);
	pid_t pid = -1;

	if (c && fdshare_holder_ping(c, &pid) < 0)
		pid = -1;
	fdshare_holder_close(c);
	return pid;
}

enum { NEW, OLD };

/* A holder becomes ready, or an old one exits, well within this. */
static int tk_wait_ms(void)
{
	const char *san = getenv("SANITIZE");

	return san && strcmp(san, "1") == 0 ? 8000 : 3000;
}

/* The path leads nowhere (BUG_PATH): a fresh holder, the same entries. */
static void tk_rebuild(struct fx *f)
{
	fdshare_holder_close(f->u);
	kid(f->th.pid, 0);
	th_stop(&f->th);
	th_start(&f->th, NULL);
	kid(f->th.pid, 1);
	f->u = th_connect(&f->th);
	tk_store(f);
	fx_base(f);
}

/* Its last line in the log says pid got no further than the fd limit. */
static int died_at_start(struct fx *f, pid_t pid)
{
	char line[512], tag[64], last[512] = "";
	FILE *log = fopen(f->th.log, "re");

	if (log == NULL)
		return 0;
	snprintf(tag, sizeof tag, "fdshare holder[%d]: ", (int)pid);
	while (fgets(line, sizeof line, log))
		if (strncmp(line, tag, strlen(tag)) == 0)
			snprintf(last, sizeof last, "%s", line + strlen(tag));
	fclose(log);
	return strncmp(last, "RLIMIT_NOFILE", 13) == 0;
}

/* The new holder serves: the old one must hand over and exit. */
static int tk_handed_over(struct fx *f, int which, pid_t old, pid_t nw,
                          struct fault_state *st)
{
	int st_old, bug = -1;

	if (which == NEW)
		VERIFY(f, remote_cmd(nw, fault_ctl(FAULT_CTL_DISARM, 0, 0, 0, 0), st) == 0);
	st_old = wait_gone(old, tk_wait_ms());
	if (st_old == -1) {
		bug = BUG_SPLIT;
		kill(old, SIGTERM);
		st_old = wait_exit(old, 20000);
	}
	VERIFY(f, st_old != -1 && WIFEXITED(st_old) && WEXITSTATUS(st_old) == 0);
	if (which == OLD)
		VERIFY(f, remote_wait(old, 1, 5000, st) == 0);
	f->th.pid = nw;
	/* without its reserve fd (open failed) it has one less */
	f->expect = f->base - (which == NEW && st->hit == FAULT_OPEN);
	return bug;
}

/*
 * The new holder gave up: with an error status; the old one serves on.
 * A known bug, or -1.
 */
static int tk_gave_up(struct fx *f, int which, int err, pid_t old, pid_t nw,
                      int status, struct fault_state *st)
{
	int bug = -1;

	VERIFY(f, status != -1);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV && which == NEW &&
	    err == ENOMEM && died_at_start(f, nw)) {
		bug = BUG_STORE_INIT;
		st->hit = FAULT_MALLOC;
	} else {
		VERIFY(f, WIFEXITED(status) && WEXITSTATUS(status) != 0);
		if (which == NEW)
			VERIFY(f, remote_wait(nw, 1, 5000, st) == 0);
	}
	VERIFY(f, alive(old));
	if (which == OLD)
		VERIFY(f, remote_cmd(old, fault_ctl(FAULT_CTL_DISARM, 0, 0, 0, 0), st) == 0);
	VERIFY(f, st->hit >= 0);
	if (serving(f) == old)
		return bug;
	VERIFY(f, which == NEW);
	return BUG_PATH;
}

static void takeover_run(struct fx *f, int which, int err, long n, long *calls)
{
	pid_t old = f->th.pid, nw = -1;
	struct fault_state st = { 0, -1, 0 };
	char spec[64];
	int status = 0, how, bug = -1;

	snprintf(f->where, sizeof f->where, "takeover, %s at %s holder call %ld",
	         strerrorname_np(err), which == NEW ? "new" : "old", n);
	snprintf(spec, sizeof spec, "all:%ld:%s", n, strerrorname_np(err));
	if (which == OLD)
		VERIFY(f, remote_cmd(old, fault_ctl(FAULT_CTL_ARM, FAULT_ALL, n, err, 0),
		                     &st) == 0);
	how = spawn_takeover(&f->th, which == NEW ? spec : NULL, tk_wait_ms(), &nw, &status);
	if (how == SPAWN_STUCK) {
		VERIFY(f, which == OLD);
		bug = BUG_DUMP;
		kill(nw, SIGKILL); /* the old holder thaws */
		VERIFY(f, wait_exit(nw, 20000) != -1);
		VERIFY(f, remote_cmd(old, fault_ctl(FAULT_CTL_DISARM, 0, 0, 0, 0), &st) == 0);
	} else if (how == SPAWN_READY) {
		bug = tk_handed_over(f, which, old, nw, &st);
	} else {
		bug = tk_gave_up(f, which, err, old, nw, status, &st);
	}
	remote_forget(old);
	remote_forget(nw);
	if (calls)
		*calls = st.seen;
	if (st.hit >= 0) {
		fx_where(f, shim.fn_name(st.hit));
		f->faults++;
	}
	f->runs++;
	KNOWN(f, bug, bug >= 0);
	if (bug == BUG_PATH) {
		tk_rebuild(f);
		return;
	}
	VERIFY(f, serving(f) == f->th.pid);
	VERIFY(f, fdshare_holder_ping(f->u, NULL) == 0);
	tk_check(f);
	VERIFY(f, settle(f->th.pid, f->expect) == f->expect);
}

/* Fewer runs with sanitizers: every holder starts slower. */
static long stride(void)
{
	const char *san = getenv("SANITIZE");

	return san && strcmp(san, "1") == 0 ? 4 : 1;
}

static void takeover_sweep(int which, const char *test)
{
	struct fx f;

	fx_start(&f);
	tk_store(&f);
	fx_base(&f);
	for (size_t e = 0; e < NERRS; e++) {
		long calls = 0;

		takeover_run(&f, which, errs[e], FAULT_CTL_N_MAX, &calls);
		CHECK(calls > 0 && calls < MAX_N);
		for (long n = 1; n <= calls; n += stride())
			takeover_run(&f, which, errs[e], n, NULL);
	}
	fx_stop(&f, test);
}

TEST(takeover_new)
{
	takeover_sweep(NEW, "takeover_new");
}

TEST(takeover_old)
{
	takeover_sweep(OLD, "takeover_old");
}
