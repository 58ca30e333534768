/*
 * Refusing descriptors at the door: with SO_PASSRIGHTS off (Linux 6.16+)
 * the kernel fails a peer's sendmsg carrying SCM_RIGHTS with EPERM, so
 * nothing is ever in flight towards this socket.
 */
#include <errno.h>
#include <sys/socket.h>

#include "internal.h"

/* Not in glibc 2.36's headers; the kernel's uapi <asm/socket.h> values. */
#ifndef SO_PASSRIGHTS
#if defined(__sparc__)
#define SO_PASSRIGHTS 0x005c
#elif defined(__hppa__)
#define SO_PASSRIGHTS 0x4051
#else
#define SO_PASSRIGHTS 83
#endif
#endif

API int fdshare_refuse_fds(int sock)
{
	int off = 0;

	return setsockopt(sock, SOL_SOCKET, SO_PASSRIGHTS, &off, sizeof off);
}
