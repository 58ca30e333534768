/*
 * The test's side of the shim's remote control (fault.h): commands to a
 * process started with FDSHARE_FAULT_SIGNALS=1, and its answers, kept by
 * sender until asked for so that none is lost while waiting for another.
 */
#ifndef FAULT_REMOTE_H
#define FAULT_REMOTE_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "fault.h"

#define REMOTE_SLOTS 64

static struct {
	pid_t pid;
	uint64_t v;
} remote_box[REMOTE_SLOTS];

static inline void remote_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, FAULT_REPLY_SIGNAL);
	sigprocmask(SIG_BLOCK, set, NULL);
}

/* Kept in a free slot, else in place of the oldest. */
static inline void remote_keep(pid_t pid, uint64_t v)
{
	static unsigned next;
	int i;

	for (i = 0; i < REMOTE_SLOTS && remote_box[i].pid != 0; i++)
		;
	if (i == REMOTE_SLOTS)
		i = (int)(next++ % REMOTE_SLOTS);
	remote_box[i].pid = pid;
	remote_box[i].v = v;
}

/* The answer from pid (final or not, as asked) within ms; 0, or -1. */
static inline int remote_wait(pid_t pid, int final, int ms, struct fault_state *st)
{
	struct timespec end, now, left;
	sigset_t set;

	remote_block(&set);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		siginfo_t si;

		for (int i = 0; i < REMOTE_SLOTS; i++)
			if (remote_box[i].pid == pid &&
			    !!(remote_box[i].v & FAULT_STATE_FINAL) == !!final) {
				*st = fault_state_unpack(remote_box[i].v);
				remote_box[i].pid = 0;
				return 0;
			}
		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = end.tv_sec - now.tv_sec;
		left.tv_nsec = end.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		if (left.tv_sec < 0)
			return -1;
		if (sigtimedwait(&set, &si, &left) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		remote_keep(si.si_pid, (uint64_t)(uintptr_t)si.si_value.sival_ptr);
	}
}

/* Forget what pid said (it is gone, or its answers are stale). */
static inline void remote_forget(pid_t pid)
{
	for (int i = 0; i < REMOTE_SLOTS; i++)
		if (remote_box[i].pid == pid)
			remote_box[i].pid = 0;
}

/* Send a command (fault_ctl), return the state before it; -1 on no answer. */
static inline int remote_cmd(pid_t pid, uint64_t cmd, struct fault_state *st)
{
	union sigval v = { .sival_ptr = (void *)(uintptr_t)cmd };
	sigset_t set;

	remote_block(&set);
	if (sigqueue(pid, FAULT_CTL_SIGNAL, v) < 0)
		return -1;
	return remote_wait(pid, 0, 5000, st);
}

#endif
