/*
 * Starting a program with descriptors at 3, 4, ... and systemd's LISTEN_*
 * variables, in a child (fdshare_spawn) or in place (fdshare_exec).  Both
 * find the program and build its environment first; the child then only
 * makes async-signal-safe calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"

#define DEFAULT_PATH "/bin:/usr/bin" /* glibc's execvp without PATH */

struct launch {
	char *path;
	struct launch_env env;
	struct fdmap map;
};

/* A file execve may run; otherwise the error execve would give. */
static int runnable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EACCES;
		return -1;
	}
	return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS);
}

static char *path_join(const char *dir, size_t dlen, const char *file)
{
	size_t flen = strlen(file);
	char *p = malloc(dlen + flen + 2);

	if (p == NULL)
		return NULL;
	memcpy(p, dir, dlen);
	if (dlen > 0)
		p[dlen++] = '/';
	memcpy(p + dlen, file, flen + 1);
	return p;
}

/*
 * file as execvp finds it: as it is when it holds a '/', else the first
 * runnable file in the caller's PATH (an empty entry is the current
 * directory), going past EACCES, ENOENT and the like; EACCES at the end
 * when one was seen.
 */
char *launch_find_program(const char *file)
{
	const char *dirs = getenv("PATH"), *p, *end;
	int seen_eacces = 0;

	if (*file == '\0') {
		errno = ENOENT;
		return NULL;
	}
	if (strchr(file, '/'))
		return runnable(file) == 0 ? strdup(file) : NULL;
	for (p = dirs ? dirs : DEFAULT_PATH;; p = end + 1) {
		char *cand;

		end = strchrnul(p, ':');
		cand = path_join(p, (size_t)(end - p), file);
		if (cand == NULL)
			return NULL;
		if (runnable(cand) == 0)
			return cand;
		free(cand);
		if (errno == EACCES)
			seen_eacces = 1;
		else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE &&
		         errno != ENODEV && errno != ETIMEDOUT)
			return NULL;
		if (*end == '\0')
			break;
	}
	errno = seen_eacces ? EACCES : ENOENT;
	return NULL;
}

static void launch_free(struct launch *l)
{
	int saved = errno;

	free(l->path);
	env_free(&l->env);
	fdmap_free(&l->map);
	errno = saved;
}

static int launch_prepare(struct launch *l, char *const argv[], char *const envp[],
                          const struct fdshare_pass *fds, size_t nfds, int flags)
{
	memset(l, 0, sizeof *l);
	if (flags != 0 || argv == NULL || argv[0] == NULL ||
	    (nfds > 0 && fds == NULL) || nfds > LISTEN_MAX_FDS) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < nfds; i++)
		if (fds[i].name && !fdshare_fdname_valid(fds[i].name)) {
			errno = EINVAL;
			return -1;
		}
	if (fdmap_init(&l->map, fds, nfds) < 0)
		return -1;
	if (env_build(&l->env, envp, fds, nfds) < 0 ||
	    (l->path = launch_find_program(argv[0])) == NULL) {
		launch_free(l);
		return -1;
	}
	return 0;
}

/* The parent's handlers must not run in the child; ignored stays ignored. */
static void reset_handlers(void)
{
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;

		if (sigaction(sig, NULL, &sa) < 0 || sa.sa_handler == SIG_DFL ||
		    sa.sa_handler == SIG_IGN)
			continue;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_DFL;
		sigaction(sig, &sa, NULL);
	}
}

/* In the child: async-signal-safe calls only; errno goes to errfd. */
_Noreturn static void child_exec(struct launch *l, char *const argv[], int errfd)
{
	sigset_t none;
	ssize_t w;
	int high, err;

	reset_handlers();
	env_set_self(&l->env);
	/* errfd may sit at a target: move it above them all. */
	high = fdmap_dup_above(errfd, LISTEN_START + (int)l->map.n);
	if (high >= 0) {
		errfd = high;
		if (fdmap_apply(&l->map) == 0) {
			fdmap_close_rest(l->map.n, errfd);
			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			execve(l->path, argv, l->env.vars);
		}
	}
	err = errno;
	w = write(errfd, &err, sizeof err);
	(void)w;
	_exit(127);
}

/* The child's errno, or 0 once its exec closed the pipe. */
static int child_error(int rfd)
{
	int err = 0;
	ssize_t r;

	do
		r = read(rfd, &err, sizeof err);
	while (r < 0 && errno == EINTR);
	return r == (ssize_t)sizeof err ? err : 0;
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

API int fdshare_spawn(pid_t *pid, char *const argv[], char *const envp[],
                      const struct fdshare_pass *fds, size_t nfds, int flags)
{
	struct launch l;
	sigset_t all, old;
	int pfd[2], err;
	pid_t child;

	if (launch_prepare(&l, argv, envp, fds, nfds, flags) < 0)
		return -1;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		launch_free(&l);
		return -1;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	child = fork();
	if (child == 0) {
		close(pfd[0]);
		child_exec(&l, argv, pfd[1]);
	}
	err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(pfd[1]);
	if (child > 0) {
		err = child_error(pfd[0]);
		if (err != 0)
			reap(child);
	}
	close(pfd[0]);
	launch_free(&l);
	if (child < 0 || err != 0) {
		errno = err;
		return -1;
	}
	if (pid)
		*pid = child;
	return 0;
}

API int fdshare_exec(char *const argv[], char *const envp[],
                     const struct fdshare_pass *fds, size_t nfds, int flags)
{
	struct launch l;
	sigset_t none, old;

	if (launch_prepare(&l, argv, envp, fds, nfds, flags) < 0)
		return -1;
	env_set_self(&l.env);
	if (fdmap_save(&l.map) == 0 && fdmap_apply(&l.map) == 0) {
		int err;

		fdmap_hide(&l.map);
		sigemptyset(&none);
		pthread_sigmask(SIG_SETMASK, &none, &old);
		execve(l.path, argv, l.env.vars);
		err = errno;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		errno = err;
	}
	fdmap_undo(&l.map);
	launch_free(&l);
	return -1;
}
