/*
 * The socket path helper (src/lib/sockpath.h) that the holder, fdshare
 * recv and fdshare listen use: what it refuses and leaves untouched, the
 * stale socket it replaces (and only that inode), the exact mode.
 */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "../src/lib/sockpath.h"

#define BOTH_WAYS(flags) for (int flags = 0; flags <= SOCKPATH_RENAME; flags += SOCKPATH_RENAME)

static char dir[64];
static char path[128];

/* A fresh directory (mode 0755) and path = dir/s. */
static void fresh(void)
{
	snprintf(dir, sizeof dir, "/tmp/fdshare-sockpath.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	CHECK(chmod(dir, 0755) == 0);
	snprintf(path, sizeof path, "%s/s", dir);
}

static void rm_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[sizeof dir + sizeof e->d_name + 2];

	if (d == NULL)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			if (unlink(p) < 0)
				rmdir(p);
		}
	closedir(d);
	rmdir(dir);
}

/* Entries in dir. */
static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	CHECK(d != NULL);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* A socket file at p nobody listens on. */
static void stale_at(const char *p)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(s >= 0);
	strcpy(sun.sun_path, p);
	CHECK(bind(s, (struct sockaddr *)&sun, sizeof sun) == 0);
	close(s);
}

static int reaches(const char *p)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	CHECK(s >= 0);
	strcpy(sun.sun_path, p);
	r = connect(s, (struct sockaddr *)&sun, sizeof sun) == 0;
	close(s);
	return r;
}

static void write_file(const char *p, const char *text)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static int file_is(const char *p, const char *text)
{
	char buf[256];
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof buf);
	close(fd);
	return n == (ssize_t)strlen(text) && memcmp(buf, text, (size_t)n) == 0;
}

static void done(struct sockpath *sp)
{
	CHECK(sockpath_unlink(sp) == 0);
	close(sp->fd);
}

TEST(fresh_path_exact_mode)
{
	static const mode_t modes[] = { 0600, 0666, 0660, 0640, 0 };
	struct sockpath sp;
	struct stat st;

	fresh();
	BOTH_WAYS(flags)
		for (int m = 0; modes[m]; m++)
			for (int u = 0; u < 2; u++) {
				mode_t caller = u ? 0077 : 0, old = umask(caller);

				CHECK(sockpath_check(&sp, path, 0) == 0);
				CHECK_EQ(sp.found, 0);
				CHECK(sockpath_listen(&sp, modes[m], (gid_t)-1, 8, flags) == 0);
				CHECK_EQ(umask(old), caller); /* given back as it was */
				CHECK(lstat(path, &st) == 0);
				CHECK(S_ISSOCK(st.st_mode));
				CHECK_EQ(st.st_mode & 07777, modes[m]);
				CHECK(st.st_dev == sp.dev && st.st_ino == sp.ino);
				CHECK(reaches(path));
				CHECK_EQ(entries(), 1); /* no temporary name left */
				done(&sp);
				CHECK_ERR(lstat(path, &st), ENOENT);
			}
	rm_dir();
}

TEST(group_and_mode)
{
	struct sockpath sp;
	struct stat st;

	fresh();
	BOTH_WAYS(flags) {
		CHECK(sockpath_check(&sp, path, 0) == 0);
		CHECK(sockpath_listen(&sp, 0660, 1234, 8, flags | SOCKPATH_NONBLOCK) == 0);
		CHECK(lstat(path, &st) == 0);
		CHECK_EQ(st.st_mode & 07777, 0660);
		CHECK_EQ(st.st_gid, 1234);
		CHECK(fcntl(sp.fd, F_GETFL) & O_NONBLOCK);
		done(&sp);
	}
	rm_dir();
}

/*
 * A watcher reads the modes of the path and of its temporary name as fast
 * as it can while the socket is made again and again: no moment may be
 * looser than asked (0660 for group 1234; the other bits none).
 */
TEST(no_looser_moment)
{
	char tmp[160];
	struct sockpath sp;
	int ready[2];
	pid_t w, parent;

	fresh();
	snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
	CHECK(pipe2(ready, O_CLOEXEC) == 0);
	parent = getpid();
	w = fork();
	CHECK(w >= 0);
	if (w == 0) {
		const char *p[2] = { path, tmp };

		/* Until killed: with its parent, if that dies first. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(2);
		close(ready[0]);
		close(ready[1]);
		for (;;)
			for (int i = 0; i < 2; i++) {
				struct stat st;

				if (lstat(p[i], &st) < 0)
					continue;
				if ((st.st_mode & 0777 & ~0660) ||
				    ((st.st_mode & 070) && st.st_gid != 1234))
					_exit(1); /* seen looser than asked */
			}
	}
	close(ready[1]);
	close(ready[0]);
	BOTH_WAYS(flags)
		for (int i = 0; i < 300; i++) {
			CHECK(sockpath_check(&sp, path, 0) == 0);
			CHECK(sockpath_listen(&sp, 0660, 1234, 8, flags) == 0);
			done(&sp);
		}
	{
		int st;

		/* Still watching: it saw nothing (it exits 1 if it did). */
		if (waitpid(w, &st, WNOHANG) != 0)
			t_fail(__FILE__, __LINE__, "the watcher %s %d",
			       WIFEXITED(st) ? "exited" : "was killed by signal",
			       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		kill(w, SIGKILL);
		CHECK_EQ(t_wait(w), 128 + SIGKILL);
	}
	rm_dir();
}

TEST(symlink_refused_target_untouched)
{
	char target[160], sock[160];
	struct sockpath sp, live;

	fresh();
	snprintf(target, sizeof target, "%s/target", dir);
	write_file(target, "precious\n");
	CHECK(symlink(target, path) == 0);
	CHECK_ERR(sockpath_check(&sp, path, 0), ELOOP);
	CHECK_EQ(sp.failed, SP_PATH);
	CHECK_ERR(sockpath_check(&sp, path, SOCKPATH_TAKEOVER), ELOOP);
	CHECK(file_is(target, "precious\n"));
	unlink(path);
	/* A dangling one, and one to a live socket: refused the same. */
	CHECK(symlink("/nonexistent/fdshare", path) == 0);
	CHECK_ERR(sockpath_check(&sp, path, 0), ELOOP);
	unlink(path);
	snprintf(sock, sizeof sock, "%s/live", dir);
	CHECK(sockpath_check(&live, sock, 0) == 0);
	CHECK(sockpath_listen(&live, 0600, (gid_t)-1, 8, 0) == 0);
	CHECK(symlink(sock, path) == 0);
	CHECK_ERR(sockpath_check(&sp, path, 0), ELOOP);
	CHECK(reaches(sock));
	done(&live);
	unlink(path);
	unlink(target);
	rm_dir();
}

/* A directory writable by others: refused unless sticky. */
TEST(unsafe_directory_refused)
{
	struct sockpath sp;

	fresh();
	CHECK(chmod(dir, 0777) == 0);
	CHECK_ERR(sockpath_check(&sp, path, 0), EPERM);
	CHECK_EQ(sp.failed, SP_DIR);
	CHECK(chmod(dir, 0757) == 0);
	CHECK_ERR(sockpath_check(&sp, path, 0), EPERM);
	CHECK(chmod(dir, 01777) == 0);
	CHECK(sockpath_check(&sp, path, 0) == 0);
	/* Made unsafe between check and listen: checked again. */
	CHECK(chmod(dir, 0777) == 0);
	CHECK_ERR(sockpath_listen(&sp, 0600, (gid_t)-1, 8, 0), EPERM);
	CHECK_EQ(entries(), 0);
	CHECK(chmod(dir, 0775) == 0); /* the group's: its owner's business */
	CHECK(sockpath_check(&sp, path, 0) == 0);
	CHECK(sockpath_listen(&sp, 0600, (gid_t)-1, 8, 0) == 0);
	done(&sp);
	/* A relative path: its directory is ".". */
	{
		int here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);

		CHECK(here >= 0);
		CHECK(chdir(dir) == 0);
		CHECK(chmod(dir, 0777) == 0);
		CHECK_ERR(sockpath_check(&sp, "s", 0), EPERM);
		CHECK(chmod(dir, 0755) == 0);
		CHECK(sockpath_check(&sp, "s", 0) == 0);
		CHECK(fchdir(here) == 0);
		close(here);
	}
	rm_dir();
}

TEST(not_a_socket_left_alone)
{
	char fifo[160];
	struct sockpath sp;

	fresh();
	write_file(path, "data\n");
	BOTH_WAYS(flags) {
		CHECK_ERR(sockpath_check(&sp, path, 0), EEXIST);
		CHECK_EQ(sp.failed, SP_PATH);
	}
	CHECK(file_is(path, "data\n"));
	unlink(path);
	CHECK(mkdir(path, 0700) == 0);
	CHECK_ERR(sockpath_check(&sp, path, 0), EEXIST);
	rmdir(path);
	snprintf(fifo, sizeof fifo, "%s/s", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	CHECK_ERR(sockpath_check(&sp, path, SOCKPATH_TAKEOVER), EEXIST);
	CHECK(unlink(fifo) == 0);
	rm_dir();
}

TEST(stale_replaced_live_refused)
{
	struct sockpath sp, live;
	struct stat after;

	fresh();
	BOTH_WAYS(flags) {
		stale_at(path);
		CHECK(sockpath_check(&sp, path, 0) == 0);
		CHECK_EQ(sp.found, 1);
		CHECK(sockpath_listen(&sp, 0600, (gid_t)-1, 8, flags) == 0);
		CHECK(lstat(path, &after) == 0);
		CHECK(S_ISSOCK(after.st_mode) && after.st_ino == sp.ino);
		CHECK(reaches(path)); /* so it is the new one */
		CHECK_EQ(entries(), 1);
		/* Now live: refused, and left serving. */
		CHECK_ERR(sockpath_check(&live, path, 0), EADDRINUSE);
		CHECK_EQ(live.failed, SP_PATH);
		CHECK(reaches(path));
		/* Taken over: the new one replaces the live one at once. */
		CHECK(sockpath_check(&live, path, SOCKPATH_TAKEOVER) == 0);
		CHECK_EQ(live.found, 1);
		CHECK(sockpath_listen(&live, 0600, (gid_t)-1, 8,
		                      SOCKPATH_RENAME | SOCKPATH_TAKEOVER) == 0);
		CHECK(lstat(path, &after) == 0);
		CHECK(after.st_ino == live.ino);
		CHECK_EQ(entries(), 1);
		/* The old one's unlink leaves the new one alone. */
		CHECK_ERR(sockpath_unlink(&sp), ENOENT);
		close(sp.fd);
		CHECK(reaches(path));
		done(&live);
	}
	rm_dir();
}

/*
 * What was checked is swapped for something else before listen: a regular
 * file or a live socket.  Never unlinked, never renamed over; with RENAME
 * the exchange is undone and the temporary name removed.
 */
TEST(swapped_after_check_left_alone)
{
	struct sockpath sp;
	struct stat st;

	fresh();
	BOTH_WAYS(flags) {
		stale_at(path);
		CHECK(sockpath_check(&sp, path, 0) == 0);
		CHECK(unlink(path) == 0);
		write_file(path, "swapped in\n");
		CHECK_ERR(sockpath_listen(&sp, 0600, (gid_t)-1, 8, flags), EEXIST);
		CHECK_EQ(sp.failed, SP_SOCKET);
		CHECK(file_is(path, "swapped in\n"));
		CHECK_EQ(entries(), 1);
		CHECK(unlink(path) == 0);
		/*
		 * A live socket in its place (which may even have the inode
		 * number of the stale one): left alone, still serving.
		 */
		stale_at(path);
		CHECK(sockpath_check(&sp, path, 0) == 0);
		CHECK(unlink(path) == 0);
		{
			struct sockpath other;

			CHECK(sockpath_check(&other, path, 0) == 0);
			CHECK(sockpath_listen(&other, 0600, (gid_t)-1, 8, 0) == 0);
			CHECK_ERR(sockpath_listen(&sp, 0600, (gid_t)-1, 8, flags),
			          sp.old_ino == other.ino ? EADDRINUSE : EEXIST);
			CHECK(lstat(path, &st) == 0 && st.st_ino == other.ino);
			CHECK(reaches(path));
			CHECK_EQ(entries(), 1);
			done(&other);
		}
		/* Gone meanwhile: made all the same. */
		stale_at(path);
		CHECK(sockpath_check(&sp, path, 0) == 0);
		CHECK(unlink(path) == 0);
		CHECK(sockpath_listen(&sp, 0600, (gid_t)-1, 8, flags) == 0);
		done(&sp);
		/* Created meanwhile where nothing was: not replaced. */
		CHECK(sockpath_check(&sp, path, 0) == 0);
		write_file(path, "new\n");
		CHECK(sockpath_listen(&sp, 0600, (gid_t)-1, 8, flags) == -1);
		CHECK(errno == EEXIST || errno == EADDRINUSE);
		CHECK(file_is(path, "new\n"));
		CHECK_EQ(entries(), 1);
		CHECK(unlink(path) == 0);
	}
	rm_dir();
}

/* PATH.PID left by a dead namesake: replaced if a stale socket only. */
TEST(temporary_name_leftover)
{
	char tmp[160];
	struct sockpath sp;

	fresh();
	snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
	stale_at(tmp);
	CHECK(sockpath_check(&sp, path, 0) == 0);
	CHECK(sockpath_listen(&sp, 0600, (gid_t)-1, 8, SOCKPATH_RENAME) == 0);
	CHECK(reaches(path));
	CHECK_EQ(entries(), 1);
	done(&sp);
	write_file(tmp, "kept\n");
	CHECK(sockpath_check(&sp, path, 0) == 0);
	CHECK_ERR(sockpath_listen(&sp, 0600, (gid_t)-1, 8, SOCKPATH_RENAME), EADDRINUSE);
	CHECK_EQ(sp.failed, SP_SOCKET);
	CHECK(file_is(tmp, "kept\n"));
	CHECK_EQ(entries(), 1);
	rm_dir();
}

TEST(unlink_only_our_socket)
{
	struct sockpath sp;

	fresh();
	CHECK(sockpath_check(&sp, path, 0) == 0);
	CHECK(sockpath_listen(&sp, 0600, (gid_t)-1, 8, 0) == 0);
	CHECK(unlink(path) == 0);
	write_file(path, "someone else's\n");
	CHECK_ERR(sockpath_unlink(&sp), ENOENT);
	CHECK(file_is(path, "someone else's\n"));
	close(sp.fd);
	unlink(path);
	/* Nothing made: nothing removed. */
	write_file(path, "x\n");
	CHECK_ERR(sockpath_check(&sp, path, 0), EEXIST);
	CHECK_ERR(sockpath_unlink(&sp), ENOENT);
	CHECK(file_is(path, "x\n"));
	unlink(path);
	rm_dir();
}

TEST(bad_paths)
{
	char longp[200];
	struct sockpath sp;

	fresh();
	memset(longp, 'x', sizeof longp - 1);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';
	CHECK_ERR(sockpath_check(&sp, longp, 0), ENAMETOOLONG);
	CHECK_ERR(sockpath_check(&sp, "/tmp/", 0), EISDIR);
	CHECK_ERR(sockpath_check(&sp, "/tmp/..", 0), EISDIR);
	snprintf(longp, sizeof longp, "%s/no/such/s", dir);
	CHECK_ERR(sockpath_check(&sp, longp, 0), ENOENT);
	CHECK_EQ(sp.failed, SP_DIR);
	/* PATH.PID must fit too: PATH of 106 bytes does, PATH.PID not. */
	snprintf(longp, sizeof longp, "%s/", dir);
	memset(longp + strlen(longp), 'y', sizeof sp.path - 2 - strlen(longp));
	longp[sizeof sp.path - 2] = '\0';
	CHECK(sockpath_check(&sp, longp, 0) == 0);
	CHECK_ERR(sockpath_listen(&sp, 0600, (gid_t)-1, 8, SOCKPATH_RENAME), ENAMETOOLONG);
	CHECK_EQ(entries(), 0);
	rm_dir();
}

/* A group not ours, as another uid: nothing left behind. */
TEST(failure_leaves_nothing)
{
	struct sockpath sp;
	pid_t pid;

	fresh();
	CHECK(chown(dir, 1001, 1001) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(1001, 1001, 1001) < 0 ||
		    setresuid(1001, 1001, 1001) < 0)
			_exit(98);
		for (int flags = 0; flags <= SOCKPATH_RENAME; flags += SOCKPATH_RENAME) {
			if (sockpath_check(&sp, path, 0) < 0)
				_exit(10);
			if (sockpath_listen(&sp, 0660, 0, 8, flags) == 0 || errno != EPERM ||
			    sp.failed != SP_SOCKET)
				_exit(11);
		}
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(entries(), 0);
	rm_dir();
}

TEST(private_directory)
{
	char sub[128], link[128];
	struct stat st;
	mode_t old;

	fresh();
	snprintf(sub, sizeof sub, "%s/d", dir);
	for (int u = 0; u < 2; u++) {
		old = umask(u ? 0 : 077);
		CHECK(sockpath_mkdir(sub, 0711) == 0);
		umask(old);
		CHECK(lstat(sub, &st) == 0);
		CHECK_EQ(st.st_mode & 07777, 0711);
		CHECK(sockpath_mkdir(sub, 0700) == 0); /* exists, private: kept as is */
		CHECK(lstat(sub, &st) == 0 && (st.st_mode & 07777) == 0711);
		CHECK(rmdir(sub) == 0);
	}
	CHECK(mkdir(sub, 0777) == 0);
	CHECK(chmod(sub, 0777) == 0);
	CHECK_ERR(sockpath_mkdir(sub, 0700), EPERM);
	CHECK(chmod(sub, 0770) == 0);
	CHECK_ERR(sockpath_mkdir(sub, 0700), EPERM);
	CHECK(chmod(sub, 0700) == 0 && chown(sub, 1001, 0) == 0);
	CHECK_ERR(sockpath_mkdir(sub, 0700), EPERM); /* someone else's */
	CHECK(rmdir(sub) == 0);
	snprintf(link, sizeof link, "%s/l", dir);
	CHECK(mkdir(sub, 0700) == 0 && symlink(sub, link) == 0);
	CHECK_ERR(sockpath_mkdir(link, 0700), ELOOP);
	CHECK(unlink(link) == 0);
	write_file(link, "");
	CHECK_ERR(sockpath_mkdir(link, 0700), ENOTDIR);
	rm_dir();
}
