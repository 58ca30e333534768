/*
 * Shared by the tests of the buffered reader and the batched sender: a
 * socket pair, and a frame header written by hand (docs/protocol.md).
 */
#ifndef TEST_READER_H
#define TEST_READER_H

#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdshare.h"
#include "t.h"

#define MAGIC 0x48534446u

static inline void pair(int type, int sv[2])
{
	CHECK(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == 0);
}

static inline void close2(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
}

static inline void header(unsigned char *h, uint32_t type, uint32_t len, uint32_t nfds)
{
	uint32_t v[5] = { MAGIC, 1, type, len, nfds };

	for (int i = 0; i < 5; i++)
		for (int b = 0; b < 4; b++)
			h[i * 4 + b] = (unsigned char)(v[i] >> (8 * b));
}

#endif
