/*
 * The supervisor of "fdshare run": keeps CMD running, replaces it on
 * SIGHUP, stops it on SIGTERM, and reads what its instances tell it on the
 * notify socket (READY=1, FDSTORE=1).  One thread, one poll: signals come
 * by signalfd, the fd store's hang-ups by epoll.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "../lib/internal.h"
#include "run.h"

#define QUICK_MS 1000           /* an instance dying sooner counts as failing */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

static struct inst *find_role(struct run *r, int role)
{
	for (size_t i = 0; i < r->ninst; i++)
		if (r->inst[i].role == role)
			return &r->inst[i];
	return NULL;
}

static struct inst *find_pid(struct run *r, pid_t pid)
{
	for (size_t i = 0; i < r->ninst; i++)
		if (r->inst[i].pid == pid)
			return &r->inst[i];
	return NULL;
}

/* ---- starting and stopping instances ---- */

static int spawn(struct run *r, pid_t *pid)
{
	size_t n = r->act.n + r->store.n;
	struct fdshare_pass *pass = calloc(n ? n : 1, sizeof *pass);
	int ret;

	if (pass == NULL)
		return -1;
	act_pass(&r->act, pass);
	fdstore_pass(&r->store, pass + r->act.n);
	fflush(NULL);
	ret = fdshare_spawn(pid, r->cmd, r->env, pass, n, 0);
	free(pass);
	return ret;
}

struct inst *run_start(struct run *r, int role)
{
	struct inst *in;
	pid_t pid;

	if (r->ninst == MAX_INST) {
		errno = EAGAIN;
		return NULL;
	}
	if (spawn(r, &pid) < 0)
		return NULL;
	in = &r->inst[r->ninst++];
	in->pid = pid;
	in->role = role;
	in->ready = 0;
	in->started = mono_ms();
	in->deadline = role == STARTING && r->wait_ready ? in->started + r->ready_ms
	               : NO_DEADLINE;
	return in;
}

static void stop(struct run *r, struct inst *in)
{
	kill(in->pid, SIGTERM);
	in->role = STOPPING;
	in->deadline = mono_ms() + r->stop_ms;
}

/* The new instance takes over; the one it replaces is stopped. */
static void promote(struct run *r, struct inst *new)
{
	struct inst *old = find_role(r, CURRENT);

	if (old) {
		cli_log("run", "pid %d takes over: stopping pid %d", (int)new->pid, (int)old->pid);
		stop(r, old);
	}
	new->role = CURRENT;
	new->deadline = NO_DEADLINE;
}

static void restart_now(struct run *r)
{
	struct inst *in = run_start(r, CURRENT);
	int err = errno;

	if (in) {
		cli_log("run", "started pid %d", (int)in->pid);
		return;
	}
	r->fails++;
	r->restart_at = mono_ms() + BACKOFF_MAX_MS;
	cli_log("run", "cannot start %s: %s: trying again in %d s", r->cmd[0],
	        strerror(err), BACKOFF_MAX_MS / 1000);
}

static long long backoff(int fails)
{
	long long ms = BACKOFF_MIN_MS;

	for (int i = 1; i < fails && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

static void describe_exit(const struct inst *in, int status, const char *what)
{
	if (WIFSIGNALED(status))
		cli_log("run", "pid %d%s was killed by signal %d (%s)", (int)in->pid, what,
		        WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		cli_log("run", "pid %d%s exited with status %d", (int)in->pid, what,
		        WEXITSTATUS(status));
}

static void on_current_exit(struct run *r, long long lived)
{
	struct inst *next = find_role(r, STARTING);
	long long delay = 0;

	if (next) { /* the one that was to replace it takes over at once */
		promote(r, next);
		return;
	}
	r->fails = lived < QUICK_MS ? r->fails + 1 : 0;
	if (r->fails > 0)
		delay = backoff(r->fails);
	r->restart_at = mono_ms() + delay;
	if (delay > 0)
		cli_log("run", "restarting in %lld.%01lld s (%d quick exits in a row)",
		        delay / 1000, delay % 1000 / 100, r->fails);
}

static void on_child_exit(struct run *r, pid_t pid, int status)
{
	struct inst *in = find_pid(r, pid);
	struct inst gone;

	if (in == NULL)
		return;
	gone = *in;
	*in = r->inst[--r->ninst];
	if (gone.role == STOPPING) {
		describe_exit(&gone, status, "");
		return;
	}
	if (gone.role == STARTING) {
		describe_exit(&gone, status, ", not yet ready,");
		return;
	}
	describe_exit(&gone, status, "");
	if (!r->stopping)
		on_current_exit(r, mono_ms() - gone.started);
}

static void reap(struct run *r)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		on_child_exit(r, pid, status);
}

/* ---- signals ---- */

static void on_hup(struct run *r)
{
	struct inst *in;

	if (r->stopping)
		return;
	if ((in = find_role(r, STARTING)) != NULL) {
		cli_log("run", "SIGHUP ignored: pid %d is still starting", (int)in->pid);
		return;
	}
	if (find_role(r, CURRENT) == NULL) { /* waiting to restart: no wait */
		r->fails = 0;
		r->restart_at = mono_ms();
		return;
	}
	in = run_start(r, STARTING);
	if (in == NULL) {
		cli_log("run", "SIGHUP: cannot start %s: %s (the old one keeps running)",
		        r->cmd[0], strerror(errno));
		return;
	}
	cli_log("run", "SIGHUP: started pid %d", (int)in->pid);
	if (!r->wait_ready)
		promote(r, in);
}

static void on_stop(struct run *r, int sig)
{
	if (r->stopping) { /* asked twice: no more waiting */
		for (size_t i = 0; i < r->ninst; i++)
			kill(r->inst[i].pid, SIGKILL);
		return;
	}
	cli_log("run", "%s: stopping", strsignal(sig));
	r->stopping = 1;
	for (size_t i = 0; i < r->ninst; i++)
		stop(r, &r->inst[i]);
}

static void on_signals(struct run *r)
{
	struct signalfd_siginfo si;

	while (read(r->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP)
			on_hup(r);
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			on_stop(r, (int)si.ssi_signo);
	}
	reap(r); /* SIGCHLD, or several merged into one */
}

/* ---- notifications ---- */

static int may_notify(struct run *r)
{
	return find_pid(r, r->rx.pid) != NULL && (r->rx.uid == getuid() || getuid() == 0);
}

static void on_message(struct run *r)
{
	struct notify_msg *m = &r->rx.msg;
	struct inst *in = find_pid(r, r->rx.pid);

	if (m->bad_fdname)
		cli_log("run", "pid %d sent an invalid FDNAME: ignored", (int)r->rx.pid);
	if (m->fdstore && r->rx.nfds > 0)
		fdstore_add(&r->store, notify_store_name(m), r->rx.fds, r->rx.nfds, m->fdpoll);
	if (m->fdstoreremove) {
		if (m->fdname[0])
			fdstore_remove(&r->store, m->fdname);
		else
			cli_log("run", "pid %d sent FDSTOREREMOVE=1 without a valid FDNAME: "
			        "ignored", (int)r->rx.pid);
	}
	if (m->ready && !in->ready) {
		in->ready = 1;
		cli_log("run", "pid %d is ready", (int)in->pid);
		if (in->role == STARTING)
			promote(r, in);
	}
}

static void on_notify(struct run *r)
{
	for (int k = 0; k < 64; k++) { /* then the other events get a turn */
		int got = notify_recv(r->notifyfd, &r->rx);

		if (got == 0)
			return;
		if (got < 0) {
			if (errno != EMSGSIZE && errno != ECHRNG && errno != EBADMSG &&
			    errno != EPROTO)
				return;
			cli_log("run", "dropped a notification from pid %d: %s",
			        (int)r->rx.pid, errno == EBADMSG ? "it holds a NUL byte" :
			        errno == EMSGSIZE ? "over 4096 bytes" : strerror(errno));
			continue;
		}
		if (!may_notify(r)) {
			cli_log("run", "refused a notification from pid %d uid %d: not CMD",
			        (int)r->rx.pid, (int)r->rx.uid);
			for (size_t i = 0; i < r->rx.nfds; i++)
				close(r->rx.fds[i]);
			continue;
		}
		on_message(r);
	}
}

/* ---- timers ---- */

static void on_timers(struct run *r)
{
	long long now = mono_ms();

	for (size_t i = 0; i < r->ninst; i++) {
		struct inst *in = &r->inst[i];

		if (in->deadline == NO_DEADLINE || now < in->deadline)
			continue;
		if (in->role == STARTING) {
			cli_log("run", "pid %d sent no READY=1 in %lld s: stopping it", (int)in->pid,
			        r->ready_ms / 1000);
			stop(r, in);
		} else if (in->role == STOPPING) {
			cli_log("run", "pid %d still runs %lld s after SIGTERM: SIGKILL", (int)in->pid,
			        r->stop_ms / 1000);
			kill(in->pid, SIGKILL);
			in->deadline = NO_DEADLINE;
		}
	}
	if (!r->stopping && !find_role(r, CURRENT) && !find_role(r, STARTING) &&
	    now >= r->restart_at)
		restart_now(r);
}

static int timeout(struct run *r)
{
	long long next = NO_DEADLINE, now = mono_ms();

	for (size_t i = 0; i < r->ninst; i++)
		if (r->inst[i].deadline != NO_DEADLINE &&
		    (next == NO_DEADLINE || r->inst[i].deadline < next))
			next = r->inst[i].deadline;
	if (!r->stopping && !find_role(r, CURRENT) && !find_role(r, STARTING) &&
	    (next == NO_DEADLINE || r->restart_at < next))
		next = r->restart_at;
	if (next == NO_DEADLINE)
		return -1;
	return next <= now ? 0 : next - now > 60000 ? 60000 : (int)(next - now);
}

void run_loop(struct run *r)
{
	while (!r->stopping || r->ninst > 0) {
		struct pollfd p[3] = {
			{ .fd = r->notifyfd, .events = POLLIN },
			{ .fd = r->sigfd, .events = POLLIN },
			{ .fd = r->store.epfd, .events = POLLIN },
		};

		if (poll(p, 3, timeout(r)) < 0 && errno != EINTR)
			break;
		/* messages first: a pid is known until it has been reaped */
		if (p[0].revents)
			on_notify(r);
		if (p[1].revents)
			on_signals(r);
		if (p[2].revents)
			fdstore_hangups(&r->store);
		on_timers(r);
	}
}
