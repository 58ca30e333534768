/* What the parts of "fdshare demo" share. */
#ifndef FDSHARE_DEMO_H
#define FDSHARE_DEMO_H

#include <stddef.h>
#include <sys/types.h>

#include "cli.h"

#define DEMO_WAIT_MS 10000      /* any wait for a peer */
#define DEMO_TMPDIR_MAX 64      /* leaves room for socket paths inside */

struct demo {
	int color;
	pid_t self;
	char dir[96];           /* scratch directory, removed at the end */
	int failed_step;        /* the first step that failed, 0 if none */
	char what[256];         /* what failed there, and the system's error */
	char why[512];          /* what that failure means */
};

/* Output: a step's title, an indented line, its verdict. */
void demo_title(struct demo *d, int step, const char *title);
void demo_say(struct demo *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void demo_ok(struct demo *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints "FAILED: what: strerror(err)", remembers why; returns -1. */
int demo_fail(struct demo *d, int step, const char *what, int err, const char *why);
/* Each line of a small file, indented. */
void demo_show_file(struct demo *d, const char *path);

/* dir/name, removed at the end and on a signal. */
void demo_path(struct demo *d, const char *name, char *buf, size_t size);
/* This binary again as "_demo_peer ROLE DEMOPID [ARG...]", with fds passed. */
int demo_spawn(struct demo *d, pid_t *pid, char *const args[],
               const struct fdshare_pass *fds, size_t nfds);
/* A peer's exit status (128 + signal), killing it after DEMO_WAIT_MS. */
int demo_reap(pid_t pid);
/* Wait up to DEMO_WAIT_MS for one byte on fd: 0, or -1 with errno. */
int demo_wait_byte(int fd);

int demo_inherit(struct demo *d);      /* step 1 */
int demo_scm_rights(struct demo *d);   /* step 2 */
int demo_proc(struct demo *d);         /* steps 3, 4, 5 */

#endif
