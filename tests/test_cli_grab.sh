# fdshare grab: duplicate another process's descriptor, print it or run CMD.
. "$(dirname "$0")/cli_lib.sh"

# A sleeping process whose fd 1 is the write end of a pipe into $T/piped.
start_piped_sleeper() {
	# (sh reports the death of sleep by a signal on stderr: hush it)
	bg sh -c "exec sleep 60 | exec cat >'$T/piped'" 2>/dev/null
	wait_until pgrep -f "^sleep 60\$" -P "$BGPID" >/dev/null || return 1
	SLEEPER=$(pgrep -f "^sleep 60\$" -P "$BGPID")
}

# A sleeping process holding a deleted file as fd 7, read-only, offset 0.
start_deleted_holder() {
	printf 'line one\nline two\n' >"$T/log"
	bg sh -c 'exec sleep 60' 7<"$T/log"
	HOLDER=$BGPID
	rm -f "$T/log"
	wait_until grep -q sleep /proc/$HOLDER/cmdline
}

t_write_through_pipe() {
	start_piped_sleeper || { WHY="no sleeper"; return 1; }
	run 0 "$FDSHARE" grab "$SLEEPER" 1 -- sh -c 'echo "through the grab" >&3' ||
		{ stop "$BGPID"; return 1; }
	run 0 "$FDSHARE" grab "$SLEEPER" 1 || { stop "$BGPID"; return 1; }
	kill "$SLEEPER"
	reap "$BGPID"
	out_has "^[0-9]+ +pipe +w +cloexec +- +pipe:\[[0-9]+\]$" || return 1
	if [ "$(cat "$T/piped")" != "through the grab" ]; then
		WHY="the pipe carried '$(cat "$T/piped")'"
		return 1
	fi
	rm -f "$T/piped"
}

t_listen_vars() {
	start_piped_sleeper || { WHY="no sleeper"; return 1; }
	LISTEN_PIDFDID=1 run 0 "$FDSHARE" grab "$SLEEPER" 1 -- \
		sh -c 'echo $LISTEN_FDS $LISTEN_FDNAMES $LISTEN_PID $$; exec "$0" ls' "$FDSHARE"
	local rc=$?
	stop "$SLEEPER"
	reap "$BGPID"
	[ $rc -eq 0 ] || return 1
	read -r n names lpid shpid <"$T/out"
	if [ "$n $names" != "1 grabbed" ] || [ "$lpid" != "$shpid" ]; then
		WHY="LISTEN_FDS LISTEN_FDNAMES LISTEN_PID pid: $(head -1 "$T/out")"
		return 1
	fi
	out_has "^3 +pipe +w +- +- +pipe:" || return 1
	rm -f "$T/piped"
}

# The man page's example: recover a deleted file still open elsewhere.
t_recover_deleted() {
	start_deleted_holder || { WHY="no holder"; return 1; }
	LISTEN_FDS=4 LISTEN_PID=1 LISTEN_FDNAMES=x \
		"$FDSHARE" grab --to 0 "$HOLDER" 7 -- sh -c 'cat; echo "${LISTEN_FDS-unset}${LISTEN_PID-unset}${LISTEN_FDNAMES-unset}"' \
		>"$T/saved" 2>"$T/err"
	local rc=$?
	stop "$HOLDER"
	if [ $rc -ne 0 ] || [ "$(cat "$T/saved")" != "$(printf 'line one\nline two\nunsetunsetunset')" ]; then
		WHY="exit $rc, got '$(cat "$T/saved")' $(cat "$T/err")"
		return 1
	fi
	rm -f "$T/saved"
}

# --to a number above 2 shares the holder's offset; --reopen, when
# pidfd_getfd is refused, opens the file again with an offset of its own.
t_to_high_and_reopen() {
	local nogetfd=$BUILD/tests/aux/cli_nogetfd
	[ -x "$nogetfd" ] || { WHY="no $nogetfd"; return 77; }
	start_deleted_holder || { WHY="no holder"; return 1; }
	# head leaves the shared offset just after the first line.
	run 0 "$FDSHARE" grab --to 9 "$HOLDER" 7 -- sh -c 'head -n 1 <&9' ||
		{ stop "$HOLDER"; return 1; }
	out_has "^line one$" || { stop "$HOLDER"; return 1; }
	run 0 "$FDSHARE" grab "$HOLDER" 7 -- sh -c 'cat <&3' || { stop "$HOLDER"; return 1; }
	if [ "$(cat "$T/out")" != "line two" ]; then
		WHY="the shared offset gave '$(cat "$T/out")'"
		stop "$HOLDER"
		return 1
	fi
	run 1 "$nogetfd" "$FDSHARE" grab "$HOLDER" 7 || { stop "$HOLDER"; return 1; }
	err_is "Operation not permitted .*--reopen" || { stop "$HOLDER"; return 1; }
	run 0 "$nogetfd" "$FDSHARE" grab --reopen "$HOLDER" 7 -- sh -c 'cat <&3' ||
		{ stop "$HOLDER"; return 1; }
	stop "$HOLDER"
	if [ "$(cat "$T/out")" != "$(printf 'line one\nline two')" ]; then
		WHY="the reopened file gave '$(cat "$T/out")'"
		return 1
	fi
}

t_usage_errors() {
	run 2 "$FDSHARE" grab || return 1
	err_is "^fdshare: grab: missing PID \(see 'fdshare grab --help'\)$" || return 1
	run 2 "$FDSHARE" grab x 1 || return 1
	err_is "^fdshare: grab: PID must be a positive number, got 'x' \(see 'fdshare grab --help'\)$" || return 1
	run 2 "$FDSHARE" grab -5 1 || return 1
	err_is "PID must be a positive number, got '-5'" || return 1
	run 2 "$FDSHARE" grab $$ || return 1
	err_is "missing FD" || return 1
	run 2 "$FDSHARE" grab $$ -1 || return 1
	err_is "FD must be a non-negative number, got '-1'" || return 1
	run 2 "$FDSHARE" grab $$ 1x || return 1
	run 2 "$FDSHARE" grab $$ 1 cat || return 1
	err_is "unexpected argument 'cat'" || return 1
	run 2 "$FDSHARE" grab $$ 1 -- || return 1
	err_is "missing CMD after '--'" || return 1
	run 2 "$FDSHARE" grab --to x $$ 1 -- cat || return 1
	run 2 "$FDSHARE" grab --to 3 $$ 1 || return 1
	run 2 "$FDSHARE" grab --bogus $$ 1 || return 1
}

t_operational_errors() {
	run 1 "$FDSHARE" grab 2147483647 1 || return 1
	err_is "^fdshare: grab: cannot duplicate fd 1 of process 2147483647: No such process \(.+\)$" || return 1
	run 1 "$FDSHARE" grab $$ 999 || return 1
	err_is "^fdshare: grab: cannot duplicate fd 999 of process $$: Bad file descriptor \(.+\)$" || return 1
}

t_other_user() {
	command -v setpriv >/dev/null || { WHY="no setpriv"; return 77; }
	start_deleted_holder || { WHY="no holder"; return 1; }
	run 1 setpriv --reuid=1001 --regid=1001 --clear-groups "$FDSHARE" grab "$HOLDER" 7
	local rc=$?
	[ $rc -eq 0 ] && { err_is "^fdshare: grab: cannot duplicate fd 7 of process $HOLDER: Operation not permitted \(.*CAP_SYS_PTRACE.*--reopen.*\)$"; rc=$?; }
	[ $rc -eq 0 ] && { run 1 setpriv --reuid=1001 --regid=1001 --clear-groups "$FDSHARE" grab --reopen "$HOLDER" 7; rc=$?; }
	stop "$HOLDER"
	return $rc
}

t_cmd_not_runnable() {
	start_deleted_holder || { WHY="no holder"; return 1; }
	printf 'echo hi\n' >"$T/noexec"
	chmod 644 "$T/noexec"
	run 127 "$FDSHARE" grab "$HOLDER" 7 -- no-such-command-fdshare ||
		{ stop "$HOLDER"; return 1; }
	err_is "^fdshare: grab: cannot run 'no-such-command-fdshare': No such file or directory \(.+\)$" ||
		{ stop "$HOLDER"; return 1; }
	run 126 "$FDSHARE" grab "$HOLDER" 7 -- "$T/noexec" || { stop "$HOLDER"; return 1; }
	run 127 "$FDSHARE" grab --to 0 "$HOLDER" 7 -- no-such-command-fdshare ||
		{ stop "$HOLDER"; return 1; }
	run 126 "$FDSHARE" grab --to 5 "$HOLDER" 7 -- "$T/noexec"
	local rc=$?
	stop "$HOLDER"
	rm -f "$T/noexec"
	return $rc
}

run_case write_through_pipe t_write_through_pipe
run_case listen_vars t_listen_vars
run_case recover_deleted t_recover_deleted
run_case to_high_and_reopen t_to_high_and_reopen
run_case usage_errors t_usage_errors
run_case operational_errors t_operational_errors
run_case other_user t_other_user
run_case cmd_not_runnable t_cmd_not_runnable
