/* fdshare grab: duplicate another process's descriptor (pidfd_getfd). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "holder_cli.h"

static const char grab_help[] =
"usage: fdshare grab [--reopen] [--to N] PID FD [-- CMD [ARG...]]\n"
"       fdshare grab [--reopen] [--socket PATH] PID FD --store NAME\n"
"\n"
"Duplicate descriptor FD of process PID into this process with\n"
"pidfd_getfd(2): the same open file description (offset, flags) as PID's.\n"
"It needs the same user or CAP_SYS_PTRACE, as ptrace does.\n"
"\n"
"Without CMD, print the 'fdshare ls' row of what was grabbed.  With CMD,\n"
"run it with the duplicate as fd 3 and LISTEN_FDS=1, LISTEN_PID=its pid,\n"
"LISTEN_FDNAMES=grabbed (systemd's socket-activation convention).\n"
"\n"
"  --reopen   if pidfd_getfd is refused or missing, open /proc/PID/fd/FD\n"
"             again: a new open file description with its own offset\n"
"             (impossible for a socket)\n"
"  --to N     give CMD the duplicate as fd N instead, with no LISTEN_*\n"
"             variables (stale ones removed); e.g. recover a deleted log\n"
"             still open in process 1234 as fd 7:\n"
"               fdshare grab --to 0 1234 7 -- cat > saved.log\n"
"  --store NAME  keep the duplicate in the holder under NAME instead\n"
"             (see fdshare-holder(8)); --socket PATH names the holder\n";

struct grab_args {
	int reopen;
	int to;                 /* -1: no --to */
	pid_t pid;
	int fd;
	char **cmd;             /* NULL: print the row */
	const char *store;      /* --store NAME */
	const char *socket;     /* --socket PATH */
};

static int parse(int argc, char **argv, struct grab_args *a)
{
	const char *to = NULL;
	int first, rc;
	const struct cli_opt opts[] = {
		{ "--reopen", &a->reopen, NULL },
		{ "--to", NULL, &to },
		{ "--store", NULL, &a->store },
		{ "--socket", NULL, &a->socket },
		{ NULL, NULL, NULL },
	};

	rc = cli_options(argc, argv, opts, grab_help, &first);
	if (rc >= 0)
		return rc;
	a->to = -1;
	if (to && (rc = cli_fd("grab", "--to N", to, &a->to)) != 0)
		return rc;
	if (first >= argc || strcmp(argv[first], "--") == 0)
		return cli_usage("grab", "missing PID");
	if ((rc = cli_pid("grab", argv[first], &a->pid)) != 0)
		return rc;
	if (first + 1 >= argc || strcmp(argv[first + 1], "--") == 0)
		return cli_usage("grab", "missing FD");
	if ((rc = cli_fd("grab", "FD", argv[first + 1], &a->fd)) != 0)
		return rc;
	first += 2;
	a->cmd = NULL;
	/* `PID FD --store NAME`: the options of the store form may follow. */
	while (first + 1 < argc && (strcmp(argv[first], "--store") == 0 ||
	                            strcmp(argv[first], "--socket") == 0)) {
		if (strcmp(argv[first], "--store") == 0)
			a->store = argv[first + 1];
		else
			a->socket = argv[first + 1];
		first += 2;
	}
	if (first < argc && (strcmp(argv[first], "--store") == 0 ||
	                     strcmp(argv[first], "--socket") == 0))
		return cli_usage("grab", "%s needs a value", argv[first]);
	if (first < argc && strcmp(argv[first], "--") != 0)
		return cli_usage("grab", "unexpected argument '%s' (CMD goes after '--')",
		                 argv[first]);
	if (first < argc) {
		if (first + 1 >= argc)
			return cli_usage("grab", "missing CMD after '--'");
		a->cmd = argv + first + 1;
	}
	if (a->to >= 0 && a->cmd == NULL)
		return cli_usage("grab", "--to needs a CMD after '--'");
	if (a->store && a->cmd)
		return cli_usage("grab", "--store keeps the descriptor: no CMD");
	if (a->socket && !a->store)
		return cli_usage("grab", "--socket goes with --store");
	if (a->socket && (rc = cli_socket_opt("grab", "--socket", a->socket)) != 0)
		return rc;
	if (a->store && (rc = hcli_name("grab", a->store)) != 0)
		return rc;
	return -1;
}

static int grab_failed(const struct grab_args *a, int err)
{
	char what[96];
	const char *hint = cli_grab_hint(err);

	snprintf(what, sizeof what, "cannot duplicate fd %d of process %d", a->fd,
	         (int)a->pid);
	if (a->reopen && (err == EACCES || err == EPERM))
		hint = "pidfd_getfd was refused and reopening /proc/PID/fd/N checks "
		       "the file's permissions anew: needs the same user or root";
	return cli_fail("grab", what, err, hint);
}

static int print_row(int fd)
{
	struct fdshare_fdinfo *info = malloc(sizeof *info);
	int rc = 0;

	if (info == NULL)
		return cli_fail("grab", "cannot describe the duplicate", ENOMEM,
		                "free some memory");
	if (fdshare_describe_fd(fd, info) < 0) {
		rc = cli_fail("grab", "cannot describe the duplicate", errno, "see fdshare(1)");
	} else {
		fdrow_print(stdout, info);
		if (fflush(stdout) == EOF)
			rc = cli_fail("grab", "cannot write", errno, "check standard output");
	}
	free(info);
	return rc;
}

static int store(int fd, const struct grab_args *a)
{
	struct fdshare_holder *h = hcli_connect("grab", a->socket);
	int rc = 0;

	if (h == NULL)
		return 1;
	if (fdshare_store(h, a->store, &fd, 1, 0, 0) < 0)
		rc = hcli_fail("grab", "cannot store the descriptor", errno);
	fdshare_holder_close(h);
	return rc;
}

/*
 * CMD with the duplicate as fd `to` and no LISTEN_* variables.  Not
 * fdshare_exec: it would mark an fd >= 3 that is not one it places
 * close-on-exec, and --to may name any number.
 */
static int exec_to(int fd, int to, char **cmd)
{
	static const char *const listen_vars[] = {
		"LISTEN_FDS", "LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDNAMES",
	};
	char what[64];
	int err;

	if (fd != to) {
		if (dup2(fd, to) < 0) {
			snprintf(what, sizeof what, "cannot move the duplicate to fd %d", to);
			return cli_fail("grab", what, errno, "choose a smaller N for --to");
		}
		close(fd);
	} else if (fcntl(fd, F_SETFD, 0) < 0) {
		return cli_fail("grab", "cannot clear close-on-exec", errno, "see fdshare(1)");
	}
	for (size_t i = 0; i < sizeof listen_vars / sizeof *listen_vars; i++)
		unsetenv(listen_vars[i]);
	fflush(NULL);
	execvp(cmd[0], cmd);
	err = errno;
	snprintf(what, sizeof what, "cannot run '%.40s'", cmd[0]);
	return cli_exec_failed("grab", what, err);
}

int cmd_grab(int argc, char **argv)
{
	struct grab_args a;
	int rc, fd;

	memset(&a, 0, sizeof a);
	rc = parse(argc, argv, &a);
	if (rc >= 0)
		return rc;
	fd = fdshare_grab(a.pid, a.fd, a.reopen ? FDSHARE_REOPEN : 0);
	if (fd < 0)
		return grab_failed(&a, errno);
	if (a.store || a.cmd == NULL) {
		rc = a.store ? store(fd, &a) : print_row(fd);
		close(fd);
		return rc;
	}
	if (a.to >= 0)
		return exec_to(fd, a.to, a.cmd);
	rc = cli_exec("grab", a.cmd, &(struct fdshare_pass){ .fd = fd, .name = "grabbed" }, 1);
	close(fd);
	return rc;
}
