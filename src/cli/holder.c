/* fdshare holder: the daemon's options (the daemon is in src/holder). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "cli.h"
#include "holder_cli.h"
#include "../holder/holder.h"
#include "../lib/sockpath.h"

static const char holder_help[] =
"usage: fdshare holder [--socket PATH] [--rules FILE] [--max-fds N]\n"
"                      [--quota N] [--max-clients N] [--max-clients-per-uid N]\n"
"                      [--max-request BYTES] [--timeout MS] [--mode OCTAL]\n"
"                      [--group GID] [--notify-socket PATH] [--ready-fd N]\n"
"                      [--takeover] [-v]\n"
"\n"
"Keep descriptors under names for clients ('fdshare store', 'fetch', 'list',\n"
"'remove'), serving many at once.  See fdshare-holder(8).\n"
"\n"
"  --socket PATH      default $FDSHARE_SOCKET, else\n"
"                     $XDG_RUNTIME_DIR/fdshare/holder.sock, else\n"
"                     /run/fdshare/holder.sock (for these two, the\n"
"                     directory is made private);\n"
"                     a symlink, a file or a live socket there is refused,\n"
"                     and so is a directory others may write to (unless sticky)\n"
"                     or another user's (not root's)\n"
"  --rules FILE       grants beyond 'owner and root' (reloaded on SIGHUP)\n"
"  --max-fds N        fds held, and announced by requests still arriving\n"
"                     (default: RLIMIT_NOFILE less a reserve)\n"
"  --quota N          fds held per owner uid (default: --max-fds)\n"
"  --max-clients N    connections at once (default 1024; 4 more for root\n"
"                     and the holder's own user)\n"
"  --max-clients-per-uid N\n"
"                     connections at once from one uid, root's and the\n"
"                     holder's own uid's not counted (default: half of\n"
"                     --max-clients, rounded up)\n"
"  --max-request BYTES payload bytes of one request (default 1048576)\n"
"  --timeout MS       drop a client that leaves a request half sent, or its\n"
"                     replies unread, this long (default 5000; 0: never)\n"
"  --mode OCTAL       socket mode (default 0600; 0666: a service for all)\n"
"  --group GID        the socket's group, mode 0660 unless --mode says\n"
"  --notify-socket PATH\n"
"                     also take fds by systemd's fd store protocol on this\n"
"                     datagram socket (NOTIFY_SOCKET for sd_notify(3)):\n"
"                     FDSTORE=1 with FDNAME=NAME (default 'stored') adds the\n"
"                     fds to NAME, owned by the sender's uid, dropped on\n"
"                     hang-up unless FDPOLL=0; FDSTOREREMOVE=1 removes NAME;\n"
"                     made as --socket is, with its --mode and --group\n"
"  --ready-fd N       write a newline to fd N once accepting clients (N must\n"
"                     be open; 0-2 are then left on /dev/null)\n"
"  --takeover         take the state of the holder running on PATH, replace it\n"
"  -v                 log each operation to stderr\n";

struct fdshare_holder *hcli_connect(const char *cmd, const char *path)
{
	char buf[sizeof ((struct sockaddr_un *)0)->sun_path];
	struct fdshare_holder *h;

	if (path == NULL && fdshare_holder_path(buf, sizeof buf) < 0) {
		cli_fail(cmd, "cannot make the holder's default socket path", errno,
		         "$FDSHARE_SOCKET or $XDG_RUNTIME_DIR is too long for a socket "
		         "address: give --socket PATH");
		return NULL;
	}
	if (path == NULL)
		path = buf;
	h = fdshare_holder_connect(path);
	if (h == NULL) {
		char what[200];

		snprintf(what, sizeof what, "cannot connect to the holder at %s", path);
		cli_fail(cmd, what, errno, errno == ENOENT || errno == ECONNREFUSED
		         ? "start one with 'fdshare holder', or give --socket PATH"
		         : "check --socket PATH and its permissions");
	}
	return h;
}

static const char *hint(int err)
{
	switch (err) {
	case ENOENT:
		return "no such name: 'fdshare list' shows what is held";
	case EBUSY:
		return "the name is taken: --replace or --append, or another name";
	case EACCES:
		return "only the owner, root and the holder's --rules may do that";
	case EDQUOT:
		return "this uid holds its quota of fds: remove some";
	case EMFILE:
	case ENFILE:
		return "the holder is full: remove entries or raise its --max-fds";
	case EINVAL:
		return "names are 1-255 printable ASCII bytes without ':' or spaces;"
		       " drop-on-hangup needs pollable fds";
	case EUSERS:
		return "the holder has --max-clients connections, or this uid its "
		       "--max-clients-per-uid: try again later";
	case EMSGSIZE:
		return "the request is over the holder's --max-request, or its answer "
		       "over a message's limits (65536 fds, 16 MiB): ask for fewer "
		       "names, or list by a PREFIX";
	case EAGAIN:
		return "the holder is being replaced: try again";
	}
	return "see fdshare-holder(8)";
}

int hcli_fail(const char *cmd, const char *what, int err)
{
	return cli_fail(cmd, what, err, hint(err));
}

int hcli_name(const char *cmd, const char *name)
{
	size_t n = strlen(name);

	if (n == 0)
		return cli_usage(cmd, "an empty NAME");
	if (n > 255)
		return cli_usage(cmd, "NAME is %zu bytes, the most is 255", n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == ':')
			return cli_usage(cmd, "NAME '%s' has a ':' (it separates "
			                 "LISTEN_FDNAMES)", name);
		if (c <= ' ' || c >= 0x7f)
			return cli_usage(cmd, "NAME has a space or a byte that is not "
			                 "printable ASCII at byte %zu", i);
	}
	return 0;
}

static int number(const char *s, unsigned long max, size_t *v)
{
	unsigned long n;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end || n > max)
		return -1;
	*v = n;
	return 0;
}

struct holder_args {
	const char *socket, *notify_socket, *rules, *max_fds, *quota, *max_clients, *max_request;
	const char *max_uid_clients;
	const char *timeout, *mode, *group, *ready_fd;
	int takeover, verbose;
};

static int numbers(const struct holder_args *a, struct config *cf)
{
	size_t v;

	if (a->max_fds && (number(a->max_fds, 1u << 30, &cf->max_fds) < 0 || !cf->max_fds))
		return cli_usage("holder", "--max-fds wants a number from 1, got '%s'", a->max_fds);
	if (a->quota && (number(a->quota, 1u << 30, &cf->quota) < 0 || !cf->quota))
		return cli_usage("holder", "--quota wants a number from 1, got '%s'", a->quota);
	if (a->max_clients && (number(a->max_clients, 1u << 20, &cf->max_clients) < 0 ||
	                       !cf->max_clients))
		return cli_usage("holder", "--max-clients wants a number from 1, got '%s'",
		                 a->max_clients);
	cf->max_uid_clients = (cf->max_clients + 1) / 2;
	if (a->max_uid_clients && (number(a->max_uid_clients, 1u << 20, &cf->max_uid_clients) < 0 ||
	                           !cf->max_uid_clients))
		return cli_usage("holder", "--max-clients-per-uid wants a number from 1, got '%s'",
		                 a->max_uid_clients);
	if (a->max_request && (number(a->max_request, FDSHARE_MSG_MAX_LEN, &cf->max_request) < 0 ||
	                       cf->max_request < 64))
		return cli_usage("holder", "--max-request wants 64 to %u bytes, got '%s'",
		                 FDSHARE_MSG_MAX_LEN, a->max_request);
	if (a->timeout) {
		if (number(a->timeout, INT_MAX, &v) < 0)
			return cli_usage("holder", "--timeout wants milliseconds, got '%s'", a->timeout);
		cf->timeout_ms = (long)v;
	}
	if (a->ready_fd) {
		if (number(a->ready_fd, INT_MAX, &v) < 0)
			return cli_usage("holder", "--ready-fd wants a fd number, got '%s'", a->ready_fd);
		cf->ready_fd = (int)v;
	}
	if (a->group) {
		if (number(a->group, UINT_MAX - 1, &v) < 0)
			return cli_usage("holder", "--group wants a numeric gid, got '%s'", a->group);
		cf->group = (gid_t)v;
		cf->have_group = 1;
		cf->mode = 0660;
	}
	if (a->mode) {
		char *end;

		errno = 0;
		v = strtoul(a->mode, &end, 8);
		if (errno || *end || a->mode[0] < '0' || a->mode[0] > '7' || v > 0777)
			return cli_usage("holder", "--mode wants an octal mode such as 0660, got '%s'",
			                 a->mode);
		cf->mode = (mode_t)v;
	}
	return 0;
}

/*
 * The default path's directory ($XDG_RUNTIME_DIR/fdshare, /run/fdshare):
 * made 0700, or 0711 when the socket's mode lets others connect (they may
 * reach the socket, not list or change the directory); if it exists, it
 * must be ours and writable by nobody else.
 */
static int private_dir(const char *path, mode_t sock_mode)
{
	char dir[sizeof ((struct sockaddr_un *)0)->sun_path], what[sizeof dir + 32];
	char *slash;

	snprintf(dir, sizeof dir, "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (sockpath_mkdir(dir, sock_mode & 077 ? 0711 : 0700) == 0)
		return 0;
	snprintf(what, sizeof what, "cannot use the directory %s", dir);
	return cli_fail("holder", what, errno, errno == EPERM ?
	                "it must be ours and writable by nobody else: fix or remove it, "
	                "or give --socket PATH" : errno == ELOOP ?
	                "it is a symbolic link: remove it, or give --socket PATH" :
	                "give --socket PATH in a directory of yours");
}

/* Whether the default path is $FDSHARE_SOCKET, as fdshare_holder_path takes it. */
static int from_env(void)
{
	const char *env = getenv("FDSHARE_SOCKET");

	return env && *env;
}

/* A path of its own for the notify socket (no abstract name: it has no mode). */
static int notify_path(const struct holder_args *a, const char *socket)
{
	int r;

	if ((r = cli_socket_opt("holder", "--notify-socket", a->notify_socket)) != 0)
		return r;
	if (a->notify_socket[0] == '@')
		return cli_usage("holder", "--notify-socket wants a path: an abstract "
		                 "socket ('%s') has no mode to restrict who sends",
		                 a->notify_socket);
	if (strcmp(a->notify_socket, socket) == 0)
		return cli_usage("holder", "--notify-socket and --socket are the same path");
	return 0;
}

int cmd_holder(int argc, char **argv)
{
	struct holder_args a = { 0 };
	const struct cli_opt opts[] = {
		{ "--socket", NULL, &a.socket }, { "--rules", NULL, &a.rules },
		{ "--max-fds", NULL, &a.max_fds }, { "--quota", NULL, &a.quota },
		{ "--max-clients", NULL, &a.max_clients },
		{ "--max-clients-per-uid", NULL, &a.max_uid_clients },
		{ "--max-request", NULL, &a.max_request },
		{ "--timeout", NULL, &a.timeout }, { "--mode", NULL, &a.mode },
		{ "--group", NULL, &a.group }, { "--ready-fd", NULL, &a.ready_fd },
		{ "--notify-socket", NULL, &a.notify_socket },
		{ "--takeover", &a.takeover, NULL }, { "-v", &a.verbose, NULL },
		{ NULL, NULL, NULL },
	};
	static char path[sizeof ((struct sockaddr_un *)0)->sun_path];
	struct config cf = { .max_clients = 1024, .max_request = 1024 * 1024,
	                     .timeout_ms = 5000, .ready_fd = -1, .mode = 0600 };
	int first, r = cli_options(argc, argv, opts, holder_help, &first);

	if (r >= 0)
		return r;
	if (first < argc)
		return cli_usage("holder", "unexpected operand '%s'", argv[first]);
	if ((r = numbers(&a, &cf)) != 0)
		return r;
	if (a.socket) {
		if ((r = cli_socket_opt("holder", "--socket", a.socket)) != 0)
			return r;
		cf.socket = a.socket;
	} else if (fdshare_holder_path(path, sizeof path) < 0) {
		return cli_fail("holder", "the default socket path", errno,
		                "give --socket PATH");
	} else {
		cf.socket = path;
		/* $FDSHARE_SOCKET is taken as --socket: no directory made for it */
		if (!from_env() && private_dir(path, cf.mode) != 0)
			return 1;
	}
	if (a.notify_socket && (r = notify_path(&a, cf.socket)) != 0)
		return r;
	cf.notify_socket = a.notify_socket;
	cf.rules_path = a.rules;
	cf.takeover = a.takeover;
	cf.verbose = a.verbose;
	return holder_start(&cf);
}
