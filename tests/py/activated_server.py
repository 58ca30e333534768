"""A socket-activated server in plain Python, for tests/test_listen.sh.
Usage: activated_server.py REPORT.  Takes the LISTEN_FDS sockets with
socket.socket(fileno=N), which asks the kernel for family and type, and
writes REPORT (made whole by rename), one line per socket:
    NAME FAMILY TYPE ADDRESS
Then answers one client on each: a stream socket accepts one connection
and sends b'py NAME LINE' for the line it reads; a datagram socket answers
one datagram the same way.  Exit status 0 when all went as expected."""
import os
import socket
import sys


def passed_sockets():
    if os.environ.get('LISTEN_PID') != str(os.getpid()):
        sys.exit('LISTEN_PID is %r, not this process' % os.environ.get('LISTEN_PID'))
    n = int(os.environ['LISTEN_FDS'])
    names = os.environ['LISTEN_FDNAMES'].split(':')
    if len(names) != n:
        sys.exit('%d names for %d fds' % (len(names), n))
    return [(name, socket.socket(fileno=3 + i)) for i, name in enumerate(names)]


def address(sock):
    a = sock.getsockname()
    if isinstance(a, tuple):
        return '%s:%d' % (a[0], a[1])
    if isinstance(a, bytes):
        return '@' + a[1:].decode()
    return a


def answer(name, sock):
    sock.settimeout(20)
    if sock.type == socket.SOCK_DGRAM:
        line, peer = sock.recvfrom(256)
        sock.sendto(b'py ' + name.encode() + b' ' + line, peer)
        return
    conn, _ = sock.accept()
    with conn:
        conn.settimeout(20)
        line = conn.makefile('rb').readline()
        conn.sendall(b'py ' + name.encode() + b' ' + line)


def main():
    socks = passed_sockets()
    tmp = sys.argv[1] + '.tmp'
    with open(tmp, 'w') as f:
        for name, sock in socks:
            f.write('%s %s %s %s\n' % (name, sock.family.name, sock.type.name,
                                       address(sock)))
    os.rename(tmp, sys.argv[1])
    for name, sock in socks:
        answer(name, sock)
        sock.close()


main()
