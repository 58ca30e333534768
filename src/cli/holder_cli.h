/* What the holder's subcommands share (store, fetch, list, remove, holder). */
#ifndef FDSHARE_HOLDER_CLI_H
#define FDSHARE_HOLDER_CLI_H

#include "fdshare.h"

/* A connection to the holder at path (NULL: the default); NULL after an
 * error line. */
struct fdshare_holder *hcli_connect(const char *cmd, const char *path);
/* The error line for a failed holder request, with a hint; returns 1. */
int hcli_fail(const char *cmd, const char *what, int err);
/* 0 for a valid name, else a usage error (2) saying what is wrong. */
int hcli_name(const char *cmd, const char *name);

#endif
