"""sd_notify datagrams written by hand, for tests/test_run.sh.
Usage: notify_send.py DIR.  Started by 'fdshare run': writes DIR/names.PID
holding LISTEN_FDNAMES (made whole by rename).  The first one (no
DIR/sent yet) then sends, to $NOTIFY_SOCKET, from its own pid:
  - 5000 bytes with FDSTORE=1 and a fd           (over 4096: dropped)
  - FDSTORE=1 and FDNAME=x with a NUL inside      (malformed: dropped)
  - FDSTORE=1, FDNAME=bad:name, a memfd           (stored as 'stored')
  - FDSTORE=1, FDNAME=p, a pipe's read end        (its writer is closed: a
                                                   hang-up drops it)
  - FDSTORE=1, FDNAME=q, FDPOLL=0, the same       (kept: not watched)
  - READY=0, FDNAME=z, a memfd                    (no FDSTORE=1: closed)
  - FDSTORE=1, FDNAME=dup, one memfd twice        (kept once)
  - FDSTORE=1, FDNAME=gone, then FDSTOREREMOVE=1, FDNAME=gone
and makes DIR/sent.  Every one ends with READY=1 and waits for SIGTERM."""
import array
import os
import signal
import socket
import sys


def memfd(text):
    fd = os.memfd_create('notify_send')
    os.write(fd, text.encode())
    return fd


def dead_pipe():
    r, w = os.pipe()
    os.close(w)
    return r


def send(sock, path, data, fds=()):
    # not socket.send_fds: Python 3.11's ignores its address argument
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', fds))] if fds else []
    sock.sendmsg([data], anc, 0, path)


def sequence(sock, path):
    fd = memfd('payload')
    send(sock, path, b'FDSTORE=1\n' + b'X=' + b'y' * 4990, [fd])
    send(sock, path, b'FDSTORE=1\0FDNAME=x', [fd])
    send(sock, path, b'FDSTORE=1\nFDNAME=bad:name', [fd])
    send(sock, path, b'FDSTORE=1\nFDNAME=p', [dead_pipe()])
    send(sock, path, b'FDSTORE=1\nFDNAME=q\nFDPOLL=0', [dead_pipe()])
    send(sock, path, b'READY=0\nFDNAME=z', [memfd('z')])
    dup = memfd('dup')
    send(sock, path, b'FDSTORE=1\nFDNAME=dup', [dup, dup])
    send(sock, path, b'FDSTORE=1\nFDNAME=gone', [memfd('gone')])
    send(sock, path, b'FDSTOREREMOVE=1\nFDNAME=gone')


def main():
    d = sys.argv[1]
    path = os.environ['NOTIFY_SOCKET']
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    tmp = '%s/.names.%d' % (d, os.getpid())
    with open(tmp, 'w') as f:
        f.write(os.environ.get('LISTEN_FDNAMES', '-') + '\n')
    os.rename(tmp, '%s/names.%d' % (d, os.getpid()))
    if not os.path.exists(d + '/sent'):
        sequence(sock, path)
        open(d + '/sent', 'w').close()
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
    send(sock, path, b'READY=1')
    signal.sigwait([signal.SIGTERM])


main()
