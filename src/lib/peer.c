/* Who is at the other end of a Unix socket. */
#include <errno.h>
#include <sys/socket.h>

#include "internal.h"

int peer_cred(int sock, struct fdshare_peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -1;
	/* An unconnected socket reports no peer rather than failing. */
	if (cred.pid == 0 && cred.uid == (uid_t)-1 && cred.gid == (gid_t)-1) {
		errno = ENOTCONN;
		return -1;
	}
	peer->pid = cred.pid;
	peer->uid = cred.uid;
	peer->gid = cred.gid;
	peer->pidfd = -1;
	return 0;
}

API int fdshare_peer(int sock, struct fdshare_peer *peer)
{
	socklen_t len;
	int pidfd;

	if (peer_cred(sock, peer) < 0)
		return -1;
	len = sizeof pidfd;
	if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0) {
		/* No SO_PEERPIDFD (before 6.5), or no peer process to name. */
		if (errno != ENOPROTOOPT && errno != EINVAL && errno != ESRCH &&
		    errno != ENODATA)
			return -1;
		pidfd = -1;
	}
	peer->pidfd = pidfd;
	return 0;
}
