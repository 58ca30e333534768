/*
 * fdshare_exec: the descriptors moved in place for the program it
 * becomes, and every failure leaving the caller as it was.
 */
#include <signal.h>
#include <sys/resource.h>

#include "test_spawn.h"

static void exec_child(void)
{
	struct fdshare_pass fds[] = { { 4, "b" }, { 3, "a" }, { 9, NULL } };
	char *argv[] = { (char *)t_aux("act_check"), g_tmp.report, NULL };

	place(g_obj[0], 3, 1);
	place(g_obj[1], 4, 0);
	place(g_obj[2], 9, 0);
	fdshare_exec(argv, NULL, fds, 3, 0);
	_exit(98);
}

TEST(exec_in_place)
{
	struct ident want[3];
	pid_t pid;

	objs_make();
	want[0] = g_id[1];
	want[1] = g_id[0];
	want[2] = g_id[2];
	pid = in_child(exec_child);
	check_seen(report_read(g_tmp.report), want, 3, pid, "b:a:unknown");
	objs_free();
}

static char g_garbage[128], g_noexec[128];

/* Every failure, early or after the fds moved, leaves the table as it was. */
static void exec_fail_child(void)
{
	struct fdshare_pass fds[] = { { 4, "x" }, { 3, "y" }, { 6, NULL }, { 0, NULL } };
	struct fdshare_pass bad[] = { { 4, "x:y" } };
	char *garbage[] = { g_garbage, NULL }, *noexec[] = { g_noexec, NULL };
	char *missing[] = { "fdshare-no-such-program", NULL };
	struct fdstate before[64];
	sigset_t set;
	size_t n;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	CHECK_EQ(sigprocmask(SIG_BLOCK, &set, NULL), 0);
	place(g_obj[0], 3, 1);
	place(g_obj[1], 4, 0);
	place(g_obj[2], 6, 0);
	place(g_obj[3], 8, 0);
	CHECK_EQ(fcntl(6, F_SETFL, O_NONBLOCK), 0);
	n = snapshot(before, 64);
	CHECK_ERR(fdshare_exec(garbage, NULL, fds, 4, 0), ENOEXEC);
	check_unchanged(before, n);
	CHECK_ERR(fdshare_exec(garbage, NULL, NULL, 0, 0), ENOEXEC);
	check_unchanged(before, n);
	CHECK_ERR(fdshare_exec(noexec, NULL, fds, 4, 0), EACCES);
	check_unchanged(before, n);
	CHECK_ERR(fdshare_exec(missing, NULL, fds, 4, 0), ENOENT);
	check_unchanged(before, n);
	CHECK_ERR(fdshare_exec(missing, NULL, bad, 1, 0), EINVAL);
	check_unchanged(before, n);
	CHECK_EQ(sigprocmask(SIG_BLOCK, NULL, &set), 0);
	CHECK_EQ(sigismember(&set, SIGUSR1), 1);
	CHECK(getenv("LISTEN_FDS") == NULL);
}

TEST(exec_failure_restores)
{
	objs_make();
	tmp_file(&g_tmp, "garbage", "\x01\x02\x03 not a program\n", 0755, g_garbage,
	         sizeof g_garbage);
	tmp_file(&g_tmp, "noexec", "#!/bin/sh\n", 0644, g_noexec, sizeof g_noexec);
	in_child(exec_fail_child);
	objs_free();
}

#define OVER_LIMIT_NFDS 100 /* fds asked for, with a soft limit of 64 */
#define CHILD_NO_RLIMIT 77  /* setrlimit refused (valgrind): a skip */

/* More fds than RLIMIT_NOFILE holds: EMFILE (not fcntl's EINVAL), as it was. */
static void over_limit_child(void)
{
	struct fdshare_pass fds[OVER_LIMIT_NFDS];
	char *argv[] = { "/bin/false", NULL }; /* run by mistake: exit 1 */
	struct rlimit rl = { 64, 64 };
	struct fdstate before[64];
	size_t n;
	pid_t pid = -1;

	for (size_t i = 0; i < OVER_LIMIT_NFDS; i++)
		fds[i] = (struct fdshare_pass){ .fd = 0, .name = NULL };
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		_exit(CHILD_NO_RLIMIT);
	n = snapshot(before, 64);
	CHECK_ERR(fdshare_exec(argv, NULL, fds, OVER_LIMIT_NFDS, 0), EMFILE);
	check_unchanged(before, n);
	CHECK_ERR(fdshare_spawn(&pid, argv, NULL, fds, OVER_LIMIT_NFDS, 0), EMFILE);
	CHECK_EQ(pid, -1);
	check_unchanged(before, n);
}

TEST(exec_and_spawn_past_rlimit_nofile)
{
	pid_t pid = fork();
	int st;

	CHECK(pid >= 0);
	if (pid == 0) {
		alarm(60);
		over_limit_child();
		_exit(0);
	}
	st = t_wait(pid);
	if (st == CHILD_NO_RLIMIT)
		t_skip("setrlimit(RLIMIT_NOFILE) refused (under valgrind)");
	CHECK_EQ(st, 0);
}
