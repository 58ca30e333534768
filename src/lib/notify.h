/*
 * Private to libfdshare, used by the fdshare program ("fdshare run", and
 * "fdshare holder --notify-socket"): the receiving side of systemd's
 * sd_notify protocol (sd_notify(3)).
 *
 * A message is one datagram of at most NOTIFY_MAX bytes: assignments
 * KEY=VALUE separated by newlines ('\n' or '\r'; empty lines are nothing),
 * with at most one NUL, at the very end.  Recognised, each as a whole line:
 * READY=1, STOPPING=1, RELOADING=1, FDSTORE=1, FDSTOREREMOVE=1, and the
 * first FDNAME=... and FDPOLL=... lines.  Every other line is ignored.
 */
#ifndef FDSHARE_NOTIFY_H
#define FDSHARE_NOTIFY_H

#include <stddef.h>
#include <sys/types.h>

#include "fdshare.h"

#define NOTIFY_MAX 4096         /* bytes in one message, inclusive */
#define NOTIFY_NAME_MAX 255

struct notify_msg {
	unsigned ready:1;
	unsigned stopping:1;
	unsigned reloading:1;
	unsigned fdstore:1;
	unsigned fdstoreremove:1;
	unsigned fdpoll:1;      /* 1 unless FDPOLL= said false */
	unsigned bad_fdname:1;  /* FDNAME= was given but is not a valid name */
	unsigned bad_fdpoll:1;  /* FDPOLL= was not a boolean: ignored */
	/*
	 * A valid FDNAME= (printable ASCII, 1 to 255 bytes, no ':' and no '\',
	 * which LISTEN_FDNAMES could not carry), else "".  FDSTORE=1 without
	 * a valid name stores under "stored", as systemd does.
	 */
	char fdname[NOTIFY_NAME_MAX + 1];
};

/*
 * Parse one message, with no side effect (a fuzzer's entry point).
 * -1 with EMSGSIZE when len > NOTIFY_MAX, EBADMSG for a NUL before the
 * last byte; 0 otherwise, *m filled.
 */
int notify_parse(const char *buf, size_t len, struct notify_msg *m);

/* The name FDSTORE=1 stores under: FDNAME= or "stored". */
const char *notify_store_name(const struct notify_msg *m);

/*
 * A datagram socket, O_CLOEXEC and O_NONBLOCK, with SO_PASSCRED so that
 * every message comes with its sender's pid, uid and gid: unbound
 * (notify_socket_new, for sockpath_bind), or bound at path, created with
 * the caller's umask (notify_socket_open).
 */
int notify_socket_new(void);
int notify_socket_open(const char *path);

struct notify_rx {
	struct notify_msg msg;
	pid_t pid;              /* the sender, from SCM_CREDENTIALS; 0 unknown */
	uid_t uid;
	gid_t gid;
	size_t nfds;            /* fds[] holds them only with FDSTORE=1 */
	int fds[FDSHARE_MAX_FDS];
};

/*
 * Read one message from a notify socket (never blocks: MSG_DONTWAIT).
 * Returns 1 with it in *rx; its fds (O_CLOEXEC) are the caller's when
 * msg.fdstore is set, and were closed at once otherwise.  0: nothing is
 * waiting.  -1 and errno, the datagram dropped and its fds closed (the
 * caller logs and reads on): EMSGSIZE over NOTIFY_MAX bytes, ECHRNG
 * control data cut short, EBADMSG a NUL inside, EPROTO no credentials
 * (rx->pid and uid say who when known).  Any other errno is the socket's.
 */
int notify_recv(int sock, struct notify_rx *rx);

#endif
