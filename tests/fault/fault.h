/*
 * The fault-injection shim (libfault.so, loaded with LD_PRELOAD): makes the
 * Nth call to chosen libc functions fail with a chosen errno, without
 * calling the real function.  Test-only.
 *
 * A test looks the control functions up with dlsym(RTLD_DEFAULT, ...) so
 * that it still links without the shim.  A program it starts may be armed
 * through the environment instead: FDSHARE_FAULT="sendmsg,recvmsg:3:EINTR"
 * (names, N, errno; a fourth field "any" drops the plausibility rule).
 * Not thread-safe: arm and track from one thread.
 */
#ifndef FAULT_H
#define FAULT_H

#include <signal.h>
#include <stdint.h>

enum fault_fn {
	FAULT_SENDMSG,
	FAULT_RECVMSG,
	FAULT_ACCEPT4,
	FAULT_SOCKET,
	FAULT_BIND,
	FAULT_CONNECT,
	FAULT_DUP,
	FAULT_DUP3,             /* dup2, dup3 */
	FAULT_FCNTL,            /* fcntl, fcntl64 */
	FAULT_POLL,
	FAULT_OPEN,             /* open, openat (fopen calls neither) */
	FAULT_SETSOCKOPT,
	FAULT_GETSOCKOPT,
	FAULT_PIDFD_OPEN,       /* syscall(SYS_pidfd_open, ...) */
	FAULT_PIDFD_GETFD,      /* syscall(SYS_pidfd_getfd, ...) */
	FAULT_PIPE,             /* pipe, pipe2 */
	FAULT_FORK,
	FAULT_EPOLL_CTL,
	FAULT_EPOLL_WAIT,
	FAULT_MALLOC,           /* malloc and calloc */
	FAULT_REALLOC,
	FAULT_CLOSE_RANGE,      /* ENOSYS before Linux 5.9; EPERM under seccomp */
	FAULT_NFN
};

#define FAULT_ALL ((1ul << FAULT_NFN) - 1)
#define FAULT_ALLOC ((1ul << FAULT_MALLOC) | (1ul << FAULT_REALLOC))
#define FAULT_SYSCALLS (FAULT_ALL & ~FAULT_ALLOC)

/*
 * Arm: among the calls of this process to the functions in mask for which
 * err is plausible (the kernel or libc documents it for that call: EINTR
 * only where the call can block, EMFILE only where it makes a descriptor,
 * ENOMEM for allocators, ...; every call when any is non-zero), the Nth
 * (n >= 1) fails with err.  One fault per arming.
 */
void fault_arm(unsigned long mask, long n, int err, int any);
void fault_disarm(void);
/* The function that was failed since arming (enum fault_fn), or -1. */
int fault_hit(void);
/* Faults injected in this process since it started. */
long fault_count(void);
const char *fault_fn_name(int fn);

/*
 * Allocation tracking: while on, blocks that malloc, calloc and realloc
 * return are remembered until freed.  fault_live: how many are still
 * allocated, -1 when more were live than the shim can remember.
 */
void fault_track(int on);
long fault_live(void);

/*
 * Remote control, for a process another one started (a daemon): with
 * FDSHARE_FAULT_SIGNALS=1 in its environment, the shim takes commands
 * sent with sigqueue(pid, FAULT_CTL_SIGNAL, value) and answers each to
 * the sender with FAULT_REPLY_SIGNAL (block it and sigtimedwait), the
 * state before the command: the calls counted since arming (N's count:
 * arm with FAULT_CTL_N_MAX to count a session's calls), the function
 * failed (-1 none) and the faults injected since the process started.
 * A command arms (as fault_arm), disarms, or only asks.  At exit the
 * last sender (at first FDSHARE_FAULT_CONTROLLER, a pid, if set) gets the
 * final state too, marked FAULT_STATE_FINAL.
 * A process armed by FDSHARE_FAULT counts from its start.
 */
#define FAULT_CTL_SIGNAL (SIGRTMIN + 3)
#define FAULT_REPLY_SIGNAL (SIGRTMIN + 4)
#define FAULT_CTL_N_MAX 0xffffffl

enum { FAULT_CTL_QUERY, FAULT_CTL_ARM, FAULT_CTL_DISARM };

/* bits 0-23 n, 24-31 errno, 32 any, 33-61 mask, 62-63 the command */
static inline uint64_t fault_ctl(int cmd, unsigned long mask, long n, int err, int any)
{
	return ((uint64_t)n & FAULT_CTL_N_MAX) | ((uint64_t)err & 0xff) << 24 |
	       (uint64_t)!!any << 32 | ((uint64_t)mask & 0x1fffffff) << 33 |
	       (uint64_t)cmd << 62;
}

struct fault_state {
	long seen;      /* calls counted against N since arming */
	int hit;        /* enum fault_fn, or -1 */
	long faults;    /* injected since the process started */
};

/* bits 0-31 seen, 32-39 hit + 1, 40-62 faults, 63 final */
#define FAULT_STATE_FINAL (1ull << 63)

static inline uint64_t fault_state_pack(long seen, int hit, long faults)
{
	return ((uint64_t)seen & 0xffffffff) | ((uint64_t)(hit + 1) & 0xff) << 32 |
	       ((uint64_t)faults & 0x7fffff) << 40;
}

static inline struct fault_state fault_state_unpack(uint64_t v)
{
	struct fault_state s = { (long)(v & 0xffffffff), (int)((v >> 32) & 0xff) - 1,
	                         (long)((v >> 40) & 0x7fffff) };
	return s;
}

#endif
