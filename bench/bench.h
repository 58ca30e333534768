/*
 * What the benchmark programs share.  Each program prints one line,
 * "name workload fds_per_sec msgs_per_sec", on stdout and one diagnostic
 * line (N and elapsed time) on stderr; the workloads, the timing rules
 * and the counting rules are the anchors' (see bench/README.md).
 */
#ifndef BENCH_H
#define BENCH_H

#include <sys/types.h>

#define BENCH_TARGET_FD 100     /* where a grab target keeps the payload */

_Noreturn void die(const char *what);
_Noreturn void die_proto(const char *what);
double mono_now(void);
unsigned long long arg_count(const char *s);
int open_payload(const char *path);

void byte_put(int fd, char c);
char byte_get(int fd);

/*
 * A socketpair of the given type and a forked child running fn on its end;
 * fn writes 'R' once ready, and the child exits 0 when fn returns.
 * Returns the parent's end after that 'R': where a timed loop starts.
 */
typedef void child_fn(int sock, const void *arg);
int fork_child(int type, child_fn *fn, const void *arg, pid_t *pid);
/* waitpid; dies unless the child exited 0. */
void reap(pid_t pid);

void result(const char *name, const char *workload, double fds, double msgs,
            double secs, unsigned long long n);

/*
 * The holder's side (many.c, scale.c).  names_make: n names
 * "PREFIX-PID-I", in one block to free().  holder_fill stores fd under
 * each name (one fd each, with the FDSHARE_HOLD_* flags), per names a
 * request; holder_drain removes them the same way.  Both die on failure.
 */
struct fdshare_holder;
struct fdshare_holder *holder_dial(const char *path);
const char **names_make(const char *prefix, size_t n);
void holder_fill(struct fdshare_holder *h, const char **names, size_t n,
                 int fd, size_t per, int flags);
void holder_drain(struct fdshare_holder *h, const char **names, size_t n,
                  size_t per);
/* VmRSS of a process, in kB; dies when it cannot be read. */
long rss_kb(pid_t pid);

#endif
