# fdshare send and fdshare recv, between separate pipelines.
. "$(dirname "$0")/cli_lib.sh"

S=$T/s.sock
SETPRIV="setpriv --reuid=1001 --regid=1001 --clear-groups"

# listening PID: process PID listens on $S (a stale file at $S is not enough).
listening() {
	"$FDSHARE" ls "$1" 2>/dev/null | grep -q " unix stream $S LISTEN\$"
}

# recv_bg ARGS...: "fdshare recv ARGS" in the background, stdout in
# $T/rout, stderr in $T/rerr; RECV is its pid; true once it listens.
recv_bg() {
	bg "$FDSHARE" recv "$@" >"$T/rout" 2>"$T/rerr" </dev/null
	RECV=$BGPID
	wait_until listening "$RECV" || { WHY="recv is not listening: $(cat "$T/rerr")"; return 1; }
}

# recv_done: RECV has ended (5 s at most).
recv_done() {
	reap "$RECV" || { WHY="recv still running: $(cat "$T/rerr")"; stop "$RECV"; return 1; }
}

no_socket() {
	if [ -e "$S" ]; then
		WHY="$S was left behind"
		return 1
	fi
}

t_pipelines() {
	local mode
	echo "database" >"$T/db"
	recv_bg --timeout 10 "$S" -- sh -c \
		'echo "$LISTEN_FDS $LISTEN_FDNAMES $LISTEN_PID $$"; cat <&3; cat <&4' || return 1
	mode=$(stat -c %a "$S")
	echo "through the pipe" | "$FDSHARE" send "$S" 0=piped 5=db 5<"$T/db" 2>"$T/err" ||
		{ WHY="send failed: $(cat "$T/err")"; stop "$RECV"; return 1; }
	recv_done || return 1
	no_socket || return 1
	[ "$mode" = 600 ] || { WHY="socket mode $mode"; return 1; }
	read -r n names lpid shpid <"$T/rout"
	if [ "$n $names" != "2 piped:db" ] || [ "$lpid" != "$shpid" ]; then
		WHY="LISTEN_FDS LISTEN_FDNAMES LISTEN_PID pid: $(head -1 "$T/rout")"
		return 1
	fi
	if [ "$(sed -n '2,3p' "$T/rout")" != "$(printf 'through the pipe\ndatabase')" ]; then
		WHY="CMD read '$(cat "$T/rout")'"
		return 1
	fi
	rm -f "$T/db" "$T/rout" "$T/rerr"
}

t_default_name() {
	recv_bg --timeout 10 "$S" -- sh -c 'echo "$LISTEN_FDNAMES"' || return 1
	"$FDSHARE" send "$S" 0 </dev/null 2>"$T/err" ||
		{ WHY="send failed: $(cat "$T/err")"; stop "$RECV"; return 1; }
	recv_done || return 1
	[ "$(cat "$T/rout")" = fd0 ] || { WHY="names '$(cat "$T/rout")'"; return 1; }
}

# A sender of another uid is refused, logged, and recv keeps waiting.
t_other_uid_refused() {
	command -v setpriv >/dev/null || { WHY="no setpriv"; return 77; }
	recv_bg --timeout 20 "$S" -- sh -c 'echo "$LISTEN_FDNAMES"' || return 1
	chmod 666 "$S"  # past the socket's mode, to the uid check
	run 1 $SETPRIV "$FDSHARE" send "$S" 0=other || { stop "$RECV"; return 1; }
	err_is "^fdshare: send: $S refused the descriptors: .+ \(.*--any-user.*\)$" ||
		{ stop "$RECV"; return 1; }
	if ! grep -q "refused a sender of uid 1001" "$T/rerr" || gone "$RECV"; then
		WHY="recv did not log the refusal and keep waiting: $(cat "$T/rerr")"
		stop "$RECV"
		return 1
	fi
	"$FDSHARE" send "$S" 0=ours </dev/null || { stop "$RECV"; return 1; }
	recv_done || return 1
	[ "$(cat "$T/rout")" = ours ] || { WHY="names '$(cat "$T/rout")'"; return 1; }
	no_socket
}

t_any_user() {
	command -v setpriv >/dev/null || { WHY="no setpriv"; return 77; }
	local mode
	recv_bg --timeout 10 --any-user "$S" -- sh -c 'echo "$LISTEN_FDNAMES"' || return 1
	mode=$(stat -c %a "$S")
	$SETPRIV "$FDSHARE" send "$S" 0=other </dev/null 2>"$T/err" ||
		{ WHY="send as uid 1001 failed: $(cat "$T/err")"; stop "$RECV"; return 1; }
	recv_done || return 1
	[ "$mode" = 666 ] || { WHY="socket mode $mode"; return 1; }
	[ "$(cat "$T/rout")" = other ] || { WHY="names '$(cat "$T/rout")'"; return 1; }
	no_socket
}

t_timeout() {
	run 1 "$FDSHARE" recv --timeout 1 "$S" -- true || return 1
	err_is "^fdshare: recv: no sender came in time: Connection timed out \(.+\)$" || return 1
	no_socket
}

# SIGINT and SIGTERM while waiting remove the socket.
t_signals() {
	local sig
	for sig in INT TERM; do
		# An asynchronous command of a script ignores SIGINT: undo that.
		bg "${PY:-false}" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$FDSHARE" recv "$S" -- true
		RECV=$BGPID
		wait_until listening "$RECV" || {
			stop "$RECV"
			[ -z "$PY" ] && { WHY="no /usr/bin/python3"; return 77; }
			WHY="no socket"
			return 1
		}
		kill -"$sig" "$RECV"
		recv_done || return 1
		no_socket || { WHY="$WHY after SIG$sig"; return 1; }
	done
}

t_refuse_replace() {
	touch "$S"
	run 1 "$FDSHARE" recv --timeout 5 "$S" -- true || return 1
	err_is "^fdshare: recv: cannot create $S: File exists \(.*not a socket.*\)$" || return 1
	[ -f "$S" ] || { WHY="the regular file was removed"; return 1; }
	rm -f "$S"
	recv_bg --timeout 10 "$S" -- sh -c 'echo "$LISTEN_FDNAMES"' || return 1
	run 1 "$FDSHARE" recv --timeout 5 "$S" -- true || { stop "$RECV"; return 1; }
	err_is "^fdshare: recv: cannot create $S: Address already in use \(.*listening.*\)$" ||
		{ stop "$RECV"; return 1; }
	"$FDSHARE" send "$S" 0=first </dev/null || { WHY="the first recv was disturbed"; stop "$RECV"; return 1; }
	recv_done || return 1
	[ "$(cat "$T/rout")" = first ] || { WHY="names '$(cat "$T/rout")'"; return 1; }
}

# A socket file nobody listens on (its recv was killed) is replaced.
t_stale_replaced() {
	recv_bg "$S" -- true || return 1
	stop "$RECV"
	[ -S "$S" ] || { WHY="no stale socket was left to test with"; return 1; }
	run 1 "$FDSHARE" send "$S" 0 || return 1
	err_is "^fdshare: send: cannot connect to $S: Connection refused \(.+\)$" || return 1
	recv_bg --timeout 10 "$S" -- sh -c 'echo "$LISTEN_FDNAMES"' || return 1
	"$FDSHARE" send "$S" 0=fresh </dev/null || { stop "$RECV"; return 1; }
	recv_done || return 1
	[ "$(cat "$T/rout")" = fresh ] || { WHY="names '$(cat "$T/rout")'"; return 1; }
	no_socket
}

# A CMD that cannot be run is known before recv listens: no sender's
# descriptors are taken for nothing.
t_cmd_not_runnable() {
	printf 'echo hi\n' >"$T/noexec"
	run 127 "$FDSHARE" recv --timeout 10 "$S" -- no-such-command-fdshare || return 1
	err_is "^fdshare: recv: cannot run 'no-such-command-fdshare': No such file or directory \(.+\)$" ||
		return 1
	no_socket || return 1
	run 126 "$FDSHARE" recv --timeout 10 "$S" -- "$T/noexec" || return 1
	err_is "^fdshare: recv: cannot run '.*noexec': Permission denied \(.+\)$" || return 1
	no_socket || return 1
	rm -f "$T/noexec"
}

# A sender whose message stops half way is dropped after 10 s without a
# byte; recv takes the next sender's.
PY_STALLER='
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.send(b"FDSH")  # the first bytes of a header, then nothing
time.sleep(30)
'

t_stalled_sender() {
	local staller
	[ -n "$PY" ] || { WHY="no /usr/bin/python3"; return 77; }
	recv_bg --timeout 40 "$S" -- sh -c 'echo "$LISTEN_FDNAMES"' || return 1
	bg "$PY" -c "$PY_STALLER" "$S"
	staller=$BGPID
	sleep 0.5
	"$FDSHARE" send "$S" 0=after </dev/null 2>"$T/err" ||
		{ WHY="send failed: $(cat "$T/err"); recv: $(cat "$T/rerr")"; stop "$RECV"; stop "$staller"; return 1; }
	stop "$staller"
	recv_done || return 1
	[ "$(cat "$T/rout")" = after ] || { WHY="names '$(cat "$T/rout")'"; return 1; }
	grep -q "its message stalled" "$T/rerr" ||
		{ WHY="recv did not log the stalled sender: $(cat "$T/rerr")"; return 1; }
	no_socket
}

t_usage_errors() {
	local long
	long=$T/$(printf 'x%.0s' $(seq 120))
	run 2 "$FDSHARE" recv || return 1
	err_is "^fdshare: recv: missing SOCKET \(see 'fdshare recv --help'\)$" || return 1
	run 2 "$FDSHARE" recv "$S" || return 1
	err_is "missing '-- CMD'" || return 1
	run 2 "$FDSHARE" recv "$S" cat || return 1
	run 2 "$FDSHARE" recv "$S" -- || return 1
	run 2 "$FDSHARE" recv --timeout x "$S" -- true || return 1
	run 2 "$FDSHARE" recv --timeout -1 "$S" -- true || return 1
	run 2 "$FDSHARE" recv "$long" -- true || return 1
	err_is "SOCKET path is [0-9]+ bytes, more than the 107" || return 1
	run 2 "$FDSHARE" send || return 1
	run 2 "$FDSHARE" send "$S" || return 1
	err_is "missing FD" || return 1
	run 2 "$FDSHARE" send "$S" x || return 1
	err_is "FD must be a non-negative number, got 'x'" || return 1
	run 2 "$FDSHARE" send "$S" -1 || return 1
	run 2 "$FDSHARE" send "$S" 0=a:b || return 1
	err_is "NAME must be" || return 1
	run 2 "$FDSHARE" send "$S" 0= || return 1
	run 2 "$FDSHARE" send "$long" 0 || return 1
	no_socket
}

t_operational_errors() {
	run 1 "$FDSHARE" send "$S" 0 || return 1
	err_is "^fdshare: send: cannot connect to $S: No such file or directory \(.+\)$" || return 1
	run 1 "$FDSHARE" send "$S" 0 97 || return 1
	err_is "^fdshare: send: fd 97 is not open: Bad file descriptor \(.+\)$" || return 1
	run 1 "$FDSHARE" recv "$T/no/such/dir/s" -- true || return 1
	err_is "^fdshare: recv: cannot create $T/no/such/dir/s: No such file or directory \(.+\)$"
}

# docs/protocol.md, section 2, from Python: a malformed message is dropped
# (recv keeps waiting), then the documented example is taken and answered.
PY_SENDER='
import os, socket, struct, sys
path, fd = sys.argv[1], os.open("/dev/null", os.O_RDONLY)
def frame(names, nfds, kind=0x444e4553):
    return struct.pack("<IB3xIII", 0x48534446, 1, kind, len(names), nfds) + names
def exchange(msg, fds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socket.send_fds(s, [msg], fds)
    ack = s.recv(20)
    s.close()
    return ack
for bad, fds in ((frame(b"a:b", 1), [fd]), (frame(b"a", 1, 7), [fd]), (frame(b"x\\y", 1), [fd])):
    if exchange(bad, fds) != b"":
        sys.exit("a malformed message was answered")
ack = exchange(frame(b"db", 1), [fd])
if len(ack) != 20 or struct.unpack("<I", ack[8:12])[0] != 0x4b434153:
    sys.exit("no SACK: %r" % ack)
'

t_python_sender() {
	[ -n "$PY" ] || { WHY="no /usr/bin/python3"; return 77; }
	recv_bg --timeout 20 "$S" -- sh -c 'echo "$LISTEN_FDS $LISTEN_FDNAMES"' || return 1
	"$PY" -c "$PY_SENDER" "$S" 2>"$T/err" || { WHY="$(cat "$T/err")"; stop "$RECV"; return 1; }
	recv_done || return 1
	[ "$(cat "$T/rout")" = "1 db" ] || { WHY="CMD saw '$(cat "$T/rout")'"; return 1; }
	if [ "$(grep -c "dropped sender" "$T/rerr")" -ne 3 ]; then
		WHY="recv did not log three dropped senders: $(cat "$T/rerr")"
		return 1
	fi
	no_socket
}

run_case pipelines t_pipelines
run_case python_sender t_python_sender
run_case default_name t_default_name
run_case other_uid_refused t_other_uid_refused
run_case any_user t_any_user
run_case timeout t_timeout
run_case signals t_signals
run_case refuse_replace t_refuse_replace
run_case stale_replaced t_stale_replaced
run_case cmd_not_runnable t_cmd_not_runnable
run_case stalled_sender t_stalled_sender
run_case usage_errors t_usage_errors
run_case operational_errors t_operational_errors
