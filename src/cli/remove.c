/* fdshare remove: close names held by the holder. */
#include <errno.h>
#include <stdio.h>

#include "cli.h"
#include "holder_cli.h"

static const char remove_help[] =
"usage: fdshare remove [--socket PATH] NAME...\n"
"\n"
"Close the descriptors the holder keeps under each NAME, all or none: if\n"
"one NAME is missing or refused, nothing is removed.\n"
"\n"
"  --socket PATH   the holder's socket (see fdshare-holder(8))\n";

int cmd_remove(int argc, char **argv)
{
	const char *sock = NULL;
	const struct cli_opt opts[] = { { "--socket", NULL, &sock }, { NULL, NULL, NULL } };
	struct fdshare_holder *h;
	int first, r = cli_options(argc, argv, opts, remove_help, &first);

	if (r >= 0)
		return r;
	if (first >= argc)
		return cli_usage("remove", "missing NAME");
	if (sock && (r = cli_socket_opt("remove", "--socket", sock)) != 0)
		return r;
	for (int i = first; i < argc; i++)
		if ((r = hcli_name("remove", argv[i])) != 0)
			return r;
	h = hcli_connect("remove", sock);
	if (h == NULL)
		return 1;
	if (fdshare_remove_many(h, (const char *const *)argv + first,
	                        (size_t)(argc - first)) < 0) {
		int err = errno;
		char what[300];

		snprintf(what, sizeof what, "cannot remove '%s'",
		         argv[first + (int)fdshare_holder_errindex(h)]);
		fdshare_holder_close(h);
		return hcli_fail("remove", what, err);
	}
	fdshare_holder_close(h);
	return 0;
}
