/* What the subcommands of the fdshare program share. */
#ifndef FDSHARE_CLI_H
#define FDSHARE_CLI_H

#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fdshare.h"

#define EXIT_USAGE 2

#define CMD(name, fn, desc) int fn(int argc, char **argv);
#include "commands.def"
#undef CMD

/*
 * Options of a subcommand, parsed up to the first operand or "--".
 * A flag option has arg NULL and sets *set; an option with a value
 * ("--to N" or "--to=N") stores it in *arg.
 */
struct cli_opt {
	const char *name;       /* "--json" */
	int *set;
	const char **arg;
};

/*
 * Parse the options of argv (argv[0] is the subcommand).  Returns -1 with
 * *first at the first operand, else the exit code to return at once: 0
 * after printing help (--help anywhere before "--"), 2 after a usage error.
 */
int cli_options(int argc, char **argv, const struct cli_opt *opts,
                const char *help, int *first);

/* "fdshare: CMD: MESSAGE (see 'fdshare CMD --help')" on stderr; returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "fdshare: CMD: WHAT: strerror(err) (HINT)" on stderr; returns 1. */
int cli_fail(const char *cmd, const char *what, int err, const char *hint);

/* A message on stderr, "fdshare: CMD: ...", for what is not an exit. */
void cli_log(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Numbers: 0 or a usage error (2) naming what and the bad text. */
int cli_pid(const char *cmd, const char *s, pid_t *pid);
int cli_fd(const char *cmd, const char *what, const char *s, int *fd);
int cli_uint(const char *cmd, const char *what, const char *s, unsigned int max,
             unsigned int *v);

/* A socket path that fits a sockaddr_un, or a usage error (2). */
int cli_sockaddr(const char *cmd, const char *path, struct sockaddr_un *sun);

/* The value of a socket path option (--socket): 0, or a usage error (2)
 * for an empty path or one that no sockaddr_un holds. */
int cli_socket_opt(const char *cmd, const char *opt, const char *path);

/*
 * "fdshare: CMD: cannot create PATH: strerror(err) (HINT)" for a socket
 * path that sockpath_check or sockpath_listen (src/lib/sockpath.h) refused
 * or failed to make, the hint saying why and what to do; returns 1.
 */
struct sockpath;
int cli_sockpath_fail(const char *cmd, const struct sockpath *sp, int err);

/*
 * Exec argv with fds at 3, 4, ... and LISTEN_* set (fdshare_exec).  Returns
 * only on failure, after the error line: 127 not found, 126 otherwise.
 */
int cli_exec(const char *cmd, char **argv, const struct fdshare_pass *fds,
             size_t nfds);
/* The error line of a failed exec; 127 for ENOENT, else 126. */
int cli_exec_failed(const char *cmd, const char *what, int err);
/*
 * Before taking descriptors that running argv is for (fetch --remove, a
 * sender's message): 0 when argv[0] can be run now, else what cli_exec
 * would say and return (126, 127).
 */
int cli_cmd_runnable(const char *cmd, char *const *argv);

/*
 * "fdshare send" to "fdshare recv" (docs/protocol.md, section 2): one frame
 * of type SEND_MSG_FDS whose payload is the names joined by ':', answered
 * by an empty SEND_MSG_ACK frame once the receiver has taken them.
 */
#define SEND_MSG_FDS 0x444e4553u        /* "SEND" on the wire */
#define SEND_MSG_ACK 0x4b434153u        /* "SACK" on the wire */
#define SEND_ACK_WAIT_MS 30000

/* A hint for an errno from grabbing another process's descriptor. */
const char *cli_grab_hint(int err);

/* Rows and JSON objects describing descriptors (fdrow.c). */
void fdrow_header(FILE *f);
void fdrow_print(FILE *f, const struct fdshare_fdinfo *info);
void fdrow_target(const struct fdshare_fdinfo *info, char *buf, size_t size);
void fdjson_print(FILE *f, const struct fdshare_fdinfo *info);
void json_string(FILE *f, const char *s);

#endif
