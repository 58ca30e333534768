/*
 * privsep - privilege separation with a file broker.
 *
 * usage: privsep [-u UID] DIR PATH...
 *
 * Run as root.  The process forks a worker that gives up root for UID
 * (default 65534) and then asks for each PATH: first by open(2) itself,
 * which a 0600 file of root's refuses (EACCES), then by asking the
 * broker, the root parent, over a socketpair.  The broker's policy: a
 * path under DIR, opened read-only beneath DIR with openat2(2)
 * RESOLVE_BENEATH, so that neither ".." nor a symbolic link leads out of
 * it.  A granted file comes back as a descriptor (fdshare_msg_send); a
 * refusal as an errno.  The worker prints the first line of each file it
 * got.  Exit 0 once every PATH was asked for.
 *
 * One request: a frame of type REQ_OPEN whose payload is the path.  One
 * answer: REP_OPEN, payload a 4-byte errno (0: granted), one fd when 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fdshare.h>

#define REQ_OPEN 1
#define REP_OPEN 2

static void die(const char *what)
{
	fprintf(stderr, "privsep: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Opens rel read-only beneath dirfd: no "..", absolute or symlink escape. */
static int open_beneath(int dirfd, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
}

/* The policy: a path under dir, opened beneath it.  Returns an fd or -errno. */
static int broker_open(int dirfd, const char *dir, const char *path)
{
	size_t n = strlen(dir);
	int fd;

	if (strcmp(dir, "/") == 0)
		n = 0;
	if (strncmp(path, dir, n) != 0 || path[n] != '/' || path[n + 1] == '\0') {
		printf("broker: refused %s: not under %s\n", path, dir);
		return -EACCES;
	}
	fd = open_beneath(dirfd, path + n + 1);
	if (fd < 0) {
		int e = errno == EXDEV ? EACCES : errno;
		printf("broker: refused %s: %s\n", path,
		       errno == EXDEV ? "it leads out of the directory" : strerror(errno));
		return -e;
	}
	printf("broker: granted %s\n", path);
	return fd;
}

/* Answers requests until the worker hangs up. */
static void broker(int sock, const char *dir)
{
	struct fdshare_msg m;
	char path[PATH_MAX];
	int dirfd, r;

	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		die(dir);
	while ((r = fdshare_msg_recv(sock, &m)) == 1) {
		int fd = -EINVAL;
		int32_t err;

		if (m.type == REQ_OPEN && m.nfds == 0 && m.len > 0 && m.len < sizeof path &&
		    !memchr(m.data, '\0', m.len)) {
			memcpy(path, m.data, m.len);
			path[m.len] = '\0';
			fd = broker_open(dirfd, dir, path);
		}
		fdshare_msg_free(&m);
		err = fd < 0 ? -fd : 0;
		r = fdshare_msg_send(sock, REP_OPEN, &err, sizeof err, &fd, fd >= 0);
		if (fd >= 0)
			close(fd);
		if (r < 0)
			die("send");
	}
	if (r < 0)
		die("receive");
	close(dirfd);
}

static void drop_root(uid_t uid)
{
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		die("giving up root");
	if (setuid(0) == 0) {
		fprintf(stderr, "privsep: worker could become root again\n");
		exit(1);
	}
}

/* Asks the broker for path: an fd, or -1 with errno its answer. */
static int ask(int sock, const char *path)
{
	struct fdshare_msg m;
	int32_t err;
	int fd;

	if (fdshare_msg_send(sock, REQ_OPEN, path, strlen(path), NULL, 0) < 0)
		die("send");
	if (fdshare_msg_recv(sock, &m) != 1) {
		errno = errno ? errno : EPIPE;
		die("receive");
	}
	if (m.type != REP_OPEN || m.len != sizeof err) {
		fdshare_msg_free(&m);
		errno = EPROTO;
		die("receive");
	}
	memcpy(&err, m.data, sizeof err);
	fd = -1;
	if (err == 0 && m.nfds == 1) {
		fd = m.fds[0];
		m.fds[0] = -1;  /* ours now: fdshare_msg_free leaves it open */
	}
	fdshare_msg_free(&m);
	if (fd < 0)
		errno = err ? err : EPROTO;
	return fd;
}

static void print_first_line(const char *path, int fd)
{
	char line[256];
	FILE *f = fdopen(fd, "r");

	if (!f)
		die("fdopen");
	if (!fgets(line, sizeof line, f))
		line[0] = '\0';
	line[strcspn(line, "\n")] = '\0';
	printf("worker: read %s through the broker's fd: \"%s\"\n", path, line);
	fclose(f);
}

static void worker(int sock, uid_t uid, char **paths, int n)
{
	int i, fd;

	drop_root(uid);
	for (i = 0; i < n; i++) {
		fd = open(paths[i], O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			printf("worker (uid %u): open %s myself: allowed\n", (unsigned)uid, paths[i]);
			close(fd);
		} else {
			printf("worker (uid %u): open %s myself: %s\n", (unsigned)uid, paths[i],
			       strerror(errno));
		}
		fd = ask(sock, paths[i]);
		if (fd < 0)
			printf("worker: the broker said no to %s: %s\n", paths[i], strerror(errno));
		else
			print_first_line(paths[i], fd);
	}
}

int main(int argc, char **argv)
{
	uid_t uid = 65534;
	char *dir;
	int sv[2], opt, status;
	pid_t pid;

	while ((opt = getopt(argc, argv, "u:")) != -1) {
		if (opt != 'u')
			goto usage;
		uid = (uid_t)strtoul(optarg, NULL, 10);
	}
	if (argc - optind < 2 || argv[optind][0] != '/' || uid == 0)
		goto usage;
	dir = argv[optind];
	while (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/')
		dir[strlen(dir) - 1] = '\0';
	if (geteuid() != 0) {
		fprintf(stderr, "privsep: the broker needs root: run it as root\n");
		return 77;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(sv[0]);
		worker(sv[1], uid, argv + optind + 1, argc - optind - 1);
		_exit(0);
	}
	close(sv[1]);
	broker(sv[0], dir);
	close(sv[0]);
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
usage:
	fprintf(stderr, "usage: privsep [-u UID] DIR PATH...  (DIR absolute, UID not 0)\n");
	return 2;
}
