/*
 * libfault.so: an LD_PRELOAD shim that makes the Nth call to chosen libc
 * functions fail with a chosen errno (see fault.h).  A failed call does not
 * reach the kernel: nothing is sent, received or opened.  Every other call
 * goes to the next definition (libc, or a sanitizer's interceptor).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fault.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

#define API __attribute__((visibility("default")))

static const char *const names[FAULT_NFN] = {
	[FAULT_SENDMSG] = "sendmsg", [FAULT_RECVMSG] = "recvmsg",
	[FAULT_ACCEPT4] = "accept4", [FAULT_SOCKET] = "socket",
	[FAULT_BIND] = "bind", [FAULT_CONNECT] = "connect", [FAULT_DUP] = "dup",
	[FAULT_DUP3] = "dup3", [FAULT_FCNTL] = "fcntl", [FAULT_POLL] = "poll",
	[FAULT_OPEN] = "open", [FAULT_SETSOCKOPT] = "setsockopt",
	[FAULT_GETSOCKOPT] = "getsockopt", [FAULT_PIDFD_OPEN] = "pidfd_open",
	[FAULT_PIDFD_GETFD] = "pidfd_getfd", [FAULT_PIPE] = "pipe",
	[FAULT_FORK] = "fork", [FAULT_EPOLL_CTL] = "epoll_ctl",
	[FAULT_EPOLL_WAIT] = "epoll_wait", [FAULT_MALLOC] = "malloc",
	[FAULT_REALLOC] = "realloc", [FAULT_CLOSE_RANGE] = "close_range",
};

static struct {
	unsigned long mask;
	long n, seen;
	int err, any, hit;
	pid_t pid;              /* 0: every process (armed by environment) */
} arm = { .hit = -1 };
static long nfaults;

/* ---- what each call may really fail with ---- */

#define ERRS(...) (const int[]){ __VA_ARGS__, 0 }

static int one_of(int err, const int *list)
{
	for (; *list; list++)
		if (*list == err)
			return 1;
	return 0;
}

/* detail: fcntl's cmd, {get,set}sockopt's SOL_SOCKET option (else -1). */
static int plausible(int fn, int err, long detail)
{
	switch (fn) {
	case FAULT_SENDMSG:
		return one_of(err, ERRS(EINTR, EAGAIN, ENOMEM, ENOBUFS, EPIPE, ETOOMANYREFS));
	case FAULT_RECVMSG:
		return one_of(err, ERRS(EINTR, EAGAIN, ENOMEM));
	case FAULT_ACCEPT4:
		return one_of(err, ERRS(EINTR, EAGAIN, ENOMEM, ENOBUFS, EMFILE, ENFILE));
	case FAULT_SOCKET:
		return one_of(err, ERRS(ENOMEM, ENOBUFS, EMFILE, ENFILE));
	case FAULT_BIND:
		return one_of(err, ERRS(ENOMEM, EADDRINUSE));
	case FAULT_CONNECT:
		return one_of(err, ERRS(EINTR, EAGAIN, ENOMEM));
	case FAULT_DUP:
	case FAULT_PIDFD_OPEN:
	case FAULT_PIPE:
		return one_of(err, ERRS(EMFILE, ENFILE, ENOMEM));
	case FAULT_DUP3: /* a fixed target: EMFILE is not Linux's answer */
		return one_of(err, ERRS(ENOMEM, EBUSY));
	case FAULT_FCNTL:
		if (detail == F_DUPFD || detail == F_DUPFD_CLOEXEC)
			return one_of(err, ERRS(EMFILE, ENOMEM));
		if (detail == F_SETLKW || detail == F_OFD_SETLKW)
			return one_of(err, ERRS(EINTR, ENOLCK));
		return 0;
	case FAULT_POLL:
		return one_of(err, ERRS(EINTR, ENOMEM));
	case FAULT_OPEN:
		return one_of(err, ERRS(EMFILE, ENFILE, ENOMEM));
	case FAULT_SETSOCKOPT:
		return detail == SO_PASSRIGHTS && err == ENOPROTOOPT;
	case FAULT_GETSOCKOPT:
		return detail == SO_PEERPIDFD && one_of(err, ERRS(EMFILE, ENOMEM));
	case FAULT_PIDFD_GETFD:
		return one_of(err, ERRS(EMFILE, ENFILE));
	case FAULT_FORK:
		return one_of(err, ERRS(EAGAIN, ENOMEM));
	case FAULT_EPOLL_CTL: /* ENOSPC: max_user_watches */
		return detail == EPOLL_CTL_ADD ? one_of(err, ERRS(ENOMEM, ENOSPC)) :
		       detail == EPOLL_CTL_MOD && err == ENOMEM;
	case FAULT_EPOLL_WAIT:
		return err == EINTR;
	case FAULT_MALLOC:
	case FAULT_REALLOC:
		return err == ENOMEM;
	case FAULT_CLOSE_RANGE:
		return one_of(err, ERRS(ENOSYS, EPERM));
	}
	return 0;
}

/* 1 (errno set) when this call is the one to fail. */
static int fault_now(int fn, long detail)
{
	if (arm.n == 0 || !(arm.mask & (1ul << fn)))
		return 0;
	if (!arm.any && !plausible(fn, arm.err, detail))
		return 0;
	if (arm.pid != 0 && getpid() != arm.pid)
		return 0;
	if (++arm.seen != arm.n)
		return 0;
	arm.n = 0;
	arm.hit = fn;
	nfaults++;
	errno = arm.err;
	return 1;
}

API void fault_arm(unsigned long mask, long n, int err, int any)
{
	arm.mask = mask;
	arm.n = n > 0 ? n : 0;
	arm.seen = 0;
	arm.err = err;
	arm.any = any;
	arm.hit = -1;
	arm.pid = getpid();
}

API void fault_disarm(void)
{
	arm.n = 0;
}

API int fault_hit(void)
{
	return arm.hit;
}

API long fault_count(void)
{
	return nfaults;
}

API const char *fault_fn_name(int fn)
{
	return fn >= 0 && fn < FAULT_NFN ? names[fn] : "none";
}

/* ---- allocation tracking: an open-addressed set of live blocks ---- */

#define SLOTS 16384
#define TOMB ((void *)1)

static void *slot[SLOTS];
static int tracking, overflow;
static pid_t track_pid;

static size_t hash(const void *p)
{
	uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;

	return (size_t)(h >> 50) % SLOTS;
}

static int tracked_here(void)
{
	return tracking && getpid() == track_pid;
}

static void track_add(void *p)
{
	size_t i = hash(p);

	if (p == NULL || !tracked_here())
		return;
	for (size_t k = 0; k < SLOTS; k++, i = (i + 1) % SLOTS)
		if (slot[i] == NULL || slot[i] == TOMB) {
			slot[i] = p;
			return;
		}
	overflow = 1;
}

static void track_del(void *p)
{
	size_t i = hash(p);

	if (p == NULL || !tracked_here())
		return;
	for (size_t k = 0; k < SLOTS && slot[i] != NULL; k++, i = (i + 1) % SLOTS)
		if (slot[i] == p) {
			slot[i] = TOMB;
			return;
		}
}

API void fault_track(int on)
{
	memset(slot, 0, sizeof slot);
	overflow = 0;
	track_pid = getpid();
	tracking = on;
}

API long fault_live(void)
{
	long n = 0;

	if (overflow)
		return -1;
	for (size_t i = 0; i < SLOTS; i++)
		n += slot[i] != NULL && slot[i] != TOMB;
	return n;
}

/* ---- the next definitions ---- */

static void *next(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (p == NULL)
		abort();
	return p;
}

#define NEXT(fn) (real_##fn ? real_##fn : (real_##fn = (__typeof__(real_##fn))next(#fn)))

/*
 * dlsym may allocate before malloc itself is found: those few blocks come
 * from a static arena and are never given back.
 */
static _Alignas(16) char boot[8192];
static size_t boot_used;
static int resolving;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);

static void *boot_alloc(size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n > sizeof boot - boot_used)
		return NULL;
	p = boot + boot_used;
	boot_used += n;
	return p;
}

static int is_boot(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + sizeof boot;
}

static int resolve_alloc(void)
{
	if (real_free)
		return 1;
	if (resolving)
		return 0;
	resolving = 1;
	real_malloc = (__typeof__(real_malloc))next("malloc");
	real_calloc = (__typeof__(real_calloc))next("calloc");
	real_realloc = (__typeof__(real_realloc))next("realloc");
	real_free = (__typeof__(real_free))next("free");
	resolving = 0;
	return 1;
}

API void *malloc(size_t n)
{
	void *p;

	if (!resolve_alloc())
		return boot_alloc(n);
	if (fault_now(FAULT_MALLOC, -1))
		return NULL;
	p = real_malloc(n);
	track_add(p);
	return p;
}

API void *calloc(size_t k, size_t n)
{
	void *p;

	if (!resolve_alloc())
		return n && k > SIZE_MAX / n ? NULL : boot_alloc(k * n);
	if (fault_now(FAULT_MALLOC, -1))
		return NULL;
	p = real_calloc(k, n);
	track_add(p);
	return p;
}

API void *realloc(void *old, size_t n)
{
	void *p;

	if (!resolve_alloc())
		return NULL;
	if (is_boot(old)) {
		p = malloc(n);
		if (p)
			memcpy(p, old, n < (size_t)(boot + sizeof boot - (char *)old) ?
			                       n : (size_t)(boot + sizeof boot - (char *)old));
		return p;
	}
	if (n > 0 && fault_now(FAULT_REALLOC, -1))
		return NULL;
	p = real_realloc(old, n);
	if (p != NULL || n == 0)
		track_del(old);
	track_add(p);
	return p;
}

API void free(void *p)
{
	if (p == NULL || is_boot(p))
		return;
	resolve_alloc();
	track_del(p);
	real_free(p);
}

/* ---- system calls ---- */

static __typeof__(sendmsg) *real_sendmsg;
static __typeof__(recvmsg) *real_recvmsg;
static __typeof__(accept4) *real_accept4;
static __typeof__(socket) *real_socket;
static __typeof__(bind) *real_bind;
static __typeof__(connect) *real_connect;
static __typeof__(dup) *real_dup;
static __typeof__(dup2) *real_dup2;
static __typeof__(dup3) *real_dup3;
static int (*real_fcntl)(int, int, ...);
static int (*real_fcntl64)(int, int, ...);
static __typeof__(poll) *real_poll;
static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static __typeof__(setsockopt) *real_setsockopt;
static __typeof__(getsockopt) *real_getsockopt;
static __typeof__(pipe) *real_pipe;
static __typeof__(pipe2) *real_pipe2;
static __typeof__(fork) *real_fork;
static __typeof__(epoll_ctl) *real_epoll_ctl;
static __typeof__(epoll_wait) *real_epoll_wait;
static __typeof__(close_range) *real_close_range;
static long (*real_syscall)(long, ...);

API ssize_t sendmsg(int s, const struct msghdr *m, int flags)
{
	NEXT(sendmsg);
	return fault_now(FAULT_SENDMSG, -1) ? -1 : real_sendmsg(s, m, flags);
}

API ssize_t recvmsg(int s, struct msghdr *m, int flags)
{
	NEXT(recvmsg);
	return fault_now(FAULT_RECVMSG, -1) ? -1 : real_recvmsg(s, m, flags);
}

API int accept4(int s, struct sockaddr *a, socklen_t *l, int flags)
{
	NEXT(accept4);
	return fault_now(FAULT_ACCEPT4, -1) ? -1 : real_accept4(s, a, l, flags);
}

API int socket(int domain, int type, int proto)
{
	NEXT(socket);
	return fault_now(FAULT_SOCKET, -1) ? -1 : real_socket(domain, type, proto);
}

API int bind(int s, const struct sockaddr *a, socklen_t l)
{
	NEXT(bind);
	return fault_now(FAULT_BIND, -1) ? -1 : real_bind(s, a, l);
}

API int connect(int s, const struct sockaddr *a, socklen_t l)
{
	NEXT(connect);
	return fault_now(FAULT_CONNECT, -1) ? -1 : real_connect(s, a, l);
}

API int dup(int fd)
{
	NEXT(dup);
	return fault_now(FAULT_DUP, -1) ? -1 : real_dup(fd);
}

API int dup2(int fd, int to)
{
	NEXT(dup2);
	return fault_now(FAULT_DUP3, -1) ? -1 : real_dup2(fd, to);
}

API int dup3(int fd, int to, int flags)
{
	NEXT(dup3);
	return fault_now(FAULT_DUP3, -1) ? -1 : real_dup3(fd, to, flags);
}

/* fcntl's third argument is an int or a pointer: pass the word through. */
API int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	uintptr_t arg;

	va_start(ap, cmd);
	arg = va_arg(ap, uintptr_t);
	va_end(ap);
	NEXT(fcntl);
	return fault_now(FAULT_FCNTL, cmd) ? -1 : real_fcntl(fd, cmd, arg);
}

API int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	uintptr_t arg;

	va_start(ap, cmd);
	arg = va_arg(ap, uintptr_t);
	va_end(ap);
	NEXT(fcntl64);
	return fault_now(FAULT_FCNTL, cmd) ? -1 : real_fcntl64(fd, cmd, arg);
}

API int poll(struct pollfd *p, nfds_t n, int ms)
{
	NEXT(poll);
	return fault_now(FAULT_POLL, -1) ? -1 : real_poll(p, n, ms);
}

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ?
	       (mode_t)va_arg(ap, unsigned) : 0;
}

API int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	NEXT(open);
	return fault_now(FAULT_OPEN, -1) ? -1 : real_open(path, flags, mode);
}

API int openat(int dir, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	NEXT(openat);
	return fault_now(FAULT_OPEN, -1) ? -1 : real_openat(dir, path, flags, mode);
}

API int setsockopt(int s, int level, int opt, const void *v, socklen_t l)
{
	NEXT(setsockopt);
	if (fault_now(FAULT_SETSOCKOPT, level == SOL_SOCKET ? opt : -1))
		return -1;
	return real_setsockopt(s, level, opt, v, l);
}

API int getsockopt(int s, int level, int opt, void *v, socklen_t *l)
{
	NEXT(getsockopt);
	if (fault_now(FAULT_GETSOCKOPT, level == SOL_SOCKET ? opt : -1))
		return -1;
	return real_getsockopt(s, level, opt, v, l);
}

API int close_range(unsigned first, unsigned last, int flags)
{
	NEXT(close_range);
	return fault_now(FAULT_CLOSE_RANGE, -1) ? -1 : real_close_range(first, last, flags);
}

API int pipe(int p[2])
{
	NEXT(pipe);
	return fault_now(FAULT_PIPE, -1) ? -1 : real_pipe(p);
}

API int pipe2(int p[2], int flags)
{
	NEXT(pipe2);
	return fault_now(FAULT_PIPE, -1) ? -1 : real_pipe2(p, flags);
}

API pid_t fork(void)
{
	NEXT(fork);
	return fault_now(FAULT_FORK, -1) ? -1 : real_fork();
}

API int epoll_ctl(int ep, int op, int fd, struct epoll_event *ev)
{
	NEXT(epoll_ctl);
	return fault_now(FAULT_EPOLL_CTL, op) ? -1 : real_epoll_ctl(ep, op, fd, ev);
}

API int epoll_wait(int ep, struct epoll_event *ev, int max, int ms)
{
	NEXT(epoll_wait);
	return fault_now(FAULT_EPOLL_WAIT, -1) ? -1 : real_epoll_wait(ep, ev, max, ms);
}

/* Only the pidfd calls are judged; six argument words pass through. */
API long syscall(long nr, ...)
{
	va_list ap;
	long a[6];

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	NEXT(syscall);
	if ((nr == SYS_pidfd_open && fault_now(FAULT_PIDFD_OPEN, -1)) ||
	    (nr == SYS_pidfd_getfd && fault_now(FAULT_PIDFD_GETFD, -1)))
		return -1;
	return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---- arming from the environment: FDSHARE_FAULT=names:N:ERRNO[:any] ---- */

static const struct { const char *name; int err; } errnames[] = {
	{ "EINTR", EINTR }, { "EAGAIN", EAGAIN }, { "ENOMEM", ENOMEM },
	{ "EMFILE", EMFILE }, { "ENFILE", ENFILE }, { "ENOBUFS", ENOBUFS },
	{ "EPIPE", EPIPE }, { "EIO", EIO }, { "ENOPROTOOPT", ENOPROTOOPT },
	{ "ETOOMANYREFS", ETOOMANYREFS }, { "EBUSY", EBUSY }, { "ENOSPC", ENOSPC },
	{ "ENOSYS", ENOSYS }, { "EPERM", EPERM },
};

static unsigned long parse_names(const char *s, size_t len)
{
	unsigned long mask = 0;

	while (len > 0) {
		size_t k = strcspn(s, ",:");

		if (k > len)
			k = len;
		for (int fn = 0; fn < FAULT_NFN; fn++)
			if (strlen(names[fn]) == k && strncmp(s, names[fn], k) == 0)
				mask |= 1ul << fn;
		if (k == 3 && strncmp(s, "all", 3) == 0)
			mask = FAULT_ALL;
		s += k;
		len -= k;
		if (len > 0 && *s == ',') {
			s++;
			len--;
		}
	}
	return mask;
}

/* ---- remote control: FDSHARE_FAULT_SIGNALS=1 (fault.h) ---- */

static __typeof__(sigqueue) *real_sigqueue;
static pid_t controller; /* who sent the last command: told at exit too */

static void on_control(int sig, siginfo_t *si, void *uc)
{
	uint64_t v = (uint64_t)(uintptr_t)si->si_value.sival_ptr;
	union sigval reply;
	int saved = errno, cmd = (int)(v >> 62);

	(void)sig;
	(void)uc;
	if (si->si_code != SI_QUEUE)
		return;
	controller = si->si_pid;
	reply.sival_ptr = (void *)(uintptr_t)fault_state_pack(arm.seen, arm.hit, nfaults);
	real_sigqueue(si->si_pid, FAULT_REPLY_SIGNAL, reply);
	if (cmd == FAULT_CTL_DISARM) {
		arm.n = 0;
	} else if (cmd == FAULT_CTL_ARM) {
		arm.n = 0;
		arm.mask = (unsigned long)(v >> 33) & 0x1fffffff;
		arm.err = (int)((v >> 24) & 0xff);
		arm.any = (int)((v >> 32) & 1);
		arm.seen = 0;
		arm.hit = -1;
		arm.pid = getpid();
		arm.n = (long)(v & FAULT_CTL_N_MAX);
	}
	errno = saved;
}

static void control_from_env(void)
{
	struct sigaction sa = { .sa_sigaction = on_control, .sa_flags = SA_SIGINFO | SA_RESTART };
	const char *on = getenv("FDSHARE_FAULT_SIGNALS");

	if (on == NULL || strcmp(on, "1") != 0)
		return;
	NEXT(sigqueue); /* resolved now: dlsym is no call for a handler */
	if ((on = getenv("FDSHARE_FAULT_CONTROLLER")) != NULL)
		controller = (pid_t)strtol(on, NULL, 10);
	sigemptyset(&sa.sa_mask);
	sigaction(FAULT_CTL_SIGNAL, &sa, NULL);
}

/* A daemon that exits after a hand-over can no longer be asked. */
__attribute__((destructor)) static void report_at_exit(void)
{
	union sigval v;

	if (controller <= 0)
		return;
	v.sival_ptr = (void *)(uintptr_t)(fault_state_pack(arm.seen, arm.hit, nfaults) |
	                                  FAULT_STATE_FINAL);
	real_sigqueue(controller, FAULT_REPLY_SIGNAL, v);
}

__attribute__((constructor)) static void arm_from_env(void)
{
	const char *spec = getenv("FDSHARE_FAULT"), *c1, *c2;
	char *end;
	long n;

	control_from_env();
	if (spec == NULL || (c1 = strchr(spec, ':')) == NULL ||
	    (c2 = strchr(c1 + 1, ':')) == NULL)
		return;
	n = strtol(c1 + 1, &end, 10);
	if (end != c2 || n < 1)
		return;
	for (size_t i = 0; i < sizeof errnames / sizeof *errnames; i++) {
		size_t k = strlen(errnames[i].name);

		if (strncmp(c2 + 1, errnames[i].name, k) == 0 &&
		    (c2[1 + k] == '\0' || c2[1 + k] == ':')) {
			fault_arm(parse_names(spec, (size_t)(c1 - spec)), n,
			          errnames[i].err, strcmp(c2 + 1 + k, ":any") == 0);
			arm.pid = 0;
		}
	}
}
