"""Python's socket.send_fds to fdshare_recv (tests/test_interop.c).
Usage: send_fds.py SOCKFD PATH.  Sends b'from-python' with PATH opened
read-write, then b'three' with three memfds of sizes 1, 2, 3."""
import os
import socket
import sys

from fdshare_wire import memfds, sock_arg


def main():
    sock = sock_arg(sys.argv[1])
    f = os.open(sys.argv[2], os.O_RDWR)
    socket.send_fds(sock, [b'from-python'], [f])
    os.close(f)
    mem = memfds(3)
    socket.send_fds(sock, [b'three'], mem)
    for fd in mem:
        os.close(fd)
    sock.close()


main()
