# fdshare ls of another process whose sockets it may not duplicate
# (pidfd_getfd refused, /proc/PID/fd readable): the addresses come from
# /proc/PID/net, where a socket path may hold a newline and forge a line.
. "$(dirname "$0")/cli_lib.sh"

# Run as root: the target runs as uid 1002; "fdshare ls" with real uid
# 1001 and effective (fs) uid 1002, so that it reads /proc/PID/fd (fs
# uid) but pidfd_getfd (real uid) is refused.
PROC_NET_PY='
import ctypes, json, os, signal, socket, subprocess, sys, time
fdshare, tmp, case = sys.argv[1], sys.argv[2], sys.argv[3]
signal.alarm(30)

def fail(why):
    open(os.path.join(tmp, "why"), "w").write(why)
    sys.exit(1)

def as_user(uid):
    def pre():
        os.setgroups([])
        os.setresgid(1002, 1002, 1002)
        os.setresuid(uid, 1002, 1002)
    return pre

sockdir = os.path.join(tmp, "pn")
os.mkdir(sockdir)
os.chmod(sockdir, 0o777)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.setgroups([]); os.setresgid(1002, 1002, 1002); os.setresuid(1002, 1002, 1002)
    # Changing uids made it undumpable: its /proc/PID/fd root'"'"'s only.
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
    real = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    real.bind(os.path.join(sockdir, "real.sock")); real.listen(1)
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    abstract.bind(b"\0fdshare\0test%d" % os.getpid())
    tcp = socket.socket(); tcp.bind(("127.0.0.1", 0)); tcp.listen(1)
    os.write(w, b"%d %d %d %d\n" % (real.fileno(), abstract.fileno(), tcp.fileno(),
                                    tcp.getsockname()[1]))
    time.sleep(30)
    os._exit(0)
os.close(w)
real_fd, abs_fd, tcp_fd, port = map(int, os.read(r, 100).split())
os.close(r)
forgers = []
try:
    def ls():
        out = subprocess.run([fdshare, "ls", "--json", str(pid)], preexec_fn=as_user(1001),
                             stdout=subprocess.PIPE, check=True).stdout
        return {row["fd"]: row for row in json.loads(out)}
    rows = ls()
    # Not duplicated: so no peer pid is known for any of them.
    if case == "plain":
        want = {real_fd: (os.path.join(sockdir, "real.sock"), "LISTEN"),
                abs_fd: ("@fdshare@test%d" % pid, "UNCONNECTED"),
                tcp_fd: ("127.0.0.1:%d" % port, "LISTEN")}
        for fd, (local, state) in want.items():
            s = rows[fd]["socket"]
            if (s["local"], s["state"]) != (local, state):
                fail("fd %d: local %r state %r, want %r %r" % (fd, s["local"], s["state"],
                                                               local, state))
    else:
        ino = rows[real_fd]["ino"]
        # Sockets whose paths forge the line of the target socket.
        os.chdir(sockdir)
        for i in range(24):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind("f%d\n0000000000000000: 00000002 00000000 00010000 0001 01 %d FORGED"
                   % (i, ino))
            forgers.append(s)
        s = ls()[real_fd]["socket"]
        if s["local"] == "FORGED":
            fail("a forged /proc/net/unix line was believed: local %r" % s["local"])
        if s["local"] not in (None, os.path.join(sockdir, "real.sock")):
            fail("local %r" % s["local"])
finally:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
'

t_case() {
	if [ -z "$PY" ]; then
		WHY="no /usr/bin/python3"
		return 77
	fi
	if [ "$(id -u)" != 0 ]; then
		WHY="needs root to run as uids 1001 and 1002"
		return 77
	fi
	# Real and effective uids that differ make an exec secure (AT_SECURE):
	# LeakSanitizer then cannot run and takes no option to stay off.
	if [ "${SANITIZE:-}" = 1 ]; then
		WHY="a SANITIZE=1 build cannot run with real and effective uids apart"
		return 77
	fi
	"$PY" -c "$PROC_NET_PY" "$FDSHARE" "$T" "$1" 2>"$T/pyerr" || {
		WHY=$(cat "$T/why" 2>/dev/null || tail -1 "$T/pyerr")
		rm -rf "$T/why" "$T/pn" "$T/pyerr"
		return 1
	}
	rm -f "$T/pyerr"
	rm -rf "$T/why" "$T/pn"
}

t_plain() { t_case plain; }
t_forged_line() { t_case forged; }

run_case plain t_plain
run_case forged_line t_forged_line
