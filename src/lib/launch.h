/*
 * Private to libfdshare: starting a program with descriptors at 3, 4, ...
 * and systemd's LISTEN_* variables (spawn.c, env.c, fdmap.c), and reading
 * them back (listen.c).  Everything a forked child calls is marked
 * async-signal-safe; everything that allocates runs before the fork.
 */
#ifndef FDSHARE_LAUNCH_H
#define FDSHARE_LAUNCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal.h"

#define LISTEN_START 3
/* Keeps LISTEN_START + 2 * nfds (targets, then staged copies) an int. */
#define LISTEN_MAX_FDS 65536u

/*
 * The environment of the program: envp (or environ) without any LISTEN_*
 * entry, then, when nfds > 0, LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID and
 * LISTEN_PIDFDID, the last two written by env_set_self in the new process.
 */
struct launch_env {
	char **vars;        /* NULL-terminated; other entries borrowed */
	char *fds_var;      /* "LISTEN_FDS=N" */
	char *names_var;    /* "LISTEN_FDNAMES=a:b" */
	size_t pidfdid_at;  /* index of LISTEN_PIDFDID in vars */
	char pid_var[32];
	char pidfdid_var[40];
};

int env_build(struct launch_env *e, char *const envp[],
              const struct fdshare_pass *fds, size_t nfds);
/* Async-signal-safe: LISTEN_PID and LISTEN_PIDFDID of the calling process. */
void env_set_self(struct launch_env *e);
void env_free(struct launch_env *e);

/*
 * file as execvp finds it (malloc'd): as it is when it holds a '/', else
 * the first runnable file in PATH; NULL with execve's errno (ENOENT,
 * EACCES, ...) when there is none.
 */
char *launch_find_program(const char *file);

/* Async-signal-safe: the inode number of a pidfd of this process (pidfs). */
int self_pidfd_id(uint64_t *id);

/*
 * Putting src[i] at LISTEN_START + i, whatever the overlaps: every source
 * is first copied above the targets ("staged"), then each copy is dup2'd
 * to its target, which therefore lacks FD_CLOEXEC.
 */
struct fdmap {
	size_t n;
	size_t applied;          /* targets written so far */
	int *src;
	int *stage;              /* -1 when not made */
	int *backup;             /* exec: what a target held, -1 if closed */
	unsigned char *backup_cloexec;
	int *exposed;            /* exec: fds >= LISTEN_START + n without FD_CLOEXEC */
	size_t nexposed;
};

/*
 * Async-signal-safe: a close-on-exec copy of fd at or above min; EMFILE
 * (not fcntl's EINVAL) when min is at or over RLIMIT_NOFILE.
 */
int fdmap_dup_above(int fd, int min);
/* EBADF when a source is not open. */
int fdmap_init(struct fdmap *m, const struct fdshare_pass *fds, size_t n);
/* Async-signal-safe. */
int fdmap_apply(struct fdmap *m);
/* Async-signal-safe: close every fd >= LISTEN_START + n except keep. */
void fdmap_close_rest(size_t n, int keep);
/* fdshare_exec: remember the targets and the fds exec must not keep... */
int fdmap_save(struct fdmap *m);
/* ...mark the latter FD_CLOEXEC... */
void fdmap_hide(struct fdmap *m);
/* ...and after a failed exec put everything back. */
void fdmap_undo(struct fdmap *m);
void fdmap_free(struct fdmap *m);

/*
 * The LISTEN_* parser of fdshare_listen_fds, on the variables' values (NULL
 * for an unset one), with no side effect but claim(fd), called in order
 * for each passed fd when claim is not NULL (a fuzzer passes NULL, and
 * should then bound LISTEN_FDS when it asks for names).  self_id is this
 * process's pidfd inode id, NULL when unknown.  Returns what
 * fdshare_listen_fds returns; *names is set only on a positive return.
 */
struct listen_vars {
	const char *pid;
	const char *pidfdid;
	const char *fds;
	const char *fdnames;
};
int listen_parse(const struct listen_vars *v, pid_t self, const uint64_t *self_id,
                 int (*claim)(int fd), char ***names);

#endif
