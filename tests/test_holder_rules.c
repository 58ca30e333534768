/*
 * Who may do what in the holder, through the real daemon: root and the
 * owner only by default, then the grants of a rules file by uid, by gid
 * (primary or supplementary) and by cgroup, and its reload.
 */
#include "test_holder.h"

/*
 * In a child as uid u with these supplementary groups: what fetch, remove,
 * list and store of name give.
 */
static int as_member(const struct th *h, uid_t u, const gid_t *groups, size_t ngroups,
                     const char *name, int want_fetch, int want_remove, long want_list)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		struct fdshare_holder *c;
		int *fds, p[2];
		size_t n;

		alarm(30);
		th_become_in(u, groups, ngroups);
		c = fdshare_holder_connect(h->sock);
		if (c == NULL)
			_exit(10);
		errno = 0;
		if ((fdshare_fetch(c, name, &fds, &n, 0) == 0 ? 0 : errno) != want_fetch)
			_exit(11);
		if (want_fetch == 0) {
			close(fds[0]);
			free(fds);
		}
		if (th_list_count(c, NULL) != want_list)
			_exit(12);
		/* Its own entries are its own. */
		if (pipe(p) < 0 || fdshare_store(c, "own", p, 1, 0, 0) < 0 ||
		    fdshare_fetch(c, "own", &fds, &n, FDSHARE_FETCH_REMOVE) < 0)
			_exit(13);
		if ((fdshare_remove(c, name) == 0 ? 0 : errno) != want_remove)
			_exit(14);
		fdshare_holder_close(c);
		_exit(0);
	}
	return t_wait(pid);
}

static int as_uid(const struct th *h, uid_t u, const char *name, int want_fetch,
                  int want_remove, long want_list)
{
	return as_member(h, u, NULL, 0, name, want_fetch, want_remove, want_list);
}

TEST(acl_owner_and_root_only)
{
	const char *args[] = { "--mode", "0666", NULL };
	struct th h;
	struct fdshare_holder *c;
	int p[2], *fds;
	size_t n;
	pid_t pid;

	th_start(&h, args);
	c = th_connect(&h);
	th_pipe(p);
	CHECK(fdshare_store(c, "web", &p[0], 1, 0, 0) == 0);
	/* Uid 1001 can neither fetch nor remove nor see root's entry. */
	CHECK_EQ(as_uid(&h, 1001, "web", EACCES, EACCES, 0), 0);
	CHECK_EQ(th_list_count(c, NULL), 1);
	/* Root may fetch what uid 1002 stored; uid 1001 may not. */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct fdshare_holder *d;

		th_become(1002);
		d = fdshare_holder_connect(h.sock);
		_exit(d && fdshare_store(d, "u2", &p[1], 1, 0, 0) == 0 ? 0 : 1);
	}
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(as_uid(&h, 1001, "u2", EACCES, EACCES, 0), 0);
	CHECK(fdshare_fetch(c, "u2", &fds, &n, 0) == 0);
	CHECK(th_same_file(fds[0], p[1]));
	close(fds[0]);
	free(fds);
	/* Uid 1002 sees and removes its own. */
	CHECK_EQ(as_uid(&h, 1002, "u2", 0, 0, 1), 0);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}

/*
 * A rules file in a fresh directory, removed at exit even when a failed
 * CHECK leaves the test early.
 */
static char rules_dir[64];

static void rules_dir_remove(void)
{
	char path[128];

	if (rules_dir[0] == '\0')
		return;
	snprintf(path, sizeof path, "%s/rules", rules_dir);
	unlink(path);
	rmdir(rules_dir);
	rules_dir[0] = '\0';
}

static void rules_path(char *path, size_t size)
{
	static int registered;

	rules_dir_remove();
	if (!registered) {
		atexit(rules_dir_remove);
		registered = 1;
	}
	snprintf(rules_dir, sizeof rules_dir, "/tmp/fdshare-rules.XXXXXX");
	CHECK(mkdtemp(rules_dir) != NULL);
	snprintf(path, size, "%s/rules", rules_dir);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Wait for the holder's log to mention text (SIGHUP is asynchronous). */
static int log_has(const struct th *h, const char *text, int count)
{
	for (int i = 0; i < 500; i++) {
		char buf[16384];
		int fd = open(h->log, O_RDONLY | O_CLOEXEC), seen = 0;
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;

		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			for (char *s = buf; (s = strstr(s, text)); s++)
				seen++;
			if (seen >= count)
				return 1;
		}
		th_sleep_ms(10);
	}
	return 0;
}

TEST(rules_grant_and_reload)
{
	char rules[128];
	const char *args[] = { "--mode", "0666", "--rules", rules, NULL };
	struct th h;
	struct fdshare_holder *c;
	int p[2];

	rules_path(rules, sizeof rules);
	write_file(rules, "# test\nuid=1001 fetch,list web\ngid=1003 all\n");
	th_start(&h, args);
	c = th_connect(&h);
	th_pipe(p);
	CHECK(fdshare_store(c, "web-a", &p[0], 1, 0, 0) == 0);
	CHECK(fdshare_store(c, "db", &p[1], 1, 0, 0) == 0);
	/* 1001 may fetch and list web*, not remove it; nothing of db. */
	CHECK_EQ(as_uid(&h, 1001, "web-a", 0, EACCES, 1), 0);
	CHECK_EQ(as_uid(&h, 1001, "db", EACCES, EACCES, 1), 0);
	/* 1003 (by its gid) may do everything, to every name. */
	CHECK_EQ(as_uid(&h, 1003, "db", 0, 0, 2), 0);

	/* A bad reload keeps the old rules and says why, with the line. */
	write_file(rules, "uid=1001 fetch,list web\nuid=x fetch\n");
	kill(h.pid, SIGHUP);
	CHECK(log_has(&h, "line 2:", 1));
	CHECK_EQ(as_uid(&h, 1001, "web-a", 0, EACCES, 1), 0);
	/* A good one replaces them. */
	write_file(rules, "uid=1001 remove,fetch,list we\n");
	kill(h.pid, SIGHUP);
	CHECK(log_has(&h, "1 rule reloaded", 1));
	CHECK_EQ(as_uid(&h, 1001, "web-a", 0, 0, 1), 0);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
	rules_dir_remove();
}

/* gid=N matches a supplementary group too, however many the client has. */
TEST(rules_gid_supplementary_groups)
{
	char rules[128];
	const char *args[] = { "--mode", "0666", "--rules", rules, NULL };
	static const gid_t admin[] = { 1010, 1003 }, web[] = { 1004 };
	gid_t many[120];
	struct th h;
	struct fdshare_holder *c;
	int p[2];

	for (size_t i = 0; i < 119; i++)
		many[i] = (gid_t)(2000 + i);
	many[119] = 1003;
	rules_path(rules, sizeof rules);
	write_file(rules, "gid=1003 all\ngid=1004 fetch,list web\n");
	th_start(&h, args);
	c = th_connect(&h);
	th_pipe(p);
	CHECK(fdshare_store(c, "web-a", &p[0], 1, 0, 0) == 0);
	CHECK(fdshare_store(c, "db", &p[1], 1, 0, 0) == 0);
	/* In 1003 by a supplementary group: everything, to every name. */
	CHECK_EQ(as_member(&h, 1005, admin, 2, "db", 0, 0, 2), 0);
	CHECK(fdshare_store(c, "db", &p[1], 1, 0, 0) == 0);
	CHECK_EQ(as_member(&h, 1008, many, 120, "db", 0, 0, 2), 0);
	CHECK(fdshare_store(c, "db", &p[1], 1, 0, 0) == 0);
	/* In 1004: fetch and list web names only. */
	CHECK_EQ(as_member(&h, 1006, web, 1, "web-a", 0, EACCES, 1), 0);
	CHECK_EQ(as_member(&h, 1006, web, 1, "db", EACCES, EACCES, 1), 0);
	/* In no group of a rule: nothing. */
	CHECK_EQ(as_member(&h, 1007, many, 119, "web-a", EACCES, EACCES, 0), 0);
	CHECK_EQ(as_uid(&h, 1007, "db", EACCES, EACCES, 0), 0);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
	rules_dir_remove();
}

TEST(rules_malformed_refused_at_start)
{
	char rules[128], sock[160];
	pid_t pid;
	int st;

	rules_path(rules, sizeof rules);
	snprintf(sock, sizeof sock, "%s/h.sock", rules_dir);
	write_file(rules, "uid=1 fetch\n\ncgroup=relative fetch\n");
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		execl(th_fdshare(), "fdshare", "holder", "--socket", sock, "--rules",
		      rules, (char *)NULL);
		_exit(127);
	}
	st = t_wait(pid);
	CHECK_EQ(st, 1);
	CHECK(access(sock, F_OK) < 0);
	rules_dir_remove();
}

static char cg[256]; /* the test's cgroup, removed at exit if left */

static void cg_remove(void)
{
	if (cg[0])
		rmdir(cg);
}

/* A cgroup rule: a child moved into a fresh cgroup v2 gets the grant. */
TEST(rules_cgroup)
{
	static const char *roots[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	char rules[128], line[300], procs[300];
	const char *args[] = { "--mode", "0666", "--rules", rules, NULL };
	const char *root = NULL;
	struct th h;
	struct fdshare_holder *c;
	int p[2], go[2];
	pid_t pid;

	for (size_t i = 0; i < 2 && !root; i++) {
		struct stat st;
		char f[300];

		snprintf(f, sizeof f, "%s/cgroup.procs", roots[i]);
		snprintf(line, sizeof line, "%s/cgroup.controllers", roots[i]);
		if (stat(f, &st) == 0 && access(line, F_OK) == 0)
			root = roots[i];
	}
	if (root == NULL)
		t_skip("no cgroup v2 hierarchy");
	snprintf(cg, sizeof cg, "%s/fdshare-test-%d", root, (int)getpid());
	if (mkdir(cg, 0755) < 0)
		t_skip("cannot create a cgroup under %s: %s", root, strerror(errno));
	atexit(cg_remove);
	rules_path(rules, sizeof rules);
	snprintf(line, sizeof line, "cgroup=/fdshare-test-%d fetch,list web\n",
	         (int)getpid());
	write_file(rules, line);
	th_start(&h, args);
	c = th_connect(&h);
	th_pipe(p);
	CHECK(fdshare_store(c, "web", &p[0], 1, 0, 0) == 0);
	CHECK_EQ(as_uid(&h, 1001, "web", EACCES, EACCES, 0), 0); /* not in it */
	CHECK(pipe2(go, O_CLOEXEC) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char x;

		alarm(30);
		close(go[1]);
		if (read(go[0], &x, 1) != 1)
			_exit(20);
		_exit(as_uid(&h, 1001, "web", 0, EACCES, 1));
	}
	close(go[0]);
	snprintf(procs, sizeof procs, "%s/cgroup.procs", cg);
	snprintf(line, sizeof line, "%d\n", (int)pid);
	{
		int fd = open(procs, O_WRONLY | O_CLOEXEC);
		int moved = fd >= 0 && write(fd, line, strlen(line)) > 0;

		if (fd >= 0)
			close(fd);
		CHECK_EQ(write(go[1], "x", 1), 1);
		close(go[1]);
		if (!moved) {
			t_wait(pid);
			rmdir(cg);
			close(p[0]);
			close(p[1]);
			fdshare_holder_close(c);
			th_stop(&h);
			t_skip("cannot move a process into %s", cg);
		}
	}
	CHECK_EQ(t_wait(pid), 0);
	rmdir(cg);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
	rules_dir_remove();
}
