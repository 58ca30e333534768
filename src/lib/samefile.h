/*
 * Private to fdshare: whether two descriptors of this process are one open
 * file description, as a fd store that keeps each open file once needs
 * (systemd's FDSTORE=1 drops duplicates).
 */
#ifndef FDSHARE_SAMEFILE_H
#define FDSHARE_SAMEFILE_H

/*
 * 1 when a and b are the same open file, else 0: kcmp(2); without it (a
 * kernel without CONFIG_KCMP), only sockets are told apart (a socket's
 * inode has one open file) and other files count as different.
 */
int fd_same_file(int a, int b);

#endif
