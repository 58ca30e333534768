/* fdshare list: what the holder keeps, and what each descriptor is. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "holder_cli.h"

static const char list_help[] =
"usage: fdshare list [--socket PATH] [--json] [PREFIX]\n"
"\n"
"List the names the holder keeps that this user may see (and that start\n"
"with PREFIX): per name a line NAME, OWNER uid, AGE, TTL left ('-': none),\n"
"the number of fds and 'drop-on-hangup' when set; then one row per fd as\n"
"'fdshare ls' shows it (FD is the holder's own fd number).\n"
"\n"
"  --socket PATH   the holder's socket (see fdshare-holder(8))\n"
"  --json          a JSON array of objects: name, owner, age_ms, left_ms\n"
"                  (null: no TTL), drop_on_hangup, fds (the objects of\n"
"                  'fdshare ls --json')\n";

static void seconds(char *buf, size_t size, uint64_t ms)
{
	snprintf(buf, size, "%" PRIu64 ".%01" PRIu64 "s", ms / 1000, ms % 1000 / 100);
}

static int print_text(const struct fdshare_list *l)
{
	struct fdshare_fdinfo info;

	for (size_t i = 0; i < l->n; i++) {
		const struct fdshare_entry *e = &l->v[i];
		char age[32], left[32];

		seconds(age, sizeof age, e->age_ms);
		if (e->left_ms < 0)
			snprintf(left, sizeof left, "-");
		else
			seconds(left, sizeof left, (uint64_t)e->left_ms);
		printf("%s  owner %u  age %s  ttl %s  %zu fd%s%s\n", e->name,
		       (unsigned)e->owner, age, left, e->nfds, e->nfds == 1 ? "" : "s",
		       e->flags & FDSHARE_HOLD_DROP_ON_HANGUP ? "  drop-on-hangup" : "");
		for (size_t k = 0; k < e->nfds; k++) {
			if (fdshare_list_fdinfo(l, i, k, &info) < 0)
				return -1;
			fputs("  ", stdout);
			fdrow_print(stdout, &info);
		}
	}
	return 0;
}

static int print_json(const struct fdshare_list *l)
{
	struct fdshare_fdinfo info;

	putchar('[');
	for (size_t i = 0; i < l->n; i++) {
		const struct fdshare_entry *e = &l->v[i];

		printf("%s{\"name\":", i ? "," : "");
		json_string(stdout, e->name);
		printf(",\"owner\":%u,\"age_ms\":%" PRIu64 ",\"left_ms\":", (unsigned)e->owner,
		       e->age_ms);
		if (e->left_ms < 0)
			fputs("null", stdout);
		else
			printf("%" PRId64, e->left_ms);
		printf(",\"drop_on_hangup\":%s,\"fds\":[",
		       e->flags & FDSHARE_HOLD_DROP_ON_HANGUP ? "true" : "false");
		for (size_t k = 0; k < e->nfds; k++) {
			if (fdshare_list_fdinfo(l, i, k, &info) < 0)
				return -1;
			if (k)
				putchar(',');
			fdjson_print(stdout, &info);
		}
		fputs("]}", stdout);
	}
	puts("]");
	return 0;
}

int cmd_list(int argc, char **argv)
{
	const char *sock = NULL;
	int json = 0, first, r;
	const struct cli_opt opts[] = {
		{ "--socket", NULL, &sock }, { "--json", &json, NULL }, { NULL, NULL, NULL },
	};
	struct fdshare_holder *h;
	struct fdshare_list l;

	r = cli_options(argc, argv, opts, list_help, &first);
	if (r >= 0)
		return r;
	if (argc - first > 1)
		return cli_usage("list", "unexpected operand '%s'", argv[first + 1]);
	if (first < argc && (r = hcli_name("list", argv[first])) != 0)
		return r;
	if (sock && (r = cli_socket_opt("list", "--socket", sock)) != 0)
		return r;
	h = hcli_connect("list", sock);
	if (h == NULL)
		return 1;
	if (fdshare_list(h, first < argc ? argv[first] : NULL, &l) < 0) {
		int err = errno;

		fdshare_holder_close(h);
		return hcli_fail("list", "cannot list the holder's entries", err);
	}
	fdshare_holder_close(h);
	r = json ? print_json(&l) : print_text(&l);
	fdshare_list_free(&l);
	if (r < 0)
		return cli_fail("list", "a malformed reply", EPROTO, "a bug: please report it");
	if (fflush(stdout) != 0)
		return cli_fail("list", "cannot write", errno, "check standard output");
	return 0;
}
