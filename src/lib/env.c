/*
 * The LISTEN_* environment of a program started with passed descriptors.
 * Built whole before the fork; the new process only writes its own pid
 * (and pidfd id) into room left for them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "launch.h"

#define FDNAME_MAX 255
#define PIDFS_MAGIC 0x50494446

extern char **environ;

static const char *const listen_names[] = {
	"LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDS", "LISTEN_FDNAMES",
};

/*
 * systemd's fdname_is_valid, and also not empty and without a backslash:
 * libsystemd takes a backslash in LISTEN_FDNAMES for an escape, so such a
 * name would not arrive as it was sent.
 */
API int fdshare_fdname_valid(const char *name)
{
	size_t len = 0;

	if (name == NULL)
		return 0;
	for (const char *p = name; *p && len <= FDNAME_MAX; p++, len++)
		if (*p < ' ' || *p > '~' || *p == ':' || *p == '\\')
			return 0;
	return len > 0 && len <= FDNAME_MAX;
}

static int is_listen_var(const char *entry)
{
	for (size_t i = 0; i < sizeof listen_names / sizeof *listen_names; i++) {
		size_t k = strlen(listen_names[i]);

		if (strncmp(entry, listen_names[i], k) == 0 &&
		    (entry[k] == '=' || entry[k] == '\0'))
			return 1;
	}
	return 0;
}

static char *join_names(const struct fdshare_pass *fds, size_t nfds)
{
	static const char prefix[] = "LISTEN_FDNAMES=";
	size_t len = sizeof prefix;
	char *s, *p;

	for (size_t i = 0; i < nfds; i++)
		len += strlen(fds[i].name ? fds[i].name : "unknown") + 1;
	s = malloc(len);
	if (s == NULL)
		return NULL;
	p = stpcpy(s, prefix);
	for (size_t i = 0; i < nfds; i++) {
		if (i > 0)
			*p++ = ':';
		p = stpcpy(p, fds[i].name ? fds[i].name : "unknown");
	}
	return s;
}

int env_build(struct launch_env *e, char *const envp[],
              const struct fdshare_pass *fds, size_t nfds)
{
	char *const *src = envp ? envp : environ;
	size_t count = 0, k = 0;

	memset(e, 0, sizeof *e);
	while (src && src[count])
		count++;
	e->vars = calloc(count + 5, sizeof *e->vars);
	if (e->vars == NULL)
		return -1;
	for (size_t i = 0; i < count; i++)
		if (!is_listen_var(src[i]))
			e->vars[k++] = src[i];
	if (nfds == 0)
		return 0;
	if (asprintf(&e->fds_var, "LISTEN_FDS=%zu", nfds) < 0) {
		e->fds_var = NULL;
		env_free(e);
		return -1;
	}
	e->names_var = join_names(fds, nfds);
	if (e->names_var == NULL) {
		env_free(e);
		return -1;
	}
	e->vars[k++] = e->fds_var;
	e->vars[k++] = e->names_var;
	e->vars[k++] = e->pid_var;
	e->pidfdid_at = k;
	e->vars[k++] = e->pidfdid_var; /* last: dropped by ending the array here */
	return 0;
}

void env_free(struct launch_env *e)
{
	int saved = errno;

	free(e->vars);
	free(e->fds_var);
	free(e->names_var);
	memset(e, 0, sizeof *e);
	errno = saved;
}

/* Async-signal-safe: prefix then v in decimal. */
static void put_var(char *dst, const char *prefix, uint64_t v)
{
	char digits[24];
	size_t n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (*prefix)
		*dst++ = *prefix++;
	while (n > 0)
		*dst++ = digits[--n];
	*dst = '\0';
}

/* Before pidfs (Linux 6.9) every pidfd shares one anonymous inode. */
static int pidfs_ino(int pidfd, uint64_t *id)
{
	struct statfs sfs;
	struct stat st;

	if (fstatfs(pidfd, &sfs) < 0 || fstat(pidfd, &st) < 0)
		return -1;
	if (sfs.f_type != PIDFS_MAGIC) {
		errno = EOPNOTSUPP;
		return -1;
	}
	*id = (uint64_t)st.st_ino;
	return 0;
}

int self_pidfd_id(uint64_t *id)
{
	int pidfd = sys_pidfd_open(getpid(), 0), r;

	if (pidfd < 0)
		return -1;
	r = pidfs_ino(pidfd, id);
	close_keep_errno(pidfd);
	return r;
}

void env_set_self(struct launch_env *e)
{
	uint64_t id;

	if (e->fds_var == NULL)
		return;
	put_var(e->pid_var, "LISTEN_PID=", (uint64_t)getpid());
	if (self_pidfd_id(&id) == 0)
		put_var(e->pidfdid_var, "LISTEN_PIDFDID=", id);
	else
		e->vars[e->pidfdid_at] = NULL;
}
