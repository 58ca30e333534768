# fdshare ls of a process that has exited or exits while it is listed:
# exit 1 and nothing on stdout, never a listing cut short.
. "$(dirname "$0")/cli_lib.sh"

NOSUCH='^fdshare: ls: cannot list the descriptors of process [0-9]+: No such process \(check the PID: the process may have exited\)$'

need_python() {
	if [ -z "$PY" ]; then
		WHY="no /usr/bin/python3"
		return 77
	fi
}

# A zombie has no descriptors left: it has exited, not opened nothing.
t_zombie() {
	need_python || return 77
	"$PY" - "$FDSHARE" "$T" <<'EOF' || { WHY=$(cat "$T/why" 2>/dev/null); return 1; }
import os, re, signal, subprocess, sys
fdshare, tmp = sys.argv[1], sys.argv[2]
pid = os.fork()
if pid == 0:
    os._exit(0)
signal.alarm(20)
# A zombie until reaped: wait for it without reaping.
os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
bad = None
for args in (["ls", str(pid)], ["ls", "--json", str(pid)]):
    r = subprocess.run([fdshare] + args, capture_output=True)
    if r.returncode != 1 or r.stdout or not re.match(
            rb"fdshare: ls: cannot list the descriptors of process %d: No such process \(" % pid,
            r.stderr) or r.stderr.count(b"\n") != 1:
        bad = "%s: exit %d, stdout %r, stderr %r" % (" ".join(args), r.returncode,
                                                   r.stdout[:80], r.stderr[:200])
        break
os.waitpid(pid, 0)
if bad:
    open(tmp + "/why", "w").write(bad)
    sys.exit(1)
EOF
	rm -f "$T/why"
}

# The target has more rows than a pipe holds; it is killed (left a zombie,
# or reaped) while "fdshare ls" runs.  Either ls finished first and its
# listing is whole, or it says the process exited and prints nothing.
t_exits_while_listed() {
	need_python || return 77
	"$PY" - "$FDSHARE" "$T" <<'EOF' || { WHY=$(cat "$T/why" 2>/dev/null); return 1; }
import json, os, re, signal, subprocess, sys, time
fdshare, tmp = sys.argv[1], sys.argv[2]
NFDS = 3000
signal.alarm(60)

def fail(why):
    open(tmp + "/why", "w").write(why)
    sys.exit(1)

def state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"

for reap in (False, True):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        for i in range(NFDS):
            os.dup2(0, 100 + i)
        os.write(w, b"r")
        os.close(w)
        time.sleep(60)
        os._exit(0)
    os.close(w)
    os.read(r, 1)
    os.close(r)
    ls = subprocess.Popen([fdshare, "ls", "--json", str(pid)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Until ls waits on its full stdout pipe, or has finished.
    for _ in range(500):
        if state(ls.pid) in ("S", "Z", "gone"):
            break
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    if reap:
        os.waitpid(pid, 0)
    else:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    out, err = ls.communicate()
    if not reap:
        os.waitpid(pid, 0)
    how = "reaped" if reap else "zombie"
    if ls.returncode == 0:
        try:
            fds = {row["fd"] for row in json.loads(out)}
        except ValueError as e:
            fail("%s: exit 0 with invalid JSON: %s" % (how, e))
        if not set(range(100, 100 + NFDS)) <= fds:
            fail("%s: exit 0 with %d of the %d descriptors" % (how, len(fds), NFDS + 3))
    elif ls.returncode == 1:
        if out:
            fail("%s: exit 1 with %d bytes on stdout" % (how, len(out)))
        if not re.match(rb"^fdshare: ls: cannot list the descriptors of process %d: "
                        rb"No such process \(.*\)\n$" % pid, err):
            fail("%s: stderr %r" % (how, err[:200]))
    else:
        fail("%s: exit %d: %r" % (how, ls.returncode, err[:200]))
EOF
	rm -f "$T/why"
}

# A process that is gone before ls starts: the same line, exit 1.
t_gone() {
	local pid
	sh -c 'exit 0' &
	pid=$!
	wait "$pid"
	run 1 "$FDSHARE" ls --json "$pid" || return 1
	err_is "$NOSUCH" || return 1
	if [ -s "$T/out" ]; then
		WHY="stdout: $(head -c 100 "$T/out")"
		return 1
	fi
}

run_case zombie t_zombie
run_case exits_while_listed t_exits_while_listed
run_case gone t_gone
