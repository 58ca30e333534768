/*
 * The socket path helper (src/lib/sockpath.h) and the owner of the
 * directory: whoever owns it may rename or remove what is in it (sticky
 * or not, whatever its mode says), so a socket made there could be
 * swapped for theirs.  Only a directory of our own or root's is used.
 * Runs as root; uid 1001 plays the other user.
 */
#include <dirent.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"
#include "../src/lib/sockpath.h"

#define OTHER 1001

static char dir[64];
static char path[128];

static void fresh(uid_t owner, mode_t mode)
{
	if (geteuid() != 0)
		t_skip("needs root to give a directory to uid %d", OTHER);
	snprintf(dir, sizeof dir, "/tmp/fdshare-spowner.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	CHECK_EQ(chown(dir, owner, owner), 0);
	CHECK_EQ(chmod(dir, mode), 0);
	snprintf(path, sizeof path, "%s/s", dir);
}

static int entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	int n = 0;

	CHECK(dp != NULL);
	while ((e = readdir(dp)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(dp);
	return n;
}

/* p refused, nothing left in its directory d. */
static void refused(const char *p, const char *d)
{
	struct sockpath sp;

	CHECK_ERR(sockpath_check(&sp, p, 0), EPERM);
	CHECK_EQ(sp.failed, SP_DIR);
	CHECK_EQ(entries(d), 0);
}

TEST(another_users_directory_refused)
{
	fresh(OTHER, 0755);
	refused(path, dir);
	CHECK_EQ(rmdir(dir), 0);
}

/* Sticky keeps others from our socket, not the directory's owner. */
TEST(another_users_sticky_directory_refused)
{
	fresh(OTHER, 01777);
	refused(path, dir);
	CHECK_EQ(rmdir(dir), 0);
}

/* A symbolic link on the way leads to a directory of another's. */
TEST(another_users_directory_through_a_symlink_refused)
{
	char sub[128], link[128], p[160];

	fresh(0, 0755);
	snprintf(sub, sizeof sub, "%s/theirs", dir);
	snprintf(link, sizeof link, "%s/mine", dir);
	CHECK_EQ(mkdir(sub, 0755), 0);
	CHECK_EQ(chown(sub, OTHER, OTHER), 0);
	CHECK_EQ(symlink(sub, link), 0);
	snprintf(p, sizeof p, "%s/s", link);
	refused(p, sub);
	CHECK_EQ(unlink(link), 0);
	CHECK_EQ(rmdir(sub), 0);
	CHECK_EQ(rmdir(dir), 0);
}

/* Given away between the check and the bind: checked again. */
TEST(given_away_after_check_refused)
{
	struct sockpath sp;

	fresh(0, 0755);
	CHECK_EQ(sockpath_check(&sp, path, 0), 0);
	CHECK_EQ(chown(dir, OTHER, OTHER), 0);
	CHECK_ERR(sockpath_listen(&sp, 0600, (gid_t)-1, 8, 0), EPERM);
	CHECK_EQ(sp.failed, SP_DIR);
	CHECK_EQ(entries(dir), 0);
	CHECK_EQ(rmdir(dir), 0);
}

/* As uid OTHER: its own directory, and root's sticky one, are fine. */
TEST(own_and_roots_directories_used)
{
	char sub[128], p[160];
	pid_t pid;

	fresh(0, 01777);
	snprintf(sub, sizeof sub, "%s/own", dir);
	CHECK_EQ(mkdir(sub, 0700), 0);
	CHECK_EQ(chown(sub, OTHER, OTHER), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct sockpath sp;

		alarm(10);
		if (setgroups(0, NULL) < 0 || setresgid(OTHER, OTHER, OTHER) < 0 ||
		    setresuid(OTHER, OTHER, OTHER) < 0)
			_exit(98);
		for (int i = 0; i < 2; i++) {
			snprintf(p, sizeof p, "%s/s", i ? dir : sub);
			if (sockpath_check(&sp, p, 0) < 0)
				_exit(10 + i);
			if (sockpath_listen(&sp, 0600, (gid_t)-1, 8, SOCKPATH_RENAME) < 0)
				_exit(20 + i);
			if (sockpath_unlink(&sp) < 0)
				_exit(30 + i);
			close(sp.fd);
		}
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(entries(sub), 0);
	CHECK_EQ(rmdir(sub), 0);
	CHECK_EQ(rmdir(dir), 0);
}
