/* Private to describe.c and describe_sock.c. */
#ifndef FDSHARE_DESCRIBE_H
#define FDSHARE_DESCRIBE_H

#include "internal.h"

/*
 * Fill si for socket fd of process pid (the caller's when self), whose
 * inode is ino.  Best effort: what cannot be learnt stays zero or "".
 */
void describe_socket(pid_t pid, int fd, int self, ino_t ino,
                     struct fdshare_sockinfo *si);

#endif
