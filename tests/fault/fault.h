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
	FAULT_MALLOC,           /* malloc and calloc */
	FAULT_REALLOC,
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

#endif
