/*
 * fdshare demo: each way of sharing a descriptor, live, between real
 * processes (this binary re-executed as "_demo_peer"), with proof.  The
 * steps are in demo_steps.c and demo_proc.c, the peers in demo_peer.c.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "demo.h"

extern char **environ;

static const char demo_help[] =
"usage: fdshare demo\n"
"\n"
"Show, live between real processes, each way of sharing an open file\n"
"descriptor, and prove it worked:\n"
"  1. inheritance across fork and exec (LISTEN_FDS)\n"
"  2. SCM_RIGHTS between two unrelated processes on a Unix socket path\n"
"  3. pidfd_getfd from a process that does not cooperate\n"
"  4. reopening /proc/PID/fd/N: a new open file description\n"
"  5. what does not work: reopening a socket through /proc (ENXIO)\n"
"Needs no privileges; cleans up every process and file it made, in\n"
"$TMPDIR (an absolute path up to 64 bytes; else /tmp).  Colour only on a\n"
"terminal, with TERM set and not 'dumb', and NO_COLOR unset.  Exit 0\n"
"when every step behaved as expected, else 1, naming the step this machine\n"
"does not allow and why.\n";

#define MAX_PEERS 8
#define MAX_PATHS 8

/* What a signal handler must undo: plain arrays, filled before counted. */
static pid_t peers[MAX_PEERS];
static volatile sig_atomic_t npeers;
static char paths[MAX_PATHS][128];
static volatile sig_atomic_t npaths;
static char scratch[sizeof ((struct demo *)0)->dir];

/* Async-signal-safe.  A peer killed inside open() or bind() still makes
 * its file: wait for each to be gone before removing files. */
static void cleanup(void)
{
	for (int i = 0; i < npeers; i++)
		if (peers[i] > 0)
			kill(peers[i], SIGKILL);
	for (int i = 0; i < npeers; i++)
		if (peers[i] > 0)
			while (waitpid(peers[i], NULL, 0) < 0 && errno == EINTR)
				;
	for (int i = 0; i < npaths; i++)
		unlink(paths[i]);
	if (scratch[0])
		rmdir(scratch);
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

void demo_title(struct demo *d, int step, const char *title)
{
	printf("\n%s%d. %s%s\n", d->color ? "\033[1m" : "", step, title,
	       d->color ? "\033[0m" : "");
}

void demo_say(struct demo *d, const char *fmt, ...)
{
	va_list ap;

	(void)d;
	fputs("   ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

void demo_ok(struct demo *d, const char *fmt, ...)
{
	va_list ap;

	printf("   %sok%s: ", d->color ? "\033[32m" : "", d->color ? "\033[0m" : "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

int demo_fail(struct demo *d, int step, const char *what, int err, const char *why)
{
	printf("   %sFAILED%s: %s: %s\n", d->color ? "\033[31m" : "",
	       d->color ? "\033[0m" : "", what, err ? strerror(err) : "unexpected result");
	if (d->failed_step == 0) {
		d->failed_step = step;
		snprintf(d->what, sizeof d->what, "%s: %s", what,
		         err ? strerror(err) : "unexpected result");
		snprintf(d->why, sizeof d->why, "%s", why);
	}
	return -1;
}

void demo_show_file(struct demo *d, const char *path)
{
	char line[256];
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		demo_say(d, "  | %s", line);
	}
	fclose(f);
}

void demo_path(struct demo *d, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", d->dir, name);
	if (npaths < MAX_PATHS) {
		snprintf(paths[npaths], sizeof paths[npaths], "%s", buf);
		npaths++;
	}
}

int demo_spawn(struct demo *d, pid_t *pid, char *const args[],
               const struct fdshare_pass *fds, size_t nfds)
{
	char *argv[8], self[24];
	size_t n = 0;
	sigset_t set, old;
	int r;

	snprintf(self, sizeof self, "%d", (int)d->self);
	argv[n++] = "/proc/self/exe";
	argv[n++] = "_demo_peer";
	argv[n++] = args[0];
	argv[n++] = self;
	for (size_t i = 1; args[i] && n < 7; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	/* Counted before a signal could find it uncounted. */
	sigfillset(&set);
	sigprocmask(SIG_BLOCK, &set, &old);
	r = fdshare_spawn(pid, argv, environ, fds, nfds, 0);
	if (r == 0 && npeers < MAX_PEERS) {
		peers[npeers] = *pid;
		npeers++;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}

static void forget_peer(pid_t pid)
{
	for (int i = 0; i < npeers; i++)
		if (peers[i] == pid)
			peers[i] = 0;
}

int demo_reap(pid_t pid)
{
	struct timespec tick = { 0, 10 * 1000000L };
	int st, waited = 0;
	pid_t r;

	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && waited < DEMO_WAIT_MS) {
		nanosleep(&tick, NULL);
		waited += 10;
	}
	if (r == 0) {
		kill(pid, SIGKILL);
		r = waitpid(pid, &st, 0);
	}
	forget_peer(pid);
	if (r < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int demo_wait_byte(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;
	int r;

	do
		r = poll(&p, 1, DEMO_WAIT_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	if (r <= 0)
		return -1;
	if (read(fd, &c, 1) != 1) {
		errno = EPIPE; /* the peer died before it was ready */
		return -1;
	}
	return 0;
}

static void catch_signals(void)
{
	/* SIGPIPE too: "fdshare demo | head -3" must not leave files behind. */
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaction(sigs[i], &sa, NULL);
}

static int use_color(void)
{
	const char *term = getenv("TERM");

	return isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL && term &&
	       strcmp(term, "dumb") != 0;
}

/* $TMPDIR/fdshare-demo.XXXXXX, or in /tmp when TMPDIR is unset or too
 * long for the socket paths inside. */
static int make_scratch(char *dir, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	sigset_t all, old;
	int r;

	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > DEMO_TMPDIR_MAX)
		tmp = "/tmp";
	snprintf(dir, size, "%s/fdshare-demo.XXXXXX", tmp);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	r = mkdtemp(dir) ? 0 : -1;
	if (r == 0)
		memcpy(scratch, dir, sizeof scratch);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}

static int run_steps(struct demo *d)
{
	int ok = 1;

	printf("fdshare demo: sharing open file descriptors between processes\n");
	printf("(demo pid %d, scratch directory %s)\n", (int)d->self, d->dir);
	ok &= demo_inherit(d) == 0;
	ok &= demo_scm_rights(d) == 0;
	ok &= demo_proc(d) == 0;
	putchar('\n');
	if (ok) {
		printf("%sAll five steps behaved as expected.%s\n",
		       d->color ? "\033[32m" : "", d->color ? "\033[0m" : "");
		return 0;
	}
	printf("%sStep %d is not allowed on this machine%s: %s\n",
	       d->color ? "\033[31m" : "", d->failed_step, d->color ? "\033[0m" : "",
	       d->what);
	printf("Why: %s.\n", d->why);
	return 1;
}

int cmd_demo(int argc, char **argv)
{
	struct demo d;
	int first, rc;

	rc = cli_options(argc, argv, NULL, demo_help, &first);
	if (rc >= 0)
		return rc;
	if (first < argc)
		return cli_usage("demo", "unexpected argument '%s'", argv[first]);
	memset(&d, 0, sizeof d);
	d.self = getpid();
	d.color = use_color();
	catch_signals();
	if (make_scratch(d.dir, sizeof d.dir) < 0)
		return cli_fail("demo", "cannot make a scratch directory", errno,
		                "check that $TMPDIR or /tmp is writable");
	rc = run_steps(&d);
	errno = EIO; /* what an earlier failed write left in ferror */
	if (fflush(stdout) == EOF || ferror(stdout))
		rc = cli_fail("demo", "cannot write the output", errno,
		              "check standard output");
	cleanup();
	return rc;
}
