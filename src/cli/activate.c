/* The sockets of "fdshare listen" and "fdshare run", made or held. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "activate.h"
#include "cli.h"
#include "holder_cli.h"

static int parse_numbers(const char *cmd, const struct act_opts *o, struct activation *act)
{
	unsigned int v;
	int r;

	act->backlog = SOMAXCONN;
	act->mode = 0600;
	if (o->backlog) {
		if ((r = cli_uint(cmd, "--backlog", o->backlog, ACT_BACKLOG_MAX, &v)) != 0)
			return r;
		act->backlog = (int)v;
	}
	if (o->mode) {
		unsigned long m;
		char *end;

		errno = 0;
		m = strtoul(o->mode, &end, 8);
		if (errno || *end || o->mode[0] < '0' || o->mode[0] > '7' || m > 0777)
			return cli_usage(cmd, "--mode wants an octal mode such as 0660, got '%s'",
			                 o->mode);
		act->mode = (mode_t)m;
	}
	if (o->socket && !o->holder)
		return cli_usage(cmd, "--socket names the holder: it goes with --holder");
	if (o->socket)
		return cli_socket_opt(cmd, "--socket", o->socket);
	return 0;
}

static int distinct_names(const char *cmd, const struct activation *act)
{
	for (size_t i = 0; i < act->n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(act->addrs[i].name, act->addrs[j].name) == 0)
				return cli_usage(cmd, "NAME '%s' is given twice: with --holder "
				                 "each ADDR needs its own NAME", act->addrs[i].name);
	return 0;
}

static int make_one(const char *cmd, struct activation *act, size_t i);

/*
 * Take each fd:N now, before this process opens anything: a closed N
 * would otherwise be filled by a descriptor of ours (the holder
 * connection, run's epoll) and that passed on as N.
 */
static int claim_fds(const char *cmd, struct activation *act)
{
	for (size_t i = 0; i < act->n; i++) {
		int r;

		if (act->addrs[i].kind == ADDR_FD && (r = make_one(cmd, act, i)) != 0)
			return r;
	}
	return 0;
}

int act_parse(const char *cmd, const struct act_opts *o, char **args, size_t n,
              struct activation *act)
{
	int r;

	memset(act, 0, sizeof *act);
	if ((r = parse_numbers(cmd, o, act)) != 0)
		return r;
	act->n = n;
	act->args = args;
	act->addrs = calloc(n ? n : 1, sizeof *act->addrs);
	act->fds = malloc((n ? n : 1) * sizeof *act->fds);
	act->made = calloc(n ? n : 1, 1);
	if (act->addrs == NULL || act->fds == NULL || act->made == NULL) {
		act_free(act, 0);
		return cli_fail(cmd, "out of memory", ENOMEM, "free some memory");
	}
	for (size_t i = 0; i < n; i++)
		act->fds[i] = -1;
	for (size_t i = 0; i < n; i++) {
		const char *why;

		if (addr_parse(args[i], &act->addrs[i], &why) < 0) {
			act_free(act, 0);
			return cli_usage(cmd, "bad ADDR '%s': %s", args[i], why);
		}
		if (o->holder && (r = hcli_name(cmd, act->addrs[i].name)) != 0) {
			act_free(act, 0);
			return r;
		}
	}
	if (o->holder && (r = distinct_names(cmd, act)) != 0)
		act_free(act, 0);
	else if ((r = claim_fds(cmd, act)) != 0)
		act_free(act, 0);
	return r;
}

static int make_one(const char *cmd, struct activation *act, size_t i)
{
	const char *hint;
	char what[400];

	if (act->fds[i] >= 0) /* fd:N, claimed by act_parse */
		return 0;
	act->fds[i] = addr_open(&act->addrs[i], act->backlog, act->mode, &hint);
	if (act->fds[i] < 0) {
		snprintf(what, sizeof what, "cannot %s %s", act->addrs[i].kind == ADDR_FD
		         ? "use" : "create", act->args[i]);
		return cli_fail(cmd, what, errno, hint);
	}
	act->made[i] = addr_path(&act->addrs[i]) != NULL;
	return 0;
}

/* The holder's entry for addr i: 0 taken, 1 failed, -1 absent (ENOENT). */
static int fetch_one(const char *cmd, struct activation *act, size_t i,
                     struct fdshare_holder *h)
{
	const struct addr *a = &act->addrs[i];
	char what[800], is[400], hint[340];
	size_t n;
	int *fds, m;

	if (fdshare_fetch(h, a->name, &fds, &n, 0) < 0) {
		if (errno == ENOENT)
			return -1;
		snprintf(what, sizeof what, "cannot fetch '%s' from the holder", a->name);
		return hcli_fail(cmd, what, errno);
	}
	if (n != 1) {
		for (size_t k = 0; k < n; k++)
			close(fds[k]);
		free(fds);
		snprintf(what, sizeof what, "the holder keeps %zu descriptors under '%s', "
		         "not one socket", n, a->name);
		snprintf(hint, sizeof hint, "remove them with 'fdshare remove %s', or give "
		         "another NAME", a->name);
		return cli_fail(cmd, what, EEXIST, hint);
	}
	if (act->fds[i] >= 0) /* fd:N's copy: what the holder keeps wins */
		close(act->fds[i]);
	act->fds[i] = fds[0];
	free(fds);
	m = addr_matches(a, act->fds[i], is, sizeof is);
	if (m == 1)
		return 0;
	if (m < 0) {
		snprintf(what, sizeof what, "cannot examine the holder's '%s'", a->name);
		return cli_fail(cmd, what, errno, "see fdshare(1)");
	}
	snprintf(what, sizeof what, "the holder's '%s' is %s, not %s", a->name, is,
	         act->args[i]);
	snprintf(hint, sizeof hint, "remove it with 'fdshare remove %s', or give another "
	         "NAME", a->name);
	return cli_fail(cmd, what, EEXIST, hint);
}

static int hold_one(const char *cmd, struct activation *act, size_t i,
                    struct fdshare_holder *h)
{
	int r = fetch_one(cmd, act, i, h);
	char what[400];

	if (r >= 0)
		return r;
	if ((r = make_one(cmd, act, i)) != 0)
		return r;
	if (fdshare_store(h, act->addrs[i].name, &act->fds[i], 1, 0, 0) == 0) {
		act->made[i] = 0; /* the holder's now: a restart finds it */
		return 0;
	}
	if (errno == EBUSY) { /* another one stored it first: use theirs */
		int err = errno;

		close(act->fds[i]);
		act->fds[i] = -1;
		if (act->made[i])
			unlink(act->addrs[i].sa.un.sun_path);
		act->made[i] = 0;
		r = fetch_one(cmd, act, i, h);
		if (r >= 0)
			return r;
		errno = err;
	}
	snprintf(what, sizeof what, "cannot store '%s' in the holder", act->addrs[i].name);
	return hcli_fail(cmd, what, errno);
}

static void close_all(struct activation *act, int unlink_made)
{
	for (size_t i = 0; i < act->n; i++) {
		if (act->fds[i] >= 0)
			close(act->fds[i]);
		if (unlink_made && act->made[i])
			unlink(act->addrs[i].sa.un.sun_path);
		act->fds[i] = -1;
		act->made[i] = 0;
	}
}

int act_open(const char *cmd, struct activation *act, struct fdshare_holder *h)
{
	for (size_t i = 0; i < act->n; i++) {
		int r = h ? hold_one(cmd, act, i, h) : make_one(cmd, act, i);

		if (r != 0) {
			close_all(act, 1);
			return r;
		}
	}
	return 0;
}

void act_pass(const struct activation *act, struct fdshare_pass *pass)
{
	for (size_t i = 0; i < act->n; i++) {
		pass[i].fd = act->fds[i];
		pass[i].name = act->addrs[i].name;
	}
}

void act_free(struct activation *act, int unlink_made)
{
	if (act->fds && act->made)
		close_all(act, unlink_made);
	free(act->addrs);
	free(act->fds);
	free(act->made);
	memset(act, 0, sizeof *act);
}
