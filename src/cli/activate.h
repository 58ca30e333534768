/*
 * The sockets of "fdshare listen" and "fdshare run": their ADDR operands
 * parsed, then each socket made here or, with --holder, fetched from the
 * holder by its NAME (made and stored there when absent).
 */
#ifndef FDSHARE_ACTIVATE_H
#define FDSHARE_ACTIVATE_H

#include <stddef.h>
#include <sys/types.h>

#include "addr.h"
#include "fdshare.h"

#define ACT_BACKLOG_MAX 65535

struct act_opts {
	const char *backlog, *mode, *socket;    /* option values, NULL unset */
	int holder;
};

struct activation {
	size_t n;
	char **args;            /* the operands, borrowed */
	struct addr *addrs;
	int *fds;               /* -1 until open */
	unsigned char *made;    /* a Unix path made here and not in the holder */
	int backlog;
	mode_t mode;
};

/*
 * Check the options and parse ADDR operands args[0..n), then take a copy
 * of each fd:N (before the caller opens anything that could land on a
 * closed N): 0, a usage error (2) after its message, or 1 after the error
 * line of an fd:N not open.  With --holder every NAME must also be a
 * holder name, and no two alike.
 */
int act_parse(const char *cmd, const struct act_opts *o, char **args, size_t n,
              struct activation *act);

/*
 * Open every socket (h NULL), or fetch it from the holder h: 0, or 1 after
 * the error line, with every socket made here closed (and its path
 * removed).
 */
int act_open(const char *cmd, struct activation *act, struct fdshare_holder *h);

/* pass[i] = { fds[i], name of addrs[i] }. */
void act_pass(const struct activation *act, struct fdshare_pass *pass);

/* Close the sockets and free act; unlink the paths made here if asked. */
void act_free(struct activation *act, int unlink_made);

#endif
