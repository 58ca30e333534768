/*
 * tests/test_fault_holder.c's fixture: the holders it starts (killed if a
 * check leaves early), a holder with a client that is never faulted, the
 * files its entries hold, checks of what a fetch returns, and the holder
 * bugs found so far (tolerated, printed, failing under
 * FDSHARE_FAULT_STRICT=1).  Include once, after selfload.h, remote.h and
 * test_holder.h.
 */
#ifndef FAULT_HOLDER_FX_H
#define FAULT_HOLDER_FX_H

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- processes this test started: killed if a check leaves early ---- */

static pid_t kids[8];

static void kids_kill(void)
{
	for (size_t i = 0; i < sizeof kids / sizeof *kids; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
}

static void kid(pid_t pid, int add)
{
	static int registered;

	if (!registered) {
		atexit(kids_kill);
		registered = 1;
	}
	for (size_t i = 0; i < sizeof kids / sizeof *kids; i++)
		if (add ? kids[i] == 0 : kids[i] == pid) {
			kids[i] = add ? pid : 0;
			return;
		}
}

/* The status of pid once it exits within ms, else -1 (it runs on). */
static int wait_gone(pid_t pid, int ms)
{
	int st;

	for (int i = 0; i < ms; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			kid(pid, 0);
			return st;
		}
		th_sleep_ms(1);
	}
	return -1;
}

/* The same, but killed after ms. */
static int wait_exit(pid_t pid, int ms)
{
	int st = wait_gone(pid, ms);

	if (st == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		kid(pid, 0);
	}
	return st;
}

static int alive(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

/* The holder's fd count back to want within 5 s. */
static int settle(pid_t pid, int want)
{
	int n = -1;

	for (int i = 0; i < 5000 && n != want; i++) {
		if (i)
			th_sleep_ms(1);
		n = th_count_fds(pid);
	}
	return n;
}

/* A newline on the ready pipe within ms: 1; 0 on EOF; -1 on timeout. */
static int wait_ready(int rfd, int ms)
{
	struct pollfd p = { .fd = rfd, .events = POLLIN };
	char c;
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -1;
	return r == 1 && read(rfd, &c, 1) == 1 && c == '\n';
}

enum { SPAWN_EXITED, SPAWN_READY, SPAWN_STUCK };

/*
 * A holder taking over h->sock, armed from its start by fault (NULL:
 * not), its pid in *newpid: SPAWN_READY; SPAWN_EXITED with its exit
 * status in *status; SPAWN_STUCK when it is neither ready nor gone after
 * ms (it is left running).
 */
static int spawn_takeover(const struct th *h, const char *fault, int ms, pid_t *newpid,
                          int *status)
{
	char *argv[] = { (char *)th_fdshare(), "holder", "--socket", (char *)h->sock,
	                 "--ready-fd", "3", "--takeover", NULL };
	int p[2], ready;
	pid_t pid;

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	if (fault)
		setenv("FDSHARE_FAULT", fault, 1);
	pid = fork();
	if (pid != 0)
		unsetenv("FDSHARE_FAULT");
	CHECK(pid >= 0);
	if (pid == 0) {
		int log = open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (log >= 0)
			dup2(log, 2);
		if (p[1] == 3)
			fcntl(3, F_SETFD, 0);
		else
			dup2(p[1], 3);
		execv(argv[0], argv);
		_exit(127);
	}
	kid(pid, 1);
	*newpid = pid;
	close(p[1]);
	ready = wait_ready(p[0], ms);
	close(p[0]);
	if (ready == 1)
		return SPAWN_READY;
	if (ready < 0)
		return SPAWN_STUCK;
	*status = wait_exit(pid, 20000);
	return SPAWN_EXITED;
}

/* ---- the fixture: a holder, its entries, a client that is never faulted ---- */

struct fx {
	struct th th;           /* th.pid: the holder serving th.sock */
	struct fdshare_holder *u;
	int null, pipe[2], sock[2];
	int base;               /* the holder's fds: its own, the entries', u's */
	int expect;             /* base, or less for a holder without its reserve */
	long runs, faults;
	char where[200];
};

#define VERIFY(f, c)                                                      \
	do {                                                              \
		if (!(c))                                                 \
			t_fail(__FILE__, __LINE__, "%s: %s", (f)->where, #c); \
	} while (0)

/* Add " (what)" to the description of the run. */
static void fx_where(struct fx *f, const char *what)
{
	size_t k = strlen(f->where);

	snprintf(f->where + k, sizeof f->where - k, " (%s)", what);
}

/*
 * Holder bugs these tests found: a result that shows one fails, with
 * its description.  One reported and not fixed yet has a tag in bug_tag:
 * it is tolerated (the sweep goes on) and printed as "# known bug",
 * unless FDSHARE_FAULT_STRICT=1, which makes it fail as it should.
 * Remove a bug's tag once its fix lands.
 */
enum { BUG_EINVAL, BUG_REPLAY, BUG_PATH, BUG_STORE_INIT, BUG_DUMP, BUG_SPLIT, NBUGS };

static const char *const bug_why[NBUGS] = {
	[BUG_EINVAL] = "ops.c answers a failed malloc (duplicate) or epoll_ctl "
	               "(watch_all) with EINVAL, not ENOMEM",
	[BUG_REPLAY] = "conn.c drops a connection whose reply it cannot queue or send "
	               "(ENOMEM, ENOBUFS) after the request was carried out; the client "
	               "library sends it again (EBUSY, ENOENT; fetch --remove loses the entry)",
	[BUG_PATH] = "start.c: a new holder that fails after renaming its socket over "
	             "the path unlinks it: the old holder thaws, unreachable",
	[BUG_STORE_INIT] = "store.c: store_init's failed calloc leaves size set, "
	                   "store_free reads tab[0] of NULL (SIGSEGV)",
	[BUG_DUMP] = "list.c: a DUMP that runs out of memory is never answered: the "
	             "new holder waits (60 s) while the old one answers all 'moved'",
	[BUG_SPLIT] = "takeover.c: the old holder that loses the takeover connection "
	              "after the new one took the path thaws and serves its clients "
	              "from a stale copy, forever",
};

/* All fixed: none tolerated. */
static const char *const bug_tag[NBUGS] = { NULL };

static long bugs_seen[NBUGS];

/* 1: tolerated (printed); 0: strict, the caller fails. */
static int known_bug(struct fx *f, int bug)
{
	const char *strict = getenv("FDSHARE_FAULT_STRICT");

	if (bug_tag[bug] == NULL || (strict && strcmp(strict, "1") == 0))
		return 0;
	if (bugs_seen[bug]++ == 0)
		printf("# known bug %s: %s\n", bug_tag[bug], bug_why[bug]);
	printf("# known bug %s: %s\n", bug_tag[bug], f->where);
	return 1;
}

#define KNOWN(f, bug, c)                                                  \
	do {                                                              \
		if ((c) && !known_bug((f), (bug)))                        \
			t_fail(__FILE__, __LINE__, "%s: %s", (f)->where, bug_why[bug]); \
	} while (0)

static void fx_start(struct fx *f)
{
	char me[32];

	selfload_need_shim();
	kids_kill();
	sigset_t set;

	remote_block(&set); /* before any holder may answer */
	snprintf(me, sizeof me, "%d", (int)getpid());
	setenv("FDSHARE_FAULT_SIGNALS", "1", 1); /* for the holders started */
	setenv("FDSHARE_FAULT_CONTROLLER", me, 1);
	memset(f, 0, sizeof *f);
	CHECK((f->null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0);
	CHECK(pipe2(f->pipe, O_CLOEXEC) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sock) == 0);
	th_start(&f->th, NULL);
	kid(f->th.pid, 1);
	f->u = th_connect(&f->th);
	CHECK(fdshare_holder_ping(f->u, NULL) == 0);
}

static void fx_base(struct fx *f)
{
	CHECK(fdshare_holder_ping(f->u, NULL) == 0);
	th_sleep_ms(20);
	f->base = f->expect = th_count_fds(f->th.pid);
	CHECK(f->base > 0);
}

static void fx_stop(struct fx *f, const char *test)
{
	long known = 0;

	fdshare_holder_close(f->u);
	kid(f->th.pid, 0);
	CHECK_EQ(th_stop(&f->th), 0);
	close(f->null);
	close(f->pipe[0]);
	close(f->pipe[1]);
	close(f->sock[0]);
	close(f->sock[1]);
	unsetenv("FDSHARE_FAULT_SIGNALS");
	unsetenv("FDSHARE_FAULT_CONTROLLER");
	for (int b = 0; b < NBUGS; b++)
		known += bugs_seen[b];
	memset(bugs_seen, 0, sizeof bugs_seen);
	printf("# faults test_fault_holder.%s: %ld runs, %ld faults, %ld known bugs\n",
	       test, f->runs, f->faults, known);
}

/* The fds of an entry are the files the test stored. */
static int same_files(const int *got, size_t n, const int *want, size_t nwant)
{
	if (n != nwant)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!th_same_file(got[i], want[i]))
			return 0;
	return 1;
}

/* fetch name: 0 (the fds checked and closed), else errno. */
static int fetch_check(struct fdshare_holder *c, const char *name, int flags,
                       const int *want, size_t nwant)
{
	int *fds = NULL;
	size_t n = 0;
	int ok;

	if (fdshare_fetch(c, name, &fds, &n, flags) < 0)
		return errno;
	ok = same_files(fds, n, want, nwant);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	return ok ? 0 : -1;
}

static long list_count(struct fdshare_holder *c, const char *prefix)
{
	long n = th_list_count(c, prefix);

	return n < 0 ? -errno : n;
}

/* Remove what a run may have left, as the client that is never faulted. */
static void fx_clear(struct fx *f, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		VERIFY(f, fdshare_remove(f->u, names[i]) == 0 || errno == ENOENT);
}

#endif
