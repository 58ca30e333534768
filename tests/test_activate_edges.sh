# Edge cases of the sockets 'fdshare listen' and 'fdshare run' make or
# take (src/cli/activate.c, src/cli/addr.c): an fd:N that is not open,
# a CMD that cannot run (checked before any socket is made or held), a
# parse error after an fd array only partly set, abstract names of the
# full 107 bytes.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/listen_lib.sh"

XDG_RUNTIME_DIR=$T/xdg
export XDG_RUNTIME_DIR
mkdir -m 700 "$XDG_RUNTIME_DIR"

# A CMD that records that it ran and stops a 'fdshare run' above it, so
# that a wrongly started run still ends.
RAN='echo "$LISTEN_FDS $(readlink /proc/$$/fd/3)" >"$0"; [ "$1" = run ] && kill -TERM $PPID'

not_ran() {
	[ ! -e "$T/ran" ] || { WHY="CMD ran and got: $(cat "$T/ran")"; rm -f "$T/ran"; return 1; }
}

# fd:N with N closed is an error, even when fdshare opened a descriptor
# of its own at N meanwhile (run's epoll instance at 3, the holder
# connection): that must not be passed on as N.
t_fd_closed_run() {
	local rc=0
	{ run 1 timeout 10 "$FDSHARE" run fd:3 -- sh -c "$RAN" "$T/ran" run; } 3<&- || rc=1
	[ "$rc" -eq 0 ] && { err_is "^fdshare: run: cannot use fd:3: Bad file descriptor \(fd:N must be open in this process.*\)$" || rc=1; }
	not_ran || rc=1
	[ -z "$(ls -A "$XDG_RUNTIME_DIR")" ] || { WHY="left behind: $(ls "$XDG_RUNTIME_DIR")"; rc=1; }
	rm -rf "${XDG_RUNTIME_DIR:?}"/*
	return "$rc"
}

t_fd_closed_holder() {
	start_holder || return $?
	local rc=0 w
	for w in listen run; do
		{ run 1 timeout 10 "$FDSHARE" "$w" --holder --socket "$H" fd:3=x fd:4=y -- \
			sh -c "$RAN" "$T/ran" "$w"; } 3<&- 4<&- || { rc=1; break; }
		err_is "^fdshare: $w: cannot use fd:3=x: Bad file descriptor \(fd:N must be open in this process.*\)$" || { rc=1; break; }
		not_ran || { rc=1; break; }
	done
	if [ "$rc" -eq 0 ] && [ -n "$("$FDSHARE" list --socket "$H" 2>&1)" ]; then
		WHY="the holder was given: $("$FDSHARE" list --socket "$H" 2>&1)"
		rc=1
	fi
	stop "$HOLDER"
	rm -rf "$H" "$T/ran" "${XDG_RUNTIME_DIR:?}"/*
	return "$rc"
}

# An fd:N that is open is still taken, at its place among the others, and
# with --holder stored there for the next run of the same line.
t_fd_open_still_works() {
	echo data >"$T/data"
	local ino rc=0
	ino=$(stat -c '%i' "$T/data")
	run 0 "$FDSHARE" listen tcp:127.0.0.1:0 fd:3 -- sh -c 'echo "$LISTEN_FDS $LISTEN_FDNAMES $(stat -L -c %i /proc/$$/fd/4)"' 3<"$T/data" || rc=1
	[ "$rc" -eq 0 ] && [ "$(cat "$T/out")" != "2 tcp-127.0.0.1-0:fd-3 $ino" ] &&
		{ WHY="CMD saw '$(cat "$T/out")'"; rc=1; }
	rm -f "$T/data"
	return "$rc"
}

# A usage error in an ADDR after the first must not close descriptors
# (the fd array was read before it was all set: close(0) and the like).
t_parse_error_closes_nothing() {
	command -v strace >/dev/null || { WHY="no strace (package strace)"; return 77; }
	# LeakSanitizer (SANITIZE=1) cannot work under ptrace: off here
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -qq -e trace=close -o "$T/trace" "$FDSHARE" listen bogus:1 tcp:127.0.0.1:0 \
		unix:$T/x fd:0 -- true </dev/null >/dev/null 2>"$T/err"
	local rc=$?
	if [ "$rc" -ne 2 ]; then
		WHY="exit $rc, not 2: $(cat "$T/err")"
		rm -f "$T/trace"
		return 1
	fi
	# the dynamic loader closes what it opened (at 3): not ours to check
	if grep -Eq '^close\([0-2]\)|EBADF' "$T/trace"; then
		WHY="closed: $(grep -E '^close\(' "$T/trace" | tr -s ' ' | tr '\n' ';')"
		rm -f "$T/trace"
		return 1
	fi
	rm -f "$T/trace"
}

# An abstract name may fill the 107 bytes after its leading NUL, as the
# kernel allows; 108 is a usage error.
t_abstract_107() {
	local name
	name=fdshare-$$-$(printf 'a%.0s' $(seq 107))
	name=${name:0:107}
	run 0 "$FDSHARE" listen "unix:@$name=ab" -- sh -c 'grep -c " @$0\$" /proc/net/unix' "$name" || return 1
	[ "$(cat "$T/out")" = 1 ] || { WHY="not bound at @$name: $(cat "$T/out")"; return 1; }
	run 2 "$FDSHARE" listen "unix:@${name}b=ab" -- true || return 1
	err_is "^fdshare: listen: bad ADDR 'unix:@${name}b=ab': @NAME is longer than the 107 bytes .+ \(see 'fdshare listen --help'\)$" || return 1
}

# A CMD that cannot run is found out before any socket is made: nothing is
# left in the holder (a port it would keep bound) nor on disk.
t_cmd_not_runnable_holder() {
	start_holder || return $?
	local rc=0 w
	: >"$T/notexec"
	for w in listen run; do
		run 127 timeout 10 "$FDSHARE" "$w" --holder --socket "$H" tcp:127.0.0.1:0=web \
			unix:$T/s=s -- "$T/no-such-program" || { rc=1; break; }
		err_is "^fdshare: $w: cannot run '$T/no-such-program': No such file or directory \(.+\)$" || { rc=1; break; }
		run 126 timeout 10 "$FDSHARE" "$w" --holder --socket "$H" tcp:127.0.0.1:0=web \
			unix:$T/s=s -- "$T/notexec" || { rc=1; break; }
		err_is "^fdshare: $w: cannot run '$T/notexec': Permission denied \(.+\)$" || { rc=1; break; }
	done
	if [ "$rc" -eq 0 ] && [ -n "$("$FDSHARE" list --socket "$H" 2>&1)" ]; then
		WHY="the holder keeps: $("$FDSHARE" list --socket "$H" 2>&1)"
		rc=1
	fi
	[ "$rc" -eq 0 ] && [ -e "$T/s" ] && { WHY="a socket file was made"; rc=1; }
	stop "$HOLDER"
	rm -rf "$H" "$T/s" "$T/notexec" "${XDG_RUNTIME_DIR:?}"/*
	return "$rc"
}

run_case fd_closed_run t_fd_closed_run
run_case fd_closed_holder t_fd_closed_holder
run_case fd_open_still_works t_fd_open_still_works
run_case cmd_not_runnable_holder t_cmd_not_runnable_holder
run_case parse_error_closes_nothing t_parse_error_closes_nothing
run_case abstract_107 t_abstract_107
