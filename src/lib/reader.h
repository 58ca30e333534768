/* Private to libfdshare: the buffered reader's state (reader.c, batch.c). */
#ifndef FDSHARE_READER_H
#define FDSHARE_READER_H

#include <stddef.h>

#include "fdshare.h"

struct batch;

struct fdshare_reader {
	int sock;
	int seqpacket;
	/* A stream's bytes read ahead, [start, end) of buf, from a frame's start. */
	unsigned char *buf;
	size_t start, end, cap;
	/* fds that came with them, not yet claimed by a frame, and the end of
	 * the read that brought the last of them */
	int *pend;
	size_t npend, pcap, pend_end;
	/* an error met after frames that recvv returned, for the next call */
	int err;
	/* the end was met: 0 from then on (on SOCK_SEQPACKET an empty record
	 * ends the stream too, and records read with it are dropped) */
	int eof;
	struct batch *batch;
};

/* A reader inside another object: no allocation, no getsockopt. */
void msgreader_init(struct fdshare_reader *r, int sock, int seqpacket);
/* Forget the connection (fds held are closed); the buffer is kept. */
void msgreader_drop(struct fdshare_reader *r);
/* Free what msgreader_init's reader holds. */
void msgreader_release(struct fdshare_reader *r);
/* Take one more frame; 1, 0 at a clean end, -1 (errno). */
int msgreader_next(struct fdshare_reader *r, struct fdshare_msg *msg);
/* Whole frames read ahead on a stream: a call for one would not block
 * (always 0 on SOCK_SEQPACKET, whose records recvv takes itself). */
int msgreader_has_frame(const struct fdshare_reader *r);
/* On SOCK_SEQPACKET (batch.c): the records read ahead by recvmmsg. */
int batch_next(struct fdshare_reader *r, struct fdshare_msg *msg, size_t k);
size_t batch_buffered(const struct batch *b);
void batch_drop(struct batch *b);
void batch_free(struct batch *b);

#endif
