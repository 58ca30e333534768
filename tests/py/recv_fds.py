"""fdshare_send to Python's socket.recv_fds (tests/test_interop.c).
Usage: recv_fds.py SOCKFD CONTENT.  Expects b'from-c' with two fds: a file
holding CONTENT at offset 0, read here, and a pipe's write end, where it
writes b'py-ok'.  Exit status 0 when all is as expected."""
import os
import socket
import sys

from fdshare_wire import check, sock_arg


def main():
    sock = sock_arg(sys.argv[1])
    want = sys.argv[2].encode()
    msg, fds, flags, _ = socket.recv_fds(sock, 64, 8)
    check(msg == b'from-c', 'got message %r' % msg)
    check(not flags & (socket.MSG_CTRUNC | socket.MSG_TRUNC), 'flags %#x' % flags)
    check(len(fds) == 2, 'got %d fds, want 2' % len(fds))
    got = os.read(fds[0], len(want) + 16)
    check(got == want, 'file holds %r, want %r' % (got, want))
    os.write(fds[1], b'py-ok')
    for fd in fds:
        os.close(fd)
    msg, fds, flags, _ = socket.recv_fds(sock, 64, 8)
    check(msg == b'' and not fds, 'no end of stream after the message')


main()
