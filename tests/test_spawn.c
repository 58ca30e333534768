/*
 * fdshare_spawn: the descriptors the started program sees, reported by
 * tests/aux/act_check, what the caller keeps, and the failures.  (Its
 * environment and signals: test_spawn_env.c; fdshare_exec:
 * test_spawn_exec.c.)
 */
#include <limits.h>

#include "test_spawn.h"

/* ---- what the started program sees ---- */

TEST(spawn_no_fds)
{
	struct tmp t;
	struct ident id;
	int leak = new_obj(&id, 0);
	char *envp[] = { "FDSHARE_TEST_MARK=1", "LISTEN_FDS=2", "LISTEN_PID=1",
	                 "LISTEN_FDNAMES=a:b", "LISTEN_PIDFDID=7", "LISTEN_FDS", NULL };
	const char *rep;
	pid_t pid;

	tmp_make(&t);
	CHECK_EQ(fcntl(leak, F_SETFD, 0), 0); /* inheritable, yet to be closed */
	pid = run_check(&t, envp, NULL, 0);
	rep = report_read(t.report);
	check_seen(rep, NULL, 0, pid, NULL);
	CHECK(report_get(rep, "env FDSHARE_TEST_MARK=1\n") != NULL);
	close(leak);
	tmp_clean(&t);
}

TEST(spawn_one_fd)
{
	struct tmp t;
	struct ident id;
	int obj = new_obj(&id, 0);
	struct fdshare_pass fds[] = { { obj, "web" } };
	pid_t pid;

	tmp_make(&t);
	pid = run_check(&t, NULL, fds, 1);
	check_seen(report_read(t.report), &id, 1, pid, "web");
	CHECK_EQ(fcntl(obj, F_GETFD), FD_CLOEXEC); /* the caller's flag kept */
	close(obj);
	tmp_clean(&t);
}

TEST(spawn_several_fds)
{
	static const char *names[5] = { "a", NULL, "with space", "x.y-z_1", "unknown" };
	struct fdshare_pass fds[5];
	struct ident id[5];
	struct tmp t;
	pid_t pid;

	tmp_make(&t);
	for (int i = 0; i < 5; i++)
		fds[i] = (struct fdshare_pass){ new_obj(&id[i], i % 2), names[i] };
	pid = run_check(&t, NULL, fds, 5);
	check_seen(report_read(t.report), id, 5, pid, "a:unknown:with space:x.y-z_1:unknown");
	for (int i = 0; i < 5; i++)
		close(fds[i].fd);
	tmp_clean(&t);
}

static void swap_child(void)
{
	struct fdshare_pass fds[] = { { 4, "four" }, { 3, "three" } };
	struct ident want[] = { g_id[1], g_id[0] };
	pid_t pid;

	place(g_obj[0], 3, 0);
	place(g_obj[1], 4, 1);
	pid = run_check(&g_tmp, NULL, fds, 2);
	check_seen(report_read(g_tmp.report), want, 2, pid, "four:three");
}

TEST(spawn_swap)
{
	objs_make();
	in_child(swap_child);
	objs_free();
}

static void cycle_child(void)
{
	struct fdshare_pass fds[] = { { 5, "c" }, { 3, "a" }, { 4, "b" } };
	struct ident want[] = { g_id[2], g_id[0], g_id[1] };
	pid_t pid;

	place(g_obj[0], 3, 1);
	place(g_obj[1], 4, 0);
	place(g_obj[2], 5, 1);
	pid = run_check(&g_tmp, NULL, fds, 3);
	check_seen(report_read(g_tmp.report), want, 3, pid, "c:a:b");
}

TEST(spawn_cycle)
{
	objs_make();
	in_child(cycle_child);
	objs_free();
}

/* The same fd twice, and a source above the targets that must not stay. */
static void repeat_child(void)
{
	struct fdshare_pass fds[] = { { 7, "x" }, { 7, "x" }, { 3, "y" } };
	struct ident want[] = { g_id[0], g_id[0], g_id[1] };
	pid_t pid;

	place(g_obj[0], 7, 0);
	place(g_obj[1], 3, 0);
	pid = run_check(&g_tmp, NULL, fds, 3);
	check_seen(report_read(g_tmp.report), want, 3, pid, "x:x:y");
}

TEST(spawn_same_fd_twice)
{
	objs_make();
	in_child(repeat_child);
	objs_free();
}

static void stdio_child(void)
{
	struct fdshare_pass fds[] = { { 0, "in" }, { 1, "out" }, { 2, "err" } };
	struct ident want[] = { g_id[0], g_id[1], ident_of(2) }, got;
	const char *rep;
	pid_t pid;
	int cx;

	place(g_obj[0], 0, 0);
	place(g_obj[1], 1, 0);
	pid = run_check(&g_tmp, NULL, fds, 3);
	rep = report_read(g_tmp.report);
	check_seen(rep, want, 3, pid, "in:out:err");
	CHECK(report_fd(rep, 0, &got, &cx) && same(got, g_id[0]));
	CHECK(report_fd(rep, 1, &got, &cx) && same(got, g_id[1]));
}

TEST(spawn_stdio_sources)
{
	objs_make();
	in_child(stdio_child);
	objs_free();
}

/* The caller's table, flags included, is the same after a spawn. */
static void unchanged_child(void)
{
	struct fdshare_pass fds[] = { { 5, NULL }, { 3, NULL }, { 4, NULL }, { 0, NULL },
	                              { 9, NULL } };
	struct fdstate before[64];
	size_t n;

	place(g_obj[0], 3, 1);
	place(g_obj[1], 4, 0);
	place(g_obj[2], 5, 0);
	place(g_obj[3], 9, 1);
	CHECK_EQ(fcntl(4, F_SETFL, O_NONBLOCK), 0);
	n = snapshot(before, 64);
	run_check(&g_tmp, NULL, fds, 5);
	check_unchanged(before, n);
}

TEST(spawn_leaves_caller_fds)
{
	objs_make();
	in_child(unchanged_child);
	objs_free();
}

/* ---- failures ---- */

TEST(spawn_enoent)
{
	struct tmp t;
	struct ident id;
	char script[128];
	char *name[] = { "fdshare-no-such-program", NULL };
	char *path[] = { "/nonexistent/fdshare/prog", NULL };
	char *interp[] = { script, NULL };
	int obj = new_obj(&id, 0);
	struct fdshare_pass fds[] = { { obj, "a" }, { obj, "b" } };
	pid_t pid = 0;

	tmp_make(&t);
	tmp_file(&t, "script", "#!/nonexistent/interpreter\n", 0755, script, sizeof script);
	CHECK_ERR(fdshare_spawn(&pid, name, NULL, fds, 2, 0), ENOENT);
	CHECK_ERR(fdshare_spawn(&pid, path, NULL, NULL, 0, 0), ENOENT);
	/* found, but execve fails in the child: its errno comes back */
	CHECK_ERR(fdshare_spawn(&pid, interp, NULL, fds, 2, 0), ENOENT);
	CHECK_ERR(fdshare_spawn(&pid, interp, NULL, NULL, 0, 0), ENOENT);
	CHECK_EQ(pid, 0);
	no_child_left();
	close(obj);
	tmp_clean(&t);
}

TEST(spawn_eacces)
{
	struct tmp t;
	char noexec[128], script[160], text[200];
	char *plain[] = { noexec, NULL };
	char *interp[] = { script, NULL };
	char *dir[] = { t.dir, NULL };
	pid_t pid = 0;

	tmp_make(&t);
	tmp_file(&t, "noexec", "#!/bin/sh\n", 0644, noexec, sizeof noexec);
	snprintf(text, sizeof text, "#!%s\n", noexec);
	tmp_file(&t, "script", text, 0755, script, sizeof script);
	CHECK_ERR(fdshare_spawn(&pid, plain, NULL, NULL, 0, 0), EACCES);
	CHECK_ERR(fdshare_spawn(&pid, dir, NULL, NULL, 0, 0), EACCES);
	CHECK_ERR(fdshare_spawn(&pid, interp, NULL, NULL, 0, 0), EACCES); /* in the child */
	CHECK_EQ(pid, 0);
	no_child_left();
	tmp_clean(&t);
}

TEST(spawn_enoexec)
{
	struct tmp t;
	struct ident id;
	struct fdstate before[256];
	char garbage[128];
	char *argv[] = { garbage, NULL };
	int obj = new_obj(&id, 0);
	struct fdshare_pass fds[] = { { obj, "a" }, { 0, "b" } };
	size_t n;

	tmp_make(&t);
	tmp_file(&t, "garbage", "\x01\x02\x03 not a program\n", 0755, garbage, sizeof garbage);
	n = snapshot(before, 256);
	CHECK_ERR(fdshare_spawn(NULL, argv, NULL, fds, 2, 0), ENOEXEC);
	check_unchanged(before, n);
	no_child_left();
	close(obj);
	tmp_clean(&t);
}

static char g_dir_a[128], g_dir_b[128];

static void path_child(void)
{
	char *argv[] = { "act_check", g_tmp.report, NULL };
	char path[300];
	pid_t pid;

	snprintf(path, sizeof path, "%s:%s", g_dir_a, g_dir_b);
	CHECK_EQ(setenv("PATH", path, 1), 0);
	CHECK_EQ(fdshare_spawn(&pid, argv, NULL, NULL, 0, 0), 0); /* past a/'s EACCES */
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(strtol(report_get(report_read(g_tmp.report), "pid "), NULL, 10), pid);
	CHECK_EQ(setenv("PATH", g_dir_a, 1), 0);
	CHECK_ERR(fdshare_spawn(&pid, argv, NULL, NULL, 0, 0), EACCES);
	CHECK_EQ(setenv("PATH", g_tmp.dir, 1), 0);
	CHECK_ERR(fdshare_spawn(&pid, argv, NULL, NULL, 0, 0), ENOENT);
}

TEST(spawn_path_search)
{
	char real[PATH_MAX], file[200];

	CHECK(realpath(t_aux("act_check"), real) != NULL);
	objs_make();
	snprintf(g_dir_a, sizeof g_dir_a, "%s/a", g_tmp.dir);
	snprintf(g_dir_b, sizeof g_dir_b, "%s/b", g_tmp.dir);
	CHECK_EQ(mkdir(g_dir_a, 0755), 0);
	CHECK_EQ(mkdir(g_dir_b, 0755), 0);
	snprintf(file, sizeof file, "%s/act_check", g_dir_a);
	CHECK(close(open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) == 0);
	snprintf(file, sizeof file, "%s/act_check", g_dir_b);
	CHECK_EQ(symlink(real, file), 0);
	in_child(path_child);
	objs_free();
}

TEST(spawn_bad_names)
{
	char ok[256], toolong[257];
	const char *bad[] = { "", "a:b", "tab\there", "nl\n", "del\x7f", "\xc3\xa9t\xc3\xa9",
	                      "back\\slash", toolong };
	struct ident id;
	struct tmp t;
	int obj = new_obj(&id, 0);
	char *argv[] = { (char *)t_aux("act_check"), t.report, NULL };
	pid_t pid = 0;

	memset(ok, 'n', 255);
	ok[255] = '\0';
	memset(toolong, 'n', 256);
	toolong[256] = '\0';
	tmp_make(&t);
	CHECK_EQ(fdshare_fdname_valid(ok), 1);
	CHECK_EQ(fdshare_fdname_valid(" ~printable!"), 1);
	CHECK_EQ(fdshare_fdname_valid(NULL), 0);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct fdshare_pass fds[] = { { obj, "good" }, { obj, bad[i] } };

		CHECK_EQ(fdshare_fdname_valid(bad[i]), 0);
		CHECK_ERR(fdshare_spawn(&pid, argv, NULL, fds, 2, 0), EINVAL);
		CHECK_ERR(fdshare_exec(argv, NULL, fds, 2, 0), EINVAL);
	}
	CHECK_EQ(pid, 0);
	no_child_left();
	CHECK(access(t.report, F_OK) < 0); /* nothing ran */
	{
		struct fdshare_pass fds[] = { { obj, ok } };

		pid = run_check(&t, NULL, fds, 1);
		check_seen(report_read(t.report), &id, 1, pid, ok);
	}
	close(obj);
	tmp_clean(&t);
}

TEST(spawn_bad_args)
{
	struct ident id;
	int obj = new_obj(&id, 0), closed = new_obj(&id, 0);
	char *argv[] = { "true", NULL }, *empty[] = { NULL };
	struct fdshare_pass ok[] = { { obj, NULL } }, neg[] = { { -1, NULL } },
	                    gone[] = { { obj, NULL }, { closed, NULL } };
	pid_t pid = 0;

	close(closed);
	CHECK_ERR(fdshare_spawn(&pid, argv, NULL, ok, 1, 0x100), EINVAL);
	CHECK_ERR(fdshare_spawn(&pid, argv, NULL, ok, 1, FDSHARE_NOCLOEXEC), EINVAL);
	CHECK_ERR(fdshare_spawn(&pid, NULL, NULL, ok, 1, 0), EINVAL);
	CHECK_ERR(fdshare_spawn(&pid, empty, NULL, ok, 1, 0), EINVAL);
	CHECK_ERR(fdshare_spawn(&pid, argv, NULL, NULL, 1, 0), EINVAL);
	CHECK_ERR(fdshare_spawn(&pid, argv, NULL, neg, 1, 0), EBADF);
	CHECK_ERR(fdshare_spawn(&pid, argv, NULL, gone, 2, 0), EBADF);
	CHECK_ERR(fdshare_exec(argv, NULL, ok, 1, 0x100), EINVAL);
	CHECK_ERR(fdshare_exec(argv, NULL, gone, 2, 0), EBADF);
	CHECK_EQ(pid, 0);
	no_child_left();
	close(obj);
}
