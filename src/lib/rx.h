/*
 * Private to libfdshare: assembling one frame (docs/protocol.md, section 1)
 * from what the socket gives, shared by the stateless fdshare_msg_recv,
 * the buffered reader and the batched receive.
 */
#ifndef FDSHARE_RX_H
#define FDSHARE_RX_H

#include <stddef.h>
#include <sys/types.h>

#include "fdshare.h"

/* The descriptors gathered while a frame is read. */
struct rx {
	int sock;
	int *fds;
	size_t nfds, cap, limit;
};

#define RX_INIT(s) { .sock = (s), .limit = FDSHARE_MSG_MAX_FDS }

/* Block in poll(2) until sock is ready for events (EINTR retried). */
int wait_for(int sock, short events);
/*
 * After a call on sock failed with EAGAIN: 0 once sock is ready for
 * events; but -1 with EAGAIN when sock is blocking with SO_RCVTIMEO (or,
 * for POLLOUT, SO_SNDTIMEO) set: that timeout ran out, and the bound the
 * caller set holds.
 */
int wait_again(int sock, short events);

/* Keep n more fds for the frame; over its count: all closed, EPROTO. */
int rx_keep(struct rx *rx, const int *fds, size_t n);
/* One recvmsg into buf (EAGAIN waited for); 0 is end of stream. */
ssize_t rx_once(struct rx *rx, void *buf, size_t len);

/*
 * The first record of a frame on SOCK_SEQPACKET, or its header on a
 * stream, into first[FRAME_FIRST_MAX]; returns its bytes (>= the header),
 * 0 at a clean end of stream.
 */
ssize_t rx_first(struct rx *rx, unsigned char *first, int seqpacket);

/*
 * A frame once its header is known: rx_begin parses the header into msg
 * and makes room for its payload and fds; rx_feed takes bytes that follow
 * the header (payload, then carrier bytes), *got counting them, EPROTO
 * past the frame's end; rx_finish reads from the socket whatever the frame
 * still lacks, checks its fds and hands them to msg.  On failure the
 * caller calls rx_fail, which closes and frees everything.
 */
int  rx_begin(struct rx *rx, struct fdshare_msg *msg, const unsigned char *hdr);
int  rx_feed(struct fdshare_msg *msg, size_t *got, const void *p, size_t n);
int  rx_finish(struct rx *rx, struct fdshare_msg *msg, size_t got);
void rx_fail(struct rx *rx, struct fdshare_msg *msg);

/*
 * One frame read without reading past it (msg zeroed by the caller):
 * 1, 0 at a clean end of stream, -1 with everything released.
 */
int rx_frame(int sock, int seqpacket, struct fdshare_msg *msg);

/* Bytes of the frame after its header: payload and carrier bytes. */
size_t rx_body_len(const struct fdshare_msg *msg);

#endif
