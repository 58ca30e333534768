/* fdshare fetch: take descriptors from the holder and run CMD with them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "holder_cli.h"

static const char fetch_help[] =
"usage: fdshare fetch [--socket PATH] [--remove] NAME... -- CMD [ARG...]\n"
"\n"
"Fetch the descriptors the holder keeps under each NAME, all or none, and\n"
"run CMD with them at fd 3, 4, ... in order, with LISTEN_FDS, LISTEN_PID\n"
"and LISTEN_FDNAMES set (a NAME holding three fds is named three times).\n"
"They are the same open files the holder keeps (shared offsets).  A NAME\n"
"with a '\\' is refused (usage error): LISTEN_FDNAMES cannot carry it;\n"
"a CMD that cannot run is found (126, 127) before anything is fetched.\n"
"\n"
"  --socket PATH   the holder's socket (see fdshare-holder(8))\n"
"  --remove        take them out of the holder\n";

static int run(char **names, size_t n, int *fds, const size_t *counts, char **cmd)
{
	size_t total = 0, k = 0;
	struct fdshare_pass *pass;
	int r;

	for (size_t i = 0; i < n; i++)
		total += counts[i];
	pass = calloc(total ? total : 1, sizeof *pass);
	if (pass == NULL)
		return cli_fail("fetch", "out of memory", ENOMEM, "free some memory");
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < counts[i]; j++, k++) {
			pass[k].fd = fds[k];
			pass[k].name = names[i];
		}
	r = cli_exec("fetch", cmd, pass, total);
	free(pass);
	return r;
}

int cmd_fetch(int argc, char **argv)
{
	const char *sock = NULL;
	int remove = 0, first, dash = -1, r;
	const struct cli_opt opts[] = {
		{ "--socket", NULL, &sock }, { "--remove", &remove, NULL },
		{ NULL, NULL, NULL },
	};
	struct fdshare_holder *h;
	size_t n, *counts, total = 0;
	int *fds;

	r = cli_options(argc, argv, opts, fetch_help, &first);
	if (r >= 0)
		return r;
	for (int i = first; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dash = i;
			break;
		}
	if (dash < 0 || dash + 1 >= argc)
		return cli_usage("fetch", "missing '-- CMD'");
	if (dash == first)
		return cli_usage("fetch", "missing NAME");
	if (sock && (r = cli_socket_opt("fetch", "--socket", sock)) != 0)
		return r;
	for (int i = first; i < dash; i++) {
		if ((r = hcli_name("fetch", argv[i])) != 0)
			return r;
		/* checked before anything is fetched, let alone removed */
		if (strchr(argv[i], '\\'))
			return cli_usage("fetch", "NAME '%s' has a '\\', which "
			                 "LISTEN_FDNAMES cannot carry", argv[i]);
	}
	if ((r = cli_cmd_runnable("fetch", argv + dash + 1)) != 0)
		return r; /* nothing fetched, let alone removed */
	n = (size_t)(dash - first);
	counts = calloc(n, sizeof *counts);
	if (counts == NULL)
		return cli_fail("fetch", "out of memory", ENOMEM, "free some memory");
	h = hcli_connect("fetch", sock);
	if (h == NULL) {
		free(counts);
		return 1;
	}
	if (fdshare_fetch_many(h, (const char *const *)argv + first, n,
	                       remove ? FDSHARE_FETCH_REMOVE : 0, &fds, counts) < 0) {
		int err = errno;
		char what[300];

		snprintf(what, sizeof what, "cannot fetch '%s'",
		         argv[first + (int)fdshare_holder_errindex(h)]);
		fdshare_holder_close(h);
		free(counts);
		return hcli_fail("fetch", what, err);
	}
	fdshare_holder_close(h);
	r = run(argv + first, n, fds, counts, argv + dash + 1);
	for (size_t i = 0; i < n; i++)
		total += counts[i];
	for (size_t i = 0; i < total; i++)
		close(fds[i]);
	free(fds);
	free(counts);
	return r;
}
