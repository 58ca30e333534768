/* fdshare store: hand one of this process's descriptors to the holder. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "holder_cli.h"

static const char store_help[] =
"usage: fdshare store [--socket PATH] [--ttl SEC] [--replace | --append]\n"
"                     [--drop-on-hangup] NAME [FD]\n"
"\n"
"Keep descriptor FD (default 0, so that 'fdshare store web <&3' works) in\n"
"the holder under NAME: the holder keeps the open file after this process\n"
"is gone.  NAME is 1 to 255 bytes of printable ASCII without ':' or spaces.\n"
"\n"
"  --socket PATH      the holder's socket (see fdshare-holder(8))\n"
"  --ttl SEC          close it after SEC seconds (default: never)\n"
"  --replace          replace an existing NAME atomically\n"
"  --append           add FD to an existing NAME's group of descriptors\n"
"  --drop-on-hangup   close it when its peer goes away (EPOLLHUP/EPOLLERR)\n";

int cmd_store(int argc, char **argv)
{
	const char *sock = NULL, *ttl = NULL;
	int replace = 0, append = 0, drop = 0, first, fd = 0, flags = 0, r;
	unsigned int sec = 0;
	const struct cli_opt opts[] = {
		{ "--socket", NULL, &sock }, { "--ttl", NULL, &ttl },
		{ "--replace", &replace, NULL }, { "--append", &append, NULL },
		{ "--drop-on-hangup", &drop, NULL }, { NULL, NULL, NULL },
	};
	struct fdshare_holder *h;
	char what[300];

	r = cli_options(argc, argv, opts, store_help, &first);
	if (r >= 0)
		return r;
	if (first >= argc)
		return cli_usage("store", "missing NAME");
	if (argc - first > 2)
		return cli_usage("store", "unexpected operand '%s'", argv[first + 2]);
	if (replace && append)
		return cli_usage("store", "--replace and --append exclude each other");
	if (sock && (r = cli_socket_opt("store", "--socket", sock)) != 0)
		return r;
	if (ttl && (r = cli_uint("store", "--ttl", ttl, INT_MAX / 1000, &sec)) != 0)
		return r;
	if ((r = hcli_name("store", argv[first])) != 0)
		return r;
	if (first + 1 < argc && (r = cli_fd("store", "FD", argv[first + 1], &fd)) != 0)
		return r;
	if (fcntl(fd, F_GETFD) < 0) {
		snprintf(what, sizeof what, "fd %d", fd);
		return cli_fail("store", what, errno, "FD must be open in this process");
	}
	flags = (replace ? FDSHARE_HOLD_REPLACE : 0) | (append ? FDSHARE_HOLD_APPEND : 0) |
	        (drop ? FDSHARE_HOLD_DROP_ON_HANGUP : 0);
	h = hcli_connect("store", sock);
	if (h == NULL)
		return 1;
	r = fdshare_store(h, argv[first], &fd, 1, (uint64_t)sec * 1000, flags);
	if (r < 0) {
		int err = errno;

		fdshare_holder_close(h);
		snprintf(what, sizeof what, "cannot store '%s'", argv[first]);
		return hcli_fail("store", what, err);
	}
	fdshare_holder_close(h);
	return 0;
}
