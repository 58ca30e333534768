# fdshare ls: rows and --json, of itself and of another process.
. "$(dirname "$0")/cli_lib.sh"

# Python opens one of each kind, then runs "fdshare ls --json" (with the
# fds inherited) and "fdshare ls --json PID" (on python itself), and
# compares both listings with what it opened.
LS_JSON_PY='
import json, os, socket, subprocess, sys
fdshare, tmp = sys.argv[1], sys.argv[2]

f = open(os.path.join(tmp, "file"), "w+")
f.write("0123456789"); f.flush(); os.lseek(f.fileno(), 4, os.SEEK_SET)
deleted = open(os.path.join(tmp, "gone"), "w")
os.unlink(os.path.join(tmp, "gone"))
r, w = os.pipe()
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.bind(("127.0.0.1", 0)); tcp.listen(1)
port = tcp.getsockname()[1]
upath = os.path.join(tmp, "u.sock")
ulisten = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ulisten.bind(upath); ulisten.listen(1)
uclient = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
uclient.connect(upath)
efd = os.eventfd(0) if hasattr(os, "eventfd") else None
mfd = os.memfd_create("lstest", 0) if hasattr(os, "memfd_create") else None

want = {
    f.fileno(): dict(kind="file", access="rw", offset=4, path=f.name, deleted=False),
    deleted.fileno(): dict(kind="file", access="w", deleted=True,
                           path=os.path.join(tmp, "gone"), target=os.path.join(tmp, "gone") + " (deleted)"),
    r: dict(kind="pipe", access="r", offset=None),
    w: dict(kind="pipe", access="w", offset=None),
    tcp.fileno(): dict(kind="socket", socket=dict(family="inet", type="stream", protocol="tcp",
                       local="127.0.0.1:%d" % port, state="LISTEN", listening=True, peer=None)),
    ulisten.fileno(): dict(kind="socket", socket=dict(family="unix", type="stream", local=upath,
                           state="LISTEN", peer_pid=None)),
    uclient.fileno(): dict(kind="socket", socket=dict(family="unix", peer=upath,
                           state="CONNECTED", peer_pid=os.getpid(), peer_uid=os.getuid())),
}
if efd is not None:
    want[efd] = dict(kind="eventfd", offset=None)
if mfd is not None:
    want[mfd] = dict(kind="memfd", deleted=False)
fields = {"fd", "pid", "kind", "access", "flags", "offset", "path", "deleted", "dev", "ino", "target", "socket"}
sockfields = {"family", "type", "protocol", "local", "peer", "state", "listening", "peer_pid", "peer_uid"}

def check(rows, where, exact):
    byfd = {row["fd"]: row for row in rows}
    for row in rows:
        if set(row) != fields:
            sys.exit("%s: fields %s" % (where, sorted(row)))
        if row["socket"] is not None and set(row["socket"]) != sockfields:
            sys.exit("%s: socket fields %s" % (where, sorted(row["socket"])))
    if exact and set(byfd) != set(want) | {0, 1, 2}:
        sys.exit("%s: fds %s, want %s" % (where, sorted(byfd), sorted(set(want) | {0, 1, 2})))
    for fd, exp in want.items():
        row = byfd.get(fd)
        if row is None:
            sys.exit("%s: fd %d missing" % (where, fd))
        for k, v in exp.items():
            got = row[k]
            if k == "socket":
                for sk, sv in v.items():
                    if got.get(sk) != sv:
                        sys.exit("%s: fd %d socket.%s = %r, want %r" % (where, fd, sk, got.get(sk), sv))
            elif got != v:
                sys.exit("%s: fd %d %s = %r, want %r" % (where, fd, k, got, v))

fds = list(want)
out = subprocess.run([fdshare, "ls", "--json"], pass_fds=fds, stdout=subprocess.PIPE, check=True).stdout
check(json.loads(out), "ls --json (inherited)", True)
out = subprocess.run([fdshare, "ls", "--json", str(os.getpid())], stdout=subprocess.PIPE, check=True).stdout
rows = json.loads(out)
if any(row["pid"] != os.getpid() for row in rows):
    sys.exit("ls PID: wrong pid field")
check(rows, "ls --json PID", False)
print("ok")
'

t_json() {
	if [ -z "$PY" ]; then
		WHY="no /usr/bin/python3"
		return 77
	fi
	run 0 "$PY" -c "$LS_JSON_PY" "$FDSHARE" "$T" || return 1
	out_has '^ok$'
	rm -f "$T/file" "$T/u.sock"
}

# Without PID: the fds it was given, and none of its own: with 3 to 6
# closed, its own directory fd would be 3.
t_self() {
	"$FDSHARE" ls 3<&- 4<&- 5<&- 6<&- 7<"$0" 8>"$T/w" >"$T/out" 2>"$T/err" || {
		WHY="fdshare ls failed: $(cat "$T/err")"
		return 1
	}
	out_has "^FD +KIND +MODE +FLAGS +OFFSET +TARGET$" || return 1
	out_has "^7 +file +r +- +0 +/.*test_cli_ls\.sh$" || return 1
	out_has "^8 +file +w +- +0 +$T/w$" || return 1
	out_has "^0 " || return 1
	if grep -Eq '^[3-6] ' "$T/out"; then
		WHY="it lists a descriptor of its own: $(cat "$T/out")"
		return 1
	fi
	rm -f "$T/w"
}

# Another process: a file at an offset, a pipe, a deleted file.
t_other() {
	local pid
	echo "some content" >"$T/held"
	echo "to be deleted" >"$T/gone"
	bg sh -c 'read x <&5; exec sleep 60' 5<"$T/held" 6<"$T/gone" 7>>"$T/app" 3</dev/null
	pid=$BGPID
	rm -f "$T/gone"
	wait_until grep -q sleep /proc/$pid/cmdline || { WHY="sleep did not start"; stop "$pid"; return 1; }
	run 0 "$FDSHARE" ls "$pid" || { stop "$pid"; return 1; }
	stop "$pid"
	out_has "^5 +file +r +- +13 +$T/held$" || return 1
	out_has "^6 +file +r +- +0 +$T/gone \(deleted\)$" || return 1
	out_has "^7 +file +w +append +0 +$T/app$" || return 1
	rm -f "$T/held" "$T/app"
}

t_other_socket() {
	local pid port
	if [ -z "$PY" ]; then
		WHY="no /usr/bin/python3"
		return 77
	fi
	bg "$PY" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], s.fileno(), flush=True)
time.sleep(60)' >"$T/py"
	pid=$BGPID
	wait_until test -s "$T/py" || { WHY="python did not start"; stop "$pid"; return 1; }
	read -r port fd <"$T/py"
	run 0 "$FDSHARE" ls "$pid" || { stop "$pid"; return 1; }
	stop "$pid"
	out_has "^$fd +socket +rw +.* +- +tcp 127\.0\.0\.1:$port LISTEN$" || return 1
	rm -f "$T/py"
}

t_errors() {
	run 2 "$FDSHARE" ls x || return 1
	err_is "^fdshare: ls: PID must be a positive number, got 'x' \(see 'fdshare ls --help'\)$" || return 1
	run 2 "$FDSHARE" ls -- -3 || return 1
	err_is "PID must be a positive number, got '-3'" || return 1
	run 2 "$FDSHARE" ls -3 || return 1
	run 2 "$FDSHARE" ls 0 || return 1
	run 2 "$FDSHARE" ls 1 2 || return 1
	err_is "unexpected argument '2'" || return 1
	run 2 "$FDSHARE" ls 99999999999999 || return 1
	# A pid above pid_max exists nowhere.
	run 1 "$FDSHARE" ls 2147483647 || return 1
	err_is "^fdshare: ls: cannot list the descriptors of process 2147483647: No such process \(.*\)$"
}

t_help() {
	run 0 "$FDSHARE" ls --help || return 1
	for field in fd pid kind access flags offset path deleted dev ino target socket \
		family type protocol local peer state listening peer_pid peer_uid; do
		out_has "\b$field\b" || return 1
	done
}

run_case json t_json
run_case self t_self
run_case other t_other
run_case other_socket t_other_socket
run_case errors t_errors
run_case help t_help
