/*
 * fdshare_spawn and fdshare_exec: what the started program sees, reported
 * by tests/aux/act_check (and by libsystemd itself in tests/aux/sd_listen),
 * and what the caller keeps.
 */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdshare.h"
#include "t.h"

#define OBJ_BASE 100 /* test objects live here, away from 3, 4, ... */

struct ident {
	unsigned long long dev, ino;
	int acc;
};

static struct ident ident_of(int fd)
{
	struct ident id = { 0, 0, -1 };
	struct stat st;

	if (fstat(fd, &st) == 0) {
		id.dev = st.st_dev;
		id.ino = st.st_ino;
		id.acc = fcntl(fd, F_GETFL) & O_ACCMODE;
	}
	return id;
}

/* A pipe end of its own at OBJ_BASE or above: a descriptor to recognise. */
static int new_obj(struct ident *id, int write_end)
{
	int p[2], fd;

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	fd = fcntl(p[write_end], F_DUPFD_CLOEXEC, OBJ_BASE);
	close(p[0]);
	close(p[1]);
	CHECK(fd >= OBJ_BASE);
	*id = ident_of(fd);
	return fd;
}

/* In a child of a test: put obj at fd `at`, FD_CLOEXEC as asked. */
static void place(int obj, int at, int cloexec)
{
	CHECK_EQ(dup3(obj, at, cloexec ? O_CLOEXEC : 0), at);
}

/* ---- temporary directory and the report act_check writes there ---- */

struct tmp {
	char dir[64];
	char report[96];
};

static void tmp_make(struct tmp *t)
{
	snprintf(t->dir, sizeof t->dir, "/tmp/fdshare-spawn.XXXXXX");
	CHECK(mkdtemp(t->dir) != NULL);
	snprintf(t->report, sizeof t->report, "%s/report", t->dir);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void tmp_clean(struct tmp *t)
{
	nftw(t->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void tmp_file(const struct tmp *t, const char *name, const char *text,
                     mode_t mode, char *path, size_t size)
{
	int fd;

	snprintf(path, size, "%s/%s", t->dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	CHECK_EQ(fchmod(fd, mode), 0);
	close(fd);
}

static char *report_read(const char *path)
{
	static char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	CHECK(fd >= 0);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	CHECK(n > 0);
	buf[n] = '\0';
	return buf;
}

/* The rest of the first line starting with key, or NULL. */
static const char *report_get(const char *rep, const char *key)
{
	size_t k = strlen(key);

	for (const char *l = rep; *l; l = strchr(l, '\n') + 1) {
		if (strncmp(l, key, k) == 0)
			return l + k;
		if (strchr(l, '\n') == NULL)
			break;
	}
	return NULL;
}

static int report_count(const char *rep, const char *key)
{
	size_t k = strlen(key);
	int n = 0;

	for (const char *l = rep; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		n += strncmp(l, key, k) == 0;
	return n;
}

/* "env NAME=" value up to the end of the line, in buf; NULL if absent. */
static const char *report_env(const char *rep, const char *name, char *buf, size_t size)
{
	char key[64];
	const char *v;

	snprintf(key, sizeof key, "env %s=", name);
	v = report_get(rep, key);
	if (v == NULL)
		return NULL;
	snprintf(buf, size, "%.*s", (int)strcspn(v, "\n"), v);
	return buf;
}

static int report_fd(const char *rep, int fd, struct ident *id, int *cloexec)
{
	char key[32];
	const char *v;

	snprintf(key, sizeof key, "fd %d ", fd);
	v = report_get(rep, key);
	if (v == NULL)
		return 0;
	if (cloexec == NULL)
		return sscanf(v, "%llu %llu %d", &id->dev, &id->ino, &id->acc) == 3;
	return sscanf(v, "%llu %llu %d %d", &id->dev, &id->ino, &id->acc, cloexec) == 4;
}

static int report_max_fd(const char *rep)
{
	int max = -1, fd;

	for (const char *l = rep; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (sscanf(l, "fd %d ", &fd) == 1 && fd > max)
			max = fd;
	return max;
}

static int same(struct ident a, struct ident b)
{
	return a.dev == b.dev && a.ino == b.ino && a.acc == b.acc;
}

/*
 * The program saw want[i] at 3 + i without FD_CLOEXEC, nothing else above
 * 2, and one of each LISTEN_* variable naming it (none when n is 0).
 */
static void check_seen(const char *rep, const struct ident *want, size_t n,
                       pid_t pid, const char *names)
{
	char v[1024], num[32], id[32];

	for (size_t i = 0; i < n; i++) {
		struct ident got;
		int cx;

		CHECK(report_fd(rep, 3 + (int)i, &got, &cx));
		CHECK(same(got, want[i]));
		CHECK_EQ(cx, 0);
	}
	CHECK(report_max_fd(rep) < 3 + (int)n);
	CHECK_EQ(strtol(report_get(rep, "pid "), NULL, 10), pid);
	if (n == 0) {
		CHECK_EQ(report_count(rep, "env LISTEN_"), 0);
		return;
	}
	snprintf(num, sizeof num, "%zu", n);
	CHECK(report_env(rep, "LISTEN_FDS", v, sizeof v) && strcmp(v, num) == 0);
	snprintf(num, sizeof num, "%d", (int)pid);
	CHECK(report_env(rep, "LISTEN_PID", v, sizeof v) && strcmp(v, num) == 0);
	CHECK(report_env(rep, "LISTEN_FDNAMES", v, sizeof v) && strcmp(v, names) == 0);
	snprintf(id, sizeof id, "%.*s", (int)strcspn(report_get(rep, "pidfdid "), "\n"),
	         report_get(rep, "pidfdid "));
	if (strcmp(id, "-") == 0)
		CHECK(report_env(rep, "LISTEN_PIDFDID", v, sizeof v) == NULL);
	else
		CHECK(report_env(rep, "LISTEN_PIDFDID", v, sizeof v) && strcmp(v, id) == 0);
	CHECK_EQ(report_count(rep, "env LISTEN_FDS="), 1);
	CHECK_EQ(report_count(rep, "env LISTEN_PID="), 1);
	CHECK_EQ(report_count(rep, "env LISTEN_FDNAMES="), 1);
	CHECK(report_count(rep, "env LISTEN_PIDFDID=") <= 1);
}

/* Runs act_check with fds; returns its pid once it has exited 0. */
static pid_t run_check(const struct tmp *t, char *const envp[],
                       const struct fdshare_pass *fds, size_t n)
{
	char *argv[] = { (char *)t_aux("act_check"), (char *)t->report, NULL };
	pid_t pid = -1;

	CHECK_EQ(fdshare_spawn(&pid, argv, envp, fds, n, 0), 0);
	CHECK(pid > 0);
	CHECK_EQ(t_wait(pid), 0);
	return pid;
}

static void no_child_left(void)
{
	CHECK_ERR(waitpid(-1, NULL, WNOHANG), ECHILD);
}

/*
 * fn in a child with every fd from 3 to OBJ_BASE - 1 closed; the child's
 * pid once it exited 0 (fn may exec a program that exits 0).
 */
static pid_t in_child(void (*fn)(void))
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		alarm(60);
		CHECK_EQ(syscall(SYS_close_range, 3, OBJ_BASE - 1, 0), 0);
		fn();
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
	return pid;
}

/* Every open descriptor below 1024 with its flags. */
struct fdstate {
	int fd, fdflags, flags;
	struct ident id;
};

static size_t snapshot(struct fdstate *s, size_t cap)
{
	size_t n = 0;

	for (int fd = 0; fd < 1024 && n < cap; fd++) {
		int fdflags = fcntl(fd, F_GETFD);

		if (fdflags >= 0)
			s[n++] = (struct fdstate){ fd, fdflags, fcntl(fd, F_GETFL), ident_of(fd) };
	}
	return n;
}

static void check_unchanged(const struct fdstate *before, size_t n)
{
	struct fdstate now[256];

	CHECK_EQ(snapshot(now, 256), n);
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ(now[i].fd, before[i].fd);
		CHECK_EQ(now[i].fdflags, before[i].fdflags);
		CHECK_EQ(now[i].flags, before[i].flags);
		CHECK(same(now[i].id, before[i].id));
	}
}

/* Objects made by a test before in_child, for the child to place. */
static struct ident g_id[4];
static int g_obj[4];
static struct tmp g_tmp;

static void objs_make(void)
{
	for (int i = 0; i < 4; i++)
		g_obj[i] = new_obj(&g_id[i], i == 1);
	tmp_make(&g_tmp);
}

static void objs_free(void)
{
	for (int i = 0; i < 4; i++)
		close(g_obj[i]);
	tmp_clean(&g_tmp);
}


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

/* ---- environment and signals ---- */

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

/* ---- fdshare_exec ---- */

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
