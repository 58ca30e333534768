/*
 * fdshare_spawn: the environment and signal state the started program
 * sees (reported by tests/aux/act_check), and libsystemd's own reading of
 * the LISTEN_* variables it was given (tests/aux/sd_listen).
 */
#include <signal.h>

#include "test_spawn.h"

TEST(spawn_stale_env)
{
	char *envp[] = { "LISTEN_FDS=9", "LISTEN_PID=1", "LISTEN_FDNAMES=x:y",
	                 "LISTEN_PIDFDID=5", "LISTEN_FDS", "LISTEN_FDSX=keep",
	                 "FDSHARE_TEST_A=1", NULL };
	struct ident id;
	struct tmp t;
	int obj = new_obj(&id, 0);
	struct fdshare_pass fds[] = { { obj, "new" } };
	const char *rep;
	pid_t pid;

	tmp_make(&t);
	pid = run_check(&t, envp, fds, 1);
	rep = report_read(t.report);
	check_seen(rep, &id, 1, pid, "new");
	CHECK_EQ(report_count(rep, "env LISTEN_FDS\n"), 0);
	CHECK(report_get(rep, "env LISTEN_FDSX=keep\n") != NULL);
	CHECK(report_get(rep, "env FDSHARE_TEST_A=1\n") != NULL);
	close(obj);
	tmp_clean(&t);
}

static int listed(const char *list, int sig)
{
	char *end;

	for (const char *p = list; *p && *p != '\n'; p = *end ? end + 1 : end) {
		if (strtol(p, &end, 10) == sig)
			return 1;
		if (end == p)
			break;
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
}

static void signals_child(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t set;
	const char *rep;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	CHECK_EQ(sigprocmask(SIG_BLOCK, &set, NULL), 0);
	CHECK_EQ(sigaction(SIGTERM, &sa, NULL), 0);
	CHECK(signal(SIGUSR2, SIG_IGN) != SIG_ERR);
	CHECK_EQ(setenv("FDSHARE_TEST_ENVIRON", "yes", 1), 0);
	run_check(&g_tmp, NULL, NULL, 0);
	rep = report_read(g_tmp.report);
	CHECK(report_get(rep, "mask -\n") != NULL);
	CHECK(listed(report_get(rep, "ign "), SIGUSR2));
	CHECK(!listed(report_get(rep, "ign "), SIGTERM));
	CHECK(report_get(rep, "env FDSHARE_TEST_ENVIRON=yes\n") != NULL);
	CHECK_EQ(sigprocmask(SIG_BLOCK, NULL, &set), 0);
	CHECK_EQ(sigismember(&set, SIGUSR1), 1); /* the caller's mask kept */
}

TEST(spawn_signals_and_environ)
{
	objs_make();
	in_child(signals_child);
	objs_free();
}

/* ---- libsystemd reads what fdshare_spawn passed ---- */

static void sd_child(void)
{
	struct fdshare_pass fds[] = { { 5, "c" }, { 3, "a" }, { 4, "b" }, { 5, "again" } };
	struct ident want[] = { g_id[2], g_id[0], g_id[1], g_id[2] }, got;
	char *argv[] = { (char *)t_aux("sd_listen"), g_tmp.report, NULL };
	const char *rep, *names[] = { "c", "a", "b", "again" };
	char key[64];
	pid_t pid;

	place(g_obj[0], 3, 0);
	place(g_obj[1], 4, 1);
	place(g_obj[2], 5, 0);
	CHECK_EQ(fdshare_spawn(&pid, argv, NULL, fds, 4, 0), 0);
	CHECK_EQ(t_wait(pid), 0);
	rep = report_read(g_tmp.report);
	CHECK(report_get(rep, "n 4\n") != NULL);
	CHECK(report_get(rep, "listen_pid_ok 1\n") != NULL);
	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof key, "name %d %s\n", i, names[i]);
		CHECK(report_get(rep, key) != NULL);
		CHECK(report_fd(rep, 3 + i, &got, NULL) && same(got, want[i]));
	}
}

TEST(sd_listen_interop)
{
	if (access(t_aux("sd_listen"), X_OK) != 0)
		t_skip("%s not built (needs libsystemd-dev)", t_aux("sd_listen"));
	objs_make();
	in_child(sd_child);
	objs_free();
}
