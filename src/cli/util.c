/* Argument parsing, error lines and the exec wrapper of the subcommands. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../lib/launch.h"
#include "../lib/sockpath.h"

extern char **environ;

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fdshare: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'fdshare %s --help')\n", cmd);
	return EXIT_USAGE;
}

int cli_fail(const char *cmd, const char *what, int err, const char *hint)
{
	fprintf(stderr, "fdshare: %s: %s: %s (%s)\n", cmd, what, strerror(err), hint);
	return 1;
}

void cli_log(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fdshare: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const struct cli_opt *find_opt(const struct cli_opt *opts, const char *arg,
                                      size_t len)
{
	for (; opts && opts->name; opts++)
		if (strlen(opts->name) == len && strncmp(opts->name, arg, len) == 0)
			return opts;
	return NULL;
}

/* "-" followed by a digit is a (bad) number, left for the operand checks. */
static int is_option(const char *arg)
{
	return arg[0] == '-' && arg[1] != '\0' && !(arg[1] >= '0' && arg[1] <= '9');
}

static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

int cli_options(int argc, char **argv, const struct cli_opt *opts,
                const char *help, int *first)
{
	const char *cmd = argv[0];
	int i;

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	for (i = 1; i < argc && is_option(argv[i]) && strcmp(argv[i], "--") != 0; i++) {
		const char *arg = argv[i], *eq = strchr(arg, '=');
		const struct cli_opt *o = find_opt(opts, arg, eq ? (size_t)(eq - arg) : strlen(arg));

		if (o == NULL)
			return cli_usage(cmd, "unknown option '%s'", arg);
		if (o->arg == NULL) {
			if (eq)
				return cli_usage(cmd, "option '%s' takes no value", o->name);
			*o->set = 1;
		} else if (eq) {
			*o->arg = eq + 1;
		} else if (i + 1 < argc) {
			*o->arg = argv[++i];
		} else {
			return cli_usage(cmd, "option '%s' needs a value", o->name);
		}
	}
	*first = i;
	return -1;
}

static int parse_number(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || *v > max)
		return -1;
	return 0;
}

int cli_pid(const char *cmd, const char *s, pid_t *pid)
{
	unsigned long v;

	if (s == NULL)
		return cli_usage(cmd, "missing PID");
	if (parse_number(s, INT_MAX, &v) < 0 || v == 0)
		return cli_usage(cmd, "PID must be a positive number, got '%s'", s);
	*pid = (pid_t)v;
	return 0;
}

int cli_fd(const char *cmd, const char *what, const char *s, int *fd)
{
	unsigned long v;

	if (s == NULL)
		return cli_usage(cmd, "missing %s", what);
	if (parse_number(s, INT_MAX, &v) < 0)
		return cli_usage(cmd, "%s must be a non-negative number, got '%s'", what, s);
	*fd = (int)v;
	return 0;
}

int cli_uint(const char *cmd, const char *what, const char *s, unsigned int max,
             unsigned int *v)
{
	unsigned long n;

	if (parse_number(s, max, &n) < 0)
		return cli_usage(cmd, "%s must be a number from 0 to %u, got '%s'",
		                 what, max, s);
	*v = (unsigned int)n;
	return 0;
}

int cli_sockaddr(const char *cmd, const char *path, struct sockaddr_un *sun)
{
	size_t len;

	if (path == NULL || path[0] == '\0')
		return cli_usage(cmd, "missing SOCKET path");
	len = strlen(path);
	if (len >= sizeof sun->sun_path)
		return cli_usage(cmd, "SOCKET path is %zu bytes, more than the %zu a "
		                 "Unix socket address holds", len, sizeof sun->sun_path - 1);
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len + 1);
	return 0;
}

int cli_socket_opt(const char *cmd, const char *opt, const char *path)
{
	size_t len = strlen(path);

	if (len == 0)
		return cli_usage(cmd, "%s wants a socket path, got ''", opt);
	if (len >= sizeof ((struct sockaddr_un *)0)->sun_path)
		return cli_usage(cmd, "%s PATH is %zu bytes, more than the %zu a Unix "
		                 "socket address holds", opt, len,
		                 sizeof ((struct sockaddr_un *)0)->sun_path - 1);
	return 0;
}

static const char *sockpath_hint(int failed, int err)
{
	if (failed == SP_DIR)
		return err == EPERM ? "its directory is another user's, or writable by "
		       "others and not sticky: use a directory only you (or root) can "
		       "write to" :
		       "check the directory exists and can be searched";
	switch (err) {
	case ELOOP:
		return "it is a symbolic link: remove it or choose another path";
	case EEXIST:
		return failed == SP_PATH ? "it exists and is not a socket: remove it or "
		       "choose another path" : "it changed meanwhile: try again";
	case EADDRINUSE:
		return failed == SP_PATH ? "a process is listening on it: stop it or "
		       "choose another path" : "it was created meanwhile: try again";
	case EISDIR:
		return "give the path of a socket file, not of a directory";
	case EPERM:
		if (failed == SP_SOCKET)
			return "the group must be one of yours (or run as root)";
		break;
	}
	return failed == SP_PATH ? "check the path and its permissions" :
	       "check the directory exists and is writable";
}

int cli_sockpath_fail(const char *cmd, const struct sockpath *sp, int err)
{
	char what[sizeof sp->path + 16];

	snprintf(what, sizeof what, "cannot create %s", sp->path);
	return cli_fail(cmd, what, err, sockpath_hint(sp->failed, err));
}

int cli_exec_failed(const char *cmd, const char *what, int err)
{
	if (err == ENOENT) {
		cli_fail(cmd, what, err, "check the command's name and PATH");
		return 127;
	}
	cli_fail(cmd, what, err, "check that it is an executable program");
	return 126;
}

int cli_cmd_runnable(const char *cmd, char *const *argv)
{
	char what[64], *path = launch_find_program(argv[0]);

	if (path) {
		free(path);
		return 0;
	}
	snprintf(what, sizeof what, "cannot run '%.40s'", argv[0]);
	return cli_exec_failed(cmd, what, errno);
}

int cli_exec(const char *cmd, char **argv, const struct fdshare_pass *fds,
             size_t nfds)
{
	char what[64];
	int err;

	fflush(NULL);
	fdshare_exec(argv, environ, fds, nfds, 0);
	err = errno;
	snprintf(what, sizeof what, "cannot run '%.40s'", argv[0]);
	return cli_exec_failed(cmd, what, err);
}

const char *cli_grab_hint(int err)
{
	switch (err) {
	case ESRCH:
		return "check the PID: the process may have exited";
	case EBADF:
		return "check the FD: run 'fdshare ls PID' to see what is open";
	case EPERM:
	case EACCES:
		return "pidfd_getfd needs the same user or CAP_SYS_PTRACE, and a "
		       "ptrace policy may forbid it; --reopen tries /proc/PID/fd/N instead";
	case ENXIO:
		return "a socket cannot be reopened through /proc: it takes pidfd_getfd "
		       "(the same user or CAP_SYS_PTRACE) or the holder's cooperation";
	case ENOSYS:
		return "this kernel has no pidfd_getfd (Linux 5.6+); try --reopen";
	case EMFILE:
	case ENFILE:
		return "too many open files: raise the limit (ulimit -n)";
	}
	return "see the man page fdshare(1)";
}
