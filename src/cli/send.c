/* fdshare send: hand this process's descriptors to "fdshare recv". */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"

static const char send_help[] =
"usage: fdshare send SOCKET FD[=NAME]...\n"
"\n"
"Connect to the Unix socket SOCKET (made by 'fdshare recv') and send the\n"
"listed descriptors of this process, as the shell set them up, in one\n"
"message carrying their names; wait until the receiver confirms.\n"
"\n"
"NAME follows systemd's FDNAME rule: 1 to 255 printable ASCII characters,\n"
"no ':' or '\\'.  The default name of FD is \"fdFD\" (\"fd0\", \"fd5\", ...).\n"
"\n"
"Example: fdshare send /tmp/s 0 5=db 5</var/lib/x.db\n";

struct item {
	int fd;
	char name[256];
};

static int parse_item(const char *arg, struct item *it)
{
	const char *eq = strchr(arg, '=');
	char num[32];
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	int rc;

	if (len >= sizeof num)
		return cli_usage("send", "FD must be a non-negative number, got '%s'", arg);
	memcpy(num, arg, len);
	num[len] = '\0';
	if ((rc = cli_fd("send", "FD", num, &it->fd)) != 0)
		return rc;
	if (eq == NULL) {
		snprintf(it->name, sizeof it->name, "fd%d", it->fd);
		return 0;
	}
	if (!fdshare_fdname_valid(eq + 1))
		return cli_usage("send", "NAME must be 1 to 255 printable ASCII characters "
		                 "without ':' or '\\', got '%s'", eq + 1);
	memcpy(it->name, eq + 1, strlen(eq + 1) + 1);
	return 0;
}

/* The names joined by ':', as LISTEN_FDNAMES has them. */
static char *join_names(const struct item *items, size_t n, size_t *len)
{
	char *buf = malloc(n * 256), *p = buf;

	if (buf == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(items[i].name);

		if (i > 0)
			*p++ = ':';
		memcpy(p, items[i].name, l);
		p += l;
	}
	*len = (size_t)(p - buf);
	return buf;
}

/* The receiver closed the connection without taking the descriptors. */
static int refused(const char *path, int err)
{
	char what[160];

	snprintf(what, sizeof what, "%s refused the descriptors", path);
	return cli_fail("send", what, err, "recv takes only its own user and root "
	                "unless run with --any-user; see its error output");
}

/* The receiver answers SEND_MSG_ACK; it closes without one when it refuses. */
static int wait_ack(int sock, const char *path)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	struct fdshare_msg msg;
	char what[160];
	int r;

	snprintf(what, sizeof what, "no confirmation from %s", path);
	do
		r = poll(&p, 1, SEND_ACK_WAIT_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return cli_fail("send", what, ETIMEDOUT,
		                "is it 'fdshare recv' listening there?");
	if (r < 0)
		return cli_fail("send", what, errno, "see fdshare(1)");
	r = fdshare_msg_recv(sock, &msg);
	if (r == 1 && msg.type == SEND_MSG_ACK) {
		fdshare_msg_free(&msg);
		return 0;
	}
	if (r == 1)
		fdshare_msg_free(&msg);
	return refused(path, r < 0 ? errno : ECONNRESET);
}

/*
 * The reply is a frame without descriptors: a receiver that pushes some
 * has its sendmsg fail (Linux 6.16+; before that, ENOPROTOOPT, and the
 * reader closes what arrives).
 */
static int refuse_replies(int sock)
{
	if (fdshare_refuse_fds(sock) < 0 && errno != ENOPROTOOPT)
		return -1;
	return 0;
}

static int send_items(const char *path, const struct sockaddr_un *sun,
                      const struct item *items, size_t n)
{
	char what[160], *names;
	int *fds, sock, rc;
	size_t len;

	fds = malloc(n * sizeof *fds);
	names = join_names(items, n, &len);
	if (fds == NULL || names == NULL) {
		free(fds);
		free(names);
		return cli_fail("send", "cannot build the message", ENOMEM, "free some memory");
	}
	for (size_t i = 0; i < n; i++)
		fds[i] = items[i].fd;
	snprintf(what, sizeof what, "cannot connect to %s", path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		rc = cli_fail("send", what, errno, "see fdshare(1)");
	else if (connect(sock, (const struct sockaddr *)sun, sizeof *sun) < 0)
		rc = cli_fail("send", what, errno, "is 'fdshare recv' waiting there?");
	else if (refuse_replies(sock) < 0)
		rc = cli_fail("send", "cannot refuse descriptors on the connection", errno,
		              "see fdshare(1)");
	else if (fdshare_msg_send(sock, SEND_MSG_FDS, names, len, fds, n) < 0)
		rc = errno == EPIPE || errno == ECONNRESET ? refused(path, errno)
		     : cli_fail("send", "cannot send the descriptors", errno, "see fdshare(1)");
	else
		rc = wait_ack(sock, path);
	if (sock >= 0)
		close(sock);
	free(fds);
	free(names);
	return rc;
}

int cmd_send(int argc, char **argv)
{
	struct sockaddr_un sun;
	struct item *items;
	int first, rc;
	size_t n;

	rc = cli_options(argc, argv, NULL, send_help, &first);
	if (rc >= 0)
		return rc;
	if (first < argc && strcmp(argv[first], "--") == 0)
		first++;
	if (first >= argc)
		return cli_usage("send", "missing SOCKET");
	if ((rc = cli_sockaddr("send", argv[first], &sun)) != 0)
		return rc;
	n = (size_t)(argc - first - 1);
	if (n == 0)
		return cli_usage("send", "missing FD: name at least one descriptor to send");
	items = calloc(n, sizeof *items);
	if (items == NULL)
		return cli_fail("send", "cannot parse the arguments", ENOMEM, "free some memory");
	rc = -1;
	for (size_t i = 0; i < n && rc == -1; i++)
		if (parse_item(argv[first + 1 + i], &items[i]) != 0)
			rc = EXIT_USAGE;
	for (size_t i = 0; i < n && rc == -1; i++)
		if (fcntl(items[i].fd, F_GETFD) < 0) {
			char what[64];

			snprintf(what, sizeof what, "fd %d is not open", items[i].fd);
			rc = cli_fail("send", what, errno,
			              "open it in the shell first, e.g. 5</path/to/file");
		}
	if (rc == -1)
		rc = send_items(argv[first], &sun, items, n);
	free(items);
	return rc;
}
