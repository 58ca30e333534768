/*
 * The holder's --ready-fd at start-up: a number that is not open, and
 * standard error as the readiness descriptor.  The holder is spawned here
 * with exactly the descriptors each case needs (tests/test_holder.h's
 * th_start always passes fd 3).
 */
#include <linux/close_range.h>
#include <sys/syscall.h>

#include "test_holder.h"

/*
 * Start a holder on h->sock (a fresh directory) with --ready-fd rfd and
 * more arguments; fds 0 and 1 /dev/null, 2 err2 (-1: the log file), none
 * open above 2.  Its pid; readiness is the caller's business.
 */
static pid_t lc_spawn(struct th *h, const char *rfd, const char *more, int err2)
{
	char tmpl[] = "/tmp/fdshare-lc.XXXXXX";
	char *argv[] = { (char *)th_fdshare(), "holder", "--socket", h->sock,
	                 "--ready-fd", (char *)rfd, (char *)more, NULL };
	pid_t pid;

	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(h->dir, sizeof h->dir, "%s", tmpl);
	snprintf(h->sock, sizeof h->sock, "%s/h.sock", tmpl);
	snprintf(h->log, sizeof h->log, "%s/log", tmpl);
	h->pid = 0;
	th_track(h, 1);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int log = err2 >= 0 ? err2 :
		          open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (null < 0 || log < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
		    dup2(log, 2) < 0 || syscall(SYS_close_range, 3, ~0U, 0) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	h->pid = pid;
	th_track(h, 0);
	th_track(h, 1);
	return pid;
}

/* Its exit status within ms, or -1 (still running). */
static int lc_exit_within(pid_t pid, long ms)
{
	int st;

	for (long i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		th_sleep_ms(10);
	}
	return -1;
}

/*
 * A --ready-fd that is not open when the holder starts refuses the
 * start: else its number goes to one of the holder's own descriptors
 * (fd 5: the listening socket), which readiness writes to and closes,
 * leaving a holder nobody can reach.
 */
TEST(ready_fd_not_open_refuses_to_start)
{
	struct th h;
	int st;

	lc_spawn(&h, "5", NULL, -1);
	st = lc_exit_within(h.pid, 10000);
	if (st == -1) {
		th_stop(&h);
		CHECK(!"the holder started with a --ready-fd that was not open");
	}
	CHECK(th_log_has(&h, "--ready-fd 5"));
	th_track(&h, 0);
	th_cleanup(&h);
	CHECK_EQ(st, 1);
}

/*
 * --ready-fd 2: readiness is written to standard error, which must stay
 * taken afterwards; else the next client accepted gets fd 2 and the log
 * lines (-v logs every request) in the middle of its replies.
 */
TEST(ready_fd_stderr_keeps_the_log_off_clients)
{
	struct fdshare_holder *c;
	struct th h;
	int p[2], eof = 0;
	char buf[4096];

	th_pipe(p);
	lc_spawn(&h, "2", "-v", p[1]);
	close(p[1]);
	/* The log, then the newline; the end once the holder let go of fd 2. */
	for (int i = 0; i < 2000 && !eof; i++) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };

		if (poll(&pf, 1, 10) == 1)
			eof = read(p[0], buf, sizeof buf) <= 0;
	}
	close(p[0]);
	CHECK(eof);
	c = fdshare_holder_connect(h.sock);
	CHECK(c != NULL);
	for (int i = 0; i < 3; i++)
		CHECK(fdshare_holder_ping(c, NULL) == 0);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}

/*
 * SIGTERM waits for the requests in flight; with --timeout 0 a client can
 * leave one half sent for ever.  A second SIGTERM drops it and exits.
 */
TEST(second_sigterm_drops_what_is_in_flight)
{
	const char *const extra[] = { "--timeout", "0", NULL };
	unsigned char half[10] = { 0 };
	struct th h;
	int s, st;

	th_start(&h, extra);
	s = th_raw_connect(h.sock);
	CHECK(s >= 0);
	put_le32(half, 0x48534446u); /* a header begun, never finished */
	CHECK_EQ(send(s, half, sizeof half, MSG_NOSIGNAL), (ssize_t)sizeof half);
	th_sleep_ms(100);
	CHECK_EQ(kill(h.pid, SIGTERM), 0);
	st = lc_exit_within(h.pid, 500);
	CHECK_EQ(st, -1); /* still waiting for the request */
	CHECK_EQ(kill(h.pid, SIGTERM), 0);
	st = lc_exit_within(h.pid, 10000);
	if (st == -1) {
		th_stop(&h);
		CHECK(!"a second SIGTERM did not stop the holder");
	}
	CHECK_EQ(st, 0);
	CHECK(th_log_has(&h, "again: dropping the requests still in flight"));
	close(s);
	th_track(&h, 0);
	th_cleanup(&h);
}
