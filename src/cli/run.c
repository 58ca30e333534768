/*
 * fdshare run: a supervisor that keeps CMD running with its sockets,
 * restarts it when it dies, and on SIGHUP starts a new instance beside the
 * old one, stopping the old one once the new one is ready.  Here: its
 * options, and what the loop (run_loop.c) needs set up and cleaned up.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "holder_cli.h"
#include "run.h"

static const char run_help[] =
"usage: fdshare run [--holder [--socket PATH] [--store-prefix P]]\n"
"                   [--ready [--ready-timeout SEC]] [--stop-timeout SEC] [--fdstore-max N]\n"
"                   [--backlog N] [--mode OCTAL] [ADDR[=NAME]...] -- CMD [ARG...]\n"
"\n"
"Make the sockets as 'fdshare listen' does and keep CMD running with them:\n"
"restart it when it exits (after 0.1 s, doubling up to 5 s while it keeps\n"
"dying within a second).  SIGHUP starts a new CMD beside the old one, waits\n"
"until it is ready (with --ready; else not at all), then sends the old one\n"
"SIGTERM: both accept on the same\n"
"sockets meanwhile, so no client is refused.  SIGTERM or SIGINT stops CMD\n"
"(SIGKILL after --stop-timeout; a second signal kills at once) and exits 0.\n"
"\n"
"CMD gets NOTIFY_SOCKET for sd_notify(3): READY=1 says it is ready, and fds\n"
"sent with FDSTORE=1 (FDNAME=name, default 'stored') are kept and passed\n"
"to each later CMD after the sockets, as systemd's fd store does (FDPOLL=0,\n"
"FDSTOREREMOVE=1).  Only CMD's own pids may notify.\n"
"\n"
"  --holder            fetch the sockets from the holder (see 'fdshare listen'),\n"
"                      and keep the fd store there too, so that a new\n"
"                      'fdshare run' takes over both\n"
"  --socket PATH       the holder's socket (see fdshare-holder(8))\n"
"  --store-prefix P    holder names of the fd store: P + FDNAME (default\n"
"                      'fdstore.')\n"
"  --ready             wait for READY=1 from a new CMD before stopping the old\n"
"  --ready-timeout SEC give up a new CMD not ready by then (default 60)\n"
"  --stop-timeout SEC  SIGKILL a CMD still running this long after SIGTERM\n"
"                      (default 10)\n"
"  --fdstore-max N     fds kept in the fd store (default 64; 0: none)\n"
"  --backlog N, --mode OCTAL   as for 'fdshare listen'\n";

/* ---- setting up and cleaning up ---- */

/* A private directory (mode 0700) holding the notify socket. */
static int make_notify(struct run *r)
{
	const char *base = getenv("XDG_RUNTIME_DIR");

	if (base == NULL || base[0] != '/' || strlen(base) > 60 ||
	    access(base, W_OK | X_OK) != 0)
		base = "/tmp";
	snprintf(r->dir, sizeof r->dir, "%s/fdshare-run.XXXXXX", base);
	if (mkdtemp(r->dir) == NULL) {
		r->dir[0] = '\0';
		return cli_fail("run", "cannot make a directory for the notify socket", errno,
		                "check that $XDG_RUNTIME_DIR or /tmp is writable");
	}
	snprintf(r->path, sizeof r->path, "%s/notify", r->dir);
	r->notifyfd = notify_socket_open(r->path);
	if (r->notifyfd < 0)
		return cli_fail("run", "cannot make the notify socket", errno, "see fdshare(1)");
	return 0;
}

/* environ, with NOTIFY_SOCKET naming ours. */
static int make_env(struct run *r)
{
	extern char **environ;
	size_t n = 0, k = 0;

	while (environ[n])
		n++;
	r->env = calloc(n + 2, sizeof *r->env);
	if (r->env == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0)
			r->env[k++] = environ[i];
	if (asprintf(&r->env[k], "NOTIFY_SOCKET=%s", r->path) < 0) {
		r->env[k] = NULL;
		return -1;
	}
	return 0;
}

/*
 * Signals come by signalfd.  SIGPIPE is blocked, not ignored: a lost
 * stderr must not kill the supervisor, and CMD gets an empty mask but
 * would keep an ignored disposition.
 */
static int catch_signals(struct run *r)
{
	sigset_t set, pipe;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigprocmask(SIG_BLOCK, &pipe, NULL);
	r->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r->sigfd < 0)
		return cli_fail("run", "cannot make a signalfd", errno, "see fdshare(1)");
	return 0;
}

static void cleanup(struct run *r)
{
	if (r->env) {
		for (size_t i = 0; r->env[i]; i++)
			if (strncmp(r->env[i], "NOTIFY_SOCKET=", 14) == 0)
				free(r->env[i]);
		free(r->env);
	}
	if (r->notifyfd >= 0) {
		close(r->notifyfd);
		unlink(r->path);
	}
	if (r->dir[0])
		rmdir(r->dir);
	if (r->sigfd >= 0)
		close(r->sigfd);
	fdstore_free(&r->store);
	act_free(&r->act, 1);
}

/* ---- options ---- */

struct run_opts {
	struct act_opts act;
	const char *prefix, *ready_timeout, *stop_timeout, *store_max;
	int ready;
};

static int prefix_ok(const char *p)
{
	size_t n = strlen(p);

	for (size_t i = 0; i < n; i++)
		if (p[i] <= ' ' || p[i] >= 0x7f || p[i] == ':')
			return 0;
	return n >= 1 && n <= 128;
}

static int run_numbers(const struct run_opts *o, struct run *r, size_t *store_max)
{
	unsigned int v;
	int e;

	r->ready_ms = 60000;
	r->stop_ms = 10000;
	*store_max = 64;
	if (o->ready_timeout && !o->ready)
		return cli_usage("run", "--ready-timeout goes with --ready");
	if (o->ready_timeout) {
		if ((e = cli_uint("run", "--ready-timeout", o->ready_timeout, 86400, &v)) != 0)
			return e;
		if (v == 0)
			return cli_usage("run", "--ready-timeout must be 1 second or more");
		r->ready_ms = (long long)v * 1000;
	}
	if (o->stop_timeout) {
		if ((e = cli_uint("run", "--stop-timeout", o->stop_timeout, 86400, &v)) != 0)
			return e;
		r->stop_ms = (long long)v * 1000;
	}
	if (o->store_max) {
		if ((e = cli_uint("run", "--fdstore-max", o->store_max, 4096, &v)) != 0)
			return e;
		*store_max = v;
	}
	if (o->prefix && !o->act.holder)
		return cli_usage("run", "--store-prefix names holder entries: it goes with --holder");
	if (o->prefix && !prefix_ok(o->prefix))
		return cli_usage("run", "--store-prefix must be 1 to 128 printable ASCII "
		                 "characters without ':' or spaces, got '%s'", o->prefix);
	return 0;
}

/* Sockets, fd store, notify socket, signals: 0 or an exit code. */
static int prepare(struct run *r, const struct run_opts *o, size_t store_max)
{
	struct fdshare_holder *h = NULL;
	int e;

	if (o->act.holder && (h = hcli_connect("run", o->act.socket)) == NULL)
		return 1;
	e = act_open("run", &r->act, h);
	r->store.h = h;
	if (e != 0)
		return e;
	r->store.max = store_max;
	r->store.use_holder = o->act.holder;
	r->store.socket = o->act.socket;
	r->store.prefix = o->prefix ? o->prefix : "fdstore.";
	if (fdstore_load(&r->store) < 0)
		cli_log("run", "cannot read the fd store from the holder: %s", strerror(errno));
	if ((e = make_notify(r)) != 0 || (e = catch_signals(r)) != 0)
		return e;
	if (make_env(r) < 0)
		return cli_fail("run", "out of memory", ENOMEM, "free some memory");
	return 0;
}

static int first_start(struct run *r)
{
	struct inst *in = run_start(r, CURRENT);
	char what[80];

	if (in == NULL) {
		snprintf(what, sizeof what, "cannot run '%.40s'", r->cmd[0]);
		return cli_exec_failed("run", what, errno);
	}
	cli_log("run", "started pid %d", (int)in->pid);
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o = { 0 };
	const struct cli_opt opts[] = {
		{ "--holder", &o.act.holder, NULL }, { "--socket", NULL, &o.act.socket },
		{ "--backlog", NULL, &o.act.backlog }, { "--mode", NULL, &o.act.mode },
		{ "--ready", &o.ready, NULL }, { "--ready-timeout", NULL, &o.ready_timeout },
		{ "--stop-timeout", NULL, &o.stop_timeout },
		{ "--fdstore-max", NULL, &o.store_max },
		{ "--store-prefix", NULL, &o.prefix }, { NULL, NULL, NULL },
	};
	static struct run r;
	size_t store_max;
	int first, dash = -1, e;

	e = cli_options(argc, argv, opts, run_help, &first);
	if (e >= 0)
		return e;
	for (int i = first; i < argc && dash < 0; i++)
		if (strcmp(argv[i], "--") == 0)
			dash = i;
	if (dash < 0 || dash + 1 >= argc)
		return cli_usage("run", "missing '-- CMD'");
	if ((e = run_numbers(&o, &r, &store_max)) != 0)
		return e;
	e = act_parse("run", &o.act, argv + first, (size_t)(dash - first), &r.act);
	if (e != 0)
		return e;
	r.cmd = argv + dash + 1;
	/* before a socket is made, and above all stored in the holder */
	if ((e = cli_cmd_runnable("run", r.cmd)) != 0) {
		act_free(&r.act, 0);
		return e;
	}
	r.wait_ready = o.ready;
	r.sigfd = r.notifyfd = -1;
	if (fdstore_init(&r.store, 0) < 0) {
		act_free(&r.act, 0);
		return cli_fail("run", "cannot make an epoll instance", errno, "see fdshare(1)");
	}
	e = prepare(&r, &o, store_max);
	if (e == 0)
		e = first_start(&r);
	if (e == 0)
		run_loop(&r);
	cleanup(&r);
	return e;
}
