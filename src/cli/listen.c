/* fdshare listen: socket activation, making the sockets and exec'ing CMD. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "activate.h"
#include "cli.h"
#include "holder_cli.h"

static const char listen_help[] =
"usage: fdshare listen [--holder [--socket PATH]] [--backlog N] [--mode OCTAL]\n"
"                      ADDR[=NAME]... -- CMD [ARG...]\n"
"\n"
"Make a socket for each ADDR, then run CMD in place of this process with\n"
"them at fd 3, 4, ... and LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES set, as\n"
"systemd's socket activation does (sd_listen_fds(3)).  ADDR is one of\n"
"\n"
"  tcp:HOST:PORT    tcp6:[HOST]:PORT    (numeric HOST; PORT 0: any free port)\n"
"  udp:HOST:PORT    udp6:[HOST]:PORT\n"
"  unix:PATH        unix-dgram:PATH     seqpacket:PATH   (PATH @NAME: abstract)\n"
"  fd:N             descriptor N, open here\n"
"\n"
"NAME, after the last '=', is its name in LISTEN_FDNAMES; by default the\n"
"ADDR with each ':' made '-', as in tcp-127.0.0.1-8080.  TCP sockets have\n"
"SO_REUSEADDR, tcp6 and udp6 IPV6_V6ONLY.  A stale Unix socket file is\n"
"replaced; a live socket, a symbolic link or any other file at PATH is an\n"
"error, and so is a directory others may write to (unless sticky) or\n"
"another user's (not root's).\n"
"\n"
"  --holder        fetch each socket from the holder by NAME, and make and\n"
"                  store it there when absent: run the same line again to\n"
"                  restart or upgrade CMD while clients wait in the backlog\n"
"  --socket PATH   the holder's socket (see fdshare-holder(8))\n"
"  --backlog N     the listen(2) backlog (default 4096)\n"
"  --mode OCTAL    the mode of Unix socket files (default 0600)\n";

/* The index of "--" at or after first, -1 when absent. */
static int find_dash(int argc, char **argv, int first)
{
	for (int i = first; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	return -1;
}

static int exec_with(struct activation *act, char **cmd)
{
	struct fdshare_pass *pass = calloc(act->n, sizeof *pass);
	int r;

	if (pass == NULL) {
		act_free(act, 1);
		return cli_fail("listen", "out of memory", ENOMEM, "free some memory");
	}
	act_pass(act, pass);
	r = cli_exec("listen", cmd, pass, act->n);
	free(pass);
	act_free(act, 1);
	return r;
}

int cmd_listen(int argc, char **argv)
{
	struct act_opts o = { 0 };
	const struct cli_opt opts[] = {
		{ "--holder", &o.holder, NULL }, { "--socket", NULL, &o.socket },
		{ "--backlog", NULL, &o.backlog }, { "--mode", NULL, &o.mode },
		{ NULL, NULL, NULL },
	};
	struct fdshare_holder *h = NULL;
	struct activation act;
	int first, dash, r;

	r = cli_options(argc, argv, opts, listen_help, &first);
	if (r >= 0)
		return r;
	dash = find_dash(argc, argv, first);
	if (dash < 0 || dash + 1 >= argc)
		return cli_usage("listen", "missing '-- CMD'");
	if (dash == first)
		return cli_usage("listen", "missing ADDR");
	r = act_parse("listen", &o, argv + first, (size_t)(dash - first), &act);
	if (r != 0)
		return r;
	/* before a socket is made, and above all stored in the holder */
	if ((r = cli_cmd_runnable("listen", argv + dash + 1)) != 0) {
		act_free(&act, 0);
		return r;
	}
	if (o.holder && (h = hcli_connect("listen", o.socket)) == NULL) {
		act_free(&act, 0);
		return 1;
	}
	r = act_open("listen", &act, h);
	if (h)
		fdshare_holder_close(h);
	if (r != 0) {
		act_free(&act, 1);
		return r;
	}
	return exec_with(&act, argv + dash + 1);
}
