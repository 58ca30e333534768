/* fdshare ls: the open descriptors of a process, as rows or JSON. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char ls_help[] =
"usage: fdshare ls [--json] [PID]\n"
"\n"
"List the open descriptors of process PID; without PID, of this fdshare\n"
"process itself (its own internal descriptors left out), so that\n"
"'LAUNCHER -- fdshare ls' shows what LAUNCHER handed over.\n"
"\n"
"Columns: FD, KIND (file dir pipe fifo socket tty char block eventfd timerfd\n"
"signalfd epoll inotify memfd pidfd other), MODE (r w rw path), FLAGS\n"
"(cloexec nonblock append), OFFSET ('-' where it means nothing), TARGET (the\n"
"path, '(deleted)' when unlinked; for a socket its protocol, local address,\n"
"'-> peer', state and, for a connected Unix socket, 'peer pid N'); in it a\n"
"control character, a backslash or a byte that is not UTF-8 is written as\n"
"\\n, \\t, \\\\ or \\xHH.\n"
"\n"
"  --json   print a JSON array with one object per descriptor:\n"
"           fd, pid, kind, access, flags (array of \"cloexec\", \"nonblock\",\n"
"           \"append\"), offset (number or null), path, deleted, dev (\"MAJ:MIN\"),\n"
"           ino, target (the TARGET column), socket (null, or an object:\n"
"           family, type, protocol, local, peer, state, listening, peer_pid,\n"
"           peer_uid; unknown values are null)\n"
"\n"
"Another process's socket is described through a pidfd_getfd duplicate;\n"
"when that is refused, from /proc/PID/net (no peer pid then).\n";

static int compare_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* The fd numbers of pid, sorted, without the directory's own descriptor. */
static int list_fds(pid_t pid, int self, int **fds, size_t *n)
{
	char path[32];
	struct dirent *e;
	size_t cap = 0;
	DIR *d;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	*fds = NULL;
	*n = 0;
	while ((e = readdir(d))) {
		int fd;

		if (e->d_name[0] == '.')
			continue;
		fd = atoi(e->d_name);
		if (self && fd == dirfd(d))
			continue;
		if (*n == cap) {
			int *more = realloc(*fds, (cap = cap ? 2 * cap : 64) * sizeof **fds);

			if (more == NULL) {
				free(*fds);
				closedir(d);
				errno = ENOMEM;
				return -1;
			}
			*fds = more;
		}
		(*fds)[(*n)++] = fd;
	}
	closedir(d);
	if (*n > 1)
		qsort(*fds, *n, sizeof **fds, compare_int);
	return 0;
}

static int list_failed(pid_t pid, int err)
{
	char what[64];

	snprintf(what, sizeof what, "cannot list the descriptors of process %d", (int)pid);
	if (err == ENOENT || err == ESRCH)
		return cli_fail("ls", what, ESRCH, "check the PID: the process may have exited");
	if (err == EACCES || err == EPERM)
		return cli_fail("ls", what, err, "needs the same user or root (CAP_SYS_PTRACE)");
	return cli_fail("ls", what, err, "see fdshare(1)");
}

/*
 * pid ended (zombie or gone) since pidfd was opened: what was read of it
 * may be a part only.  No pidfd (this process, a thread, no pidfd_open):
 * no check.
 */
static int exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return pidfd >= 0 && poll(&p, 1, 0) > 0;
}

/* The listing, into f: 0, or -1 with errno. */
static int describe_all(FILE *f, pid_t pid, const int *fds, size_t n, int json)
{
	struct fdshare_fdinfo *info = malloc(sizeof *info);
	int shown = 0;

	if (info == NULL)
		return -1;
	if (json)
		fputs("[", f);
	else
		fdrow_header(f);
	for (size_t i = 0; i < n; i++) {
		if (fdshare_describe(pid, fds[i], info) < 0) {
			if (errno == EBADF)
				continue; /* closed since the listing */
			free(info);
			return -1;
		}
		if (json) {
			fputs(shown ? ",\n" : "\n", f);
			fdjson_print(f, info);
		} else {
			fdrow_print(f, info);
		}
		shown++;
	}
	if (json)
		fputs("\n]\n", f);
	free(info);
	return 0;
}

/*
 * Described in memory first, written only when whole: a process that
 * exits while listed is an error with nothing on standard output, never
 * a listing cut short.
 */
static int show(pid_t pid, int pidfd, const int *fds, size_t n, int json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	int r, err;

	if (mem == NULL)
		return cli_fail("ls", "cannot describe descriptors", errno, "free some memory");
	r = describe_all(mem, pid, fds, n, json);
	err = errno;
	if (fclose(mem) != 0 && r == 0) {
		r = -1;
		err = errno;
	}
	if (r == 0 && exited(pidfd)) {
		r = -1;
		err = ESRCH;
	}
	if (r < 0) {
		free(buf);
		return err == ENOMEM ? cli_fail("ls", "cannot describe descriptors", err,
		                                "free some memory") : list_failed(pid, err);
	}
	fwrite(buf, 1, len, stdout);
	free(buf);
	if (fflush(stdout) == EOF || ferror(stdout))
		return cli_fail("ls", "cannot write the listing", errno, "check standard output");
	return 0;
}

int cmd_ls(int argc, char **argv)
{
	int json = 0, first, rc, *fds, pidfd = -1;
	const struct cli_opt opts[] = {
		{ "--json", &json, NULL },
		{ NULL, NULL, NULL },
	};
	pid_t pid = getpid();
	size_t n;

	rc = cli_options(argc, argv, opts, ls_help, &first);
	if (rc >= 0)
		return rc;
	if (first < argc && strcmp(argv[first], "--") == 0)
		first++;
	if (argc - first > 1)
		return cli_usage("ls", "unexpected argument '%s'", argv[first + 1]);
	if (first < argc && (rc = cli_pid("ls", argv[first], &pid)) != 0)
		return rc;
	/* Opened first: a process that ends from here on is seen to. */
	if (pid != getpid() && (pidfd = fdshare_pidfd_open(pid)) < 0 && errno == ESRCH)
		return list_failed(pid, ESRCH);
	if (list_fds(pid, pid == getpid(), &fds, &n) < 0) {
		rc = list_failed(pid, errno);
	} else {
		rc = show(pid, pidfd, fds, n, json);
		free(fds);
	}
	if (pidfd >= 0)
		close(pidfd);
	return rc;
}
