"""Parses frames of docs/protocol.md, section 1, from fdshare_msg_send
(tests/test_interop.c).  Usage: frame_recv.py SOCKFD SPEC... with
SPEC = type:len:nfds, the frames expected in order, then a clean end.
Checks the header, the payload, the descriptors and where each chunk of
them arrives; on SOCK_SEQPACKET also that every record is cut as section
1.3 says.  Exit status 0 when all is as expected."""
import os
import socket
import sys

from fdshare_wire import (HEADER, MAGIC, RECORD_MAX, VERSION, check,
                          check_memfds, pattern, records, recv_some, sock_arg,
                          specs)


def read_record(sock, seqpacket, size, fds):
    """size bytes: one whole record on seqpacket, as many reads as it takes
    on a stream (never past size)."""
    if seqpacket:
        data = recv_some(sock, RECORD_MAX + 1, fds)
        check(len(data) == size, 'record of %d bytes, want %d' % (len(data), size))
        return data
    data = b''
    while len(data) < size:
        part = recv_some(sock, size - len(data), fds)
        check(part, 'end of stream inside a frame')
        data += part
    return data


def check_header(data, mtype, length, nfds):
    magic, version, reserved, t, n, k = HEADER.unpack(data[:HEADER.size])
    check(magic == MAGIC, 'magic %#x' % magic)
    check(version == VERSION, 'version %d' % version)
    check(reserved == b'\0\0\0', 'reserved %r' % reserved)
    check((t, n, k) == (mtype, length, nfds),
          'header says %#x:%d:%d, want %#x:%d:%d' % (t, n, k, mtype, length, nfds))


def read_frame(sock, seqpacket, mtype, length, nfds):
    what = 'frame %#x:%d:%d' % (mtype, length, nfds)
    body, fds = b'', []
    for i, (size, want) in enumerate(records(length, nfds)):
        got = []
        data = read_record(sock, seqpacket, size, got)
        fds += got
        check(len(got) == want, '%s: record %d brought %d fds, want %d'
              % (what, i, len(got), want))
        if i == 0:
            check_header(data, mtype, length, nfds)
        body += data
    end = HEADER.size + length
    check(body[HEADER.size:end] == pattern(mtype, length), what + ': payload differs')
    check(body[end:] == b'\0' * (len(body) - end), what + ': carrier byte not 0')
    check_memfds(fds, what)
    for fd in fds:
        os.close(fd)


def main():
    sock = sock_arg(sys.argv[1])
    seqpacket = sock.type == socket.SOCK_SEQPACKET
    for mtype, length, nfds in specs(sys.argv[2:]):
        read_frame(sock, seqpacket, mtype, length, nfds)
    fds = []
    check(recv_some(sock, 1, fds) == b'' and not fds, 'no clean end after the frames')


main()
