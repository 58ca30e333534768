/*
 * Shared by the tests of fdshare_spawn and fdshare_exec: descriptors to
 * recognise, a temporary directory, the report tests/aux/act_check writes
 * there and what it must say, a child with a clean table to run a case in.
 */
#ifndef TEST_SPAWN_H
#define TEST_SPAWN_H

#include <fcntl.h>
#include <ftw.h>
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

static inline struct ident ident_of(int fd)
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
static inline int new_obj(struct ident *id, int write_end)
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
static inline void place(int obj, int at, int cloexec)
{
	CHECK_EQ(dup3(obj, at, cloexec ? O_CLOEXEC : 0), at);
}

/* ---- temporary directory and the report act_check writes there ---- */

struct tmp {
	char dir[64];
	char report[96];
};

static inline void tmp_make(struct tmp *t)
{
	snprintf(t->dir, sizeof t->dir, "/tmp/fdshare-spawn.XXXXXX");
	CHECK(mkdtemp(t->dir) != NULL);
	snprintf(t->report, sizeof t->report, "%s/report", t->dir);
}

static inline int rm_entry(const char *path, const struct stat *st, int flag,
                           struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static inline void tmp_clean(struct tmp *t)
{
	nftw(t->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static inline void tmp_file(const struct tmp *t, const char *name, const char *text,
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

static inline char *report_read(const char *path)
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
static inline const char *report_get(const char *rep, const char *key)
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

static inline int report_count(const char *rep, const char *key)
{
	size_t k = strlen(key);
	int n = 0;

	for (const char *l = rep; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		n += strncmp(l, key, k) == 0;
	return n;
}

/* "env NAME=" value up to the end of the line, in buf; NULL if absent. */
static inline const char *report_env(const char *rep, const char *name, char *buf,
                                      size_t size)
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

static inline int report_fd(const char *rep, int fd, struct ident *id, int *cloexec)
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

static inline int report_max_fd(const char *rep)
{
	int max = -1, fd;

	for (const char *l = rep; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (sscanf(l, "fd %d ", &fd) == 1 && fd > max)
			max = fd;
	return max;
}

static inline int same(struct ident a, struct ident b)
{
	return a.dev == b.dev && a.ino == b.ino && a.acc == b.acc;
}

/*
 * The program saw want[i] at 3 + i without FD_CLOEXEC, nothing else above
 * 2, and one of each LISTEN_* variable naming it (none when n is 0).
 */
static inline void check_seen(const char *rep, const struct ident *want, size_t n,
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
static inline pid_t run_check(const struct tmp *t, char *const envp[],
                              const struct fdshare_pass *fds, size_t n)
{
	char *argv[] = { (char *)t_aux("act_check"), (char *)t->report, NULL };
	pid_t pid = -1;

	CHECK_EQ(fdshare_spawn(&pid, argv, envp, fds, n, 0), 0);
	CHECK(pid > 0);
	CHECK_EQ(t_wait(pid), 0);
	return pid;
}

static inline void no_child_left(void)
{
	CHECK_ERR(waitpid(-1, NULL, WNOHANG), ECHILD);
}

/*
 * fn in a child with every fd from 3 to OBJ_BASE - 1 closed; the child's
 * pid once it exited 0 (fn may exec a program that exits 0).
 */
static inline pid_t in_child(void (*fn)(void))
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

static inline size_t snapshot(struct fdstate *s, size_t cap)
{
	size_t n = 0;

	for (int fd = 0; fd < 1024 && n < cap; fd++) {
		int fdflags = fcntl(fd, F_GETFD);

		if (fdflags >= 0)
			s[n++] = (struct fdstate){ fd, fdflags, fcntl(fd, F_GETFL), ident_of(fd) };
	}
	return n;
}

static inline void check_unchanged(const struct fdstate *before, size_t n)
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

static inline void objs_make(void)
{
	for (int i = 0; i < 4; i++)
		g_obj[i] = new_obj(&g_id[i], i == 1);
	tmp_make(&g_tmp);
}

static inline void objs_free(void)
{
	for (int i = 0; i < 4; i++)
		close(g_obj[i]);
	tmp_clean(&g_tmp);
}

#endif
