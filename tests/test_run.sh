# fdshare run: restarts, SIGHUP, readiness, stopping, the notify socket and
# the fd store, with libsystemd (tests/aux/sd_fdstore) and Python senders.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/listen_lib.sh"

# run's private directory goes here, to be checked for leftovers
XDG_RUNTIME_DIR=$T/xdg
export XDG_RUNTIME_DIR
mkdir -m 700 "$XDG_RUNTIME_DIR"

# run_bg ARGS...: 'fdshare run ARGS' in the background, RUN its pid, its
# stderr in $T/rlog.
run_bg() {
	bg "$FDSHARE" run "$@" 2>"$T/rlog" </dev/null
	RUN=$BGPID
}

log_has() {
	grep -Eq -- "$1" "$T/rlog"
}

# wait_log PATTERN: run logged PATTERN (5 s at most), else WHY.
wait_log() {
	wait_until log_has "$1" || { WHY="run never logged '$1': $(tail -5 "$T/rlog")"; return 1; }
}

# started N: the pid of the Nth instance run started.
started() {
	grep -Eo '(started|SIGHUP: started) pid [0-9]+' "$T/rlog" | sed -n "${1}s/.* //p"
}

# abort_run: a failed case kills run, and what it leaves is not the next
# case's fault.
abort_run() {
	stop "$RUN"
	rm -rf "${XDG_RUNTIME_DIR:?}"/*
}

has_started() {
	[ -n "$(started "$1")" ]
}

# stop_run: SIGTERM, run ends with status 0 and leaves nothing behind.
stop_run() {
	local rc
	kill -TERM "$RUN"
	reap "$RUN" || { WHY="run did not stop: $(tail -3 "$T/rlog")"; abort_run; return 1; }
	log_has "stopping$" || { WHY="no stop logged: $(tail -3 "$T/rlog")"; return 1; }
	if [ -n "$(ls -A "$XDG_RUNTIME_DIR")" ]; then
		WHY="left behind: $(ls -A "$XDG_RUNTIME_DIR")"
		return 1
	fi
}

# usage ARGS...: a usage error (2), one line, nothing started.
usage() {
	run 2 "$FDSHARE" run "$@" || return 1
	err_is "^fdshare: run: .+ \(see 'fdshare run --help'\)$" || { WHY="$* : $WHY"; return 1; }
}

t_usage_errors() {
	usage || return 1
	usage tcp:127.0.0.1:0 || return 1
	usage tcp:127.0.0.1:0 -- || return 1
	err_is "missing '-- CMD'" || return 1
	usage bogus:1 -- true || return 1
	err_is "bad ADDR 'bogus:1'" || return 1
	usage --ready-timeout 5 -- true || return 1
	usage --ready --ready-timeout 0 -- true || return 1
	usage --ready --ready-timeout x -- true || return 1
	usage --stop-timeout -1 -- true || return 1
	usage --fdstore-max 5000 -- true || return 1
	usage --store-prefix p. -- true || return 1
	usage --holder --store-prefix "a b" -- true || return 1
	usage --socket "$H" -- true || return 1
	usage --backlog 70000 tcp:127.0.0.1:0 -- true || return 1
	usage --frobnicate -- true || return 1
	[ -z "$(ls -A "$XDG_RUNTIME_DIR")" ] || { WHY="a usage error made $(ls "$XDG_RUNTIME_DIR")"; return 1; }
}

# op_error WANT PATTERN ARGS...: exit WANT (1, 126, 127) with one error
# line, no CMD started, nothing left behind.
op_error() {
	local want=$1 pat=$2
	shift 2
	run "$want" "$FDSHARE" run "$@" || return 1
	err_is "^fdshare: run: $pat" || return 1
	[ -z "$(ls -A "$XDG_RUNTIME_DIR")" ] || { WHY="left behind: $(ls "$XDG_RUNTIME_DIR")"; return 1; }
}

t_operational_errors() {
	op_error 1 "cannot create tcp:192.0.2.1:80: Cannot assign requested address \(.+\)$" \
		tcp:192.0.2.1:80 -- true || return 1
	op_error 1 "cannot connect to the holder at $T/none.sock: .+ \(.+\)$" \
		--holder --socket "$T/none.sock" tcp:127.0.0.1:0 -- true || return 1
	op_error 127 "cannot run '$T/nothing': No such file or directory \(.+\)$" \
		unix:$T/u -- "$T/nothing" || return 1
	: >"$T/notexec"
	op_error 126 "cannot run '$T/notexec': Permission denied \(.+\)$" \
		unix:$T/u -- "$T/notexec" || return 1
	[ ! -e "$T/u" ] || { WHY="the socket file was left behind"; return 1; }
	rm -f "$T/notexec"
}

# What CMD gets: the sockets, NOTIFY_SOCKET in a private 0700 directory.
t_environment() {
	local dir
	run_bg unix:$T/e=sock -- sh -c 'd=${NOTIFY_SOCKET%/*}
echo "$LISTEN_FDS $LISTEN_FDNAMES $(stat -c "%a %F" "$d") $NOTIFY_SOCKET" >"$0.tmp"
mv "$0.tmp" "$0"; exec sleep 100' "$T/env"
	wait_until test -s "$T/env" || { WHY="CMD did not run: $(cat "$T/rlog")"; abort_run; return 1; }
	dir=$(ls -d "$XDG_RUNTIME_DIR"/fdshare-run.*)
	if [ "$(cat "$T/env")" != "1 sock 700 directory $dir/notify" ] || [ ! -S "$dir/notify" ]; then
		WHY="CMD saw '$(cat "$T/env")', directory $dir"
		abort_run
		return 1
	fi
	stop_run || return 1
	[ ! -e "$T/e" ] || { WHY="the socket file was left behind"; return 1; }
	rm -f "$T/env"
}

lines_are() {
	[ "$(wc -l <"$2")" -eq "$1" ]
}

# A CMD that dies is started again with the same socket.
t_restart_on_exit() {
	local first
	run_bg tcp:127.0.0.1:0 -- sh -c 'echo "$$ $(readlink /proc/$$/fd/3)" >>"$0"; exec sleep 100' "$T/starts"
	wait_until test -s "$T/starts" || { WHY="CMD did not run"; abort_run; return 1; }
	first=$(started 1)
	kill -KILL "$first"
	wait_log "pid $first was killed by signal 9" || { abort_run; return 1; }
	wait_until lines_are 2 "$T/starts" || { WHY="not restarted: $(cat "$T/rlog")"; abort_run; return 1; }
	if [ "$(cut -d' ' -f2 "$T/starts" | uniq | wc -l)" -ne 1 ]; then
		WHY="starts: $(tr '\n' ';' <"$T/starts"); log: $(cat "$T/rlog")"
		abort_run
		return 1
	fi
	stop_run || return 1
	rm -f "$T/starts"
}

# A CMD that keeps dying at once is restarted after 0.1, 0.2, 0.4, 0.8 s...
t_backoff() {
	run_bg -- sh -c 'exit 3'
	wait_log "\(4 quick exits in a row\)" || { abort_run; return 1; }
	local delays
	delays=$(sed -n 's/.*restarting in \([0-9.]*\) s .*/\1/p' "$T/rlog" | head -4 | tr '\n' ' ')
	[ "$delays" = "0.1 0.2 0.4 0.8 " ] || { WHY="delays $delays"; abort_run; return 1; }
	log_has "exited with status 3$" || { WHY="no exit status logged"; abort_run; return 1; }
	stop_run
}

# SIGHUP with --ready: the old one stops only once the new one is ready.
t_sighup_ready() {
	have_sd || return 77
	local a b
	rm -rf "$T/sd" && mkdir "$T/sd"
	run_bg --ready -- "$AUX/sd_fdstore" "$T/sd" x 1
	wait_log "pid [0-9]+ is ready" || { abort_run; return 1; }
	a=$(started 1)
	kill -HUP "$RUN"
	wait_log "pid $a exited with status 0" || { abort_run; return 1; }
	b=$(started 2)
	if ! grep -Eq "SIGHUP: started pid $b;.*pid $b is ready;.*pid $b takes over: stopping pid $a;.*pid $a exited" <(tr '\n' ';' <"$T/rlog") ||
		gone "$b"; then
		WHY="log: $(cat "$T/rlog")"
		abort_run
		return 1
	fi
	stop_run || return 1
	rm -rf "$T/sd"
}

# A new CMD that is never ready is stopped; the old one keeps serving.
t_ready_timeout() {
	local a b
	run_bg --ready --ready-timeout 1 -- sleep 100
	wait_log "started pid" || { abort_run; return 1; }
	a=$(started 1)
	kill -HUP "$RUN"
	wait_log "SIGHUP: started pid" || { abort_run; return 1; }
	b=$(started 2)
	wait_log "pid $b sent no READY=1 in 1 s: stopping it" || { abort_run; return 1; }
	wait_log "pid $b was killed by signal 15" || { abort_run; return 1; }
	gone "$a" && { WHY="the old one was stopped"; abort_run; return 1; }
	stop_run
}

# A new CMD that dies before it is ready leaves the old one running.
t_new_dies_before_ready() {
	local a b
	run_bg --ready -- sh -c '[ -e "$0" ] && exit 5; : >"$0"; exec sleep 100' "$T/once"
	wait_log "started pid" || { abort_run; return 1; }
	a=$(started 1)
	kill -HUP "$RUN"
	wait_log "SIGHUP: started pid" || { abort_run; return 1; }
	b=$(started 2)
	wait_log "pid $b, not yet ready, exited with status 5" || { abort_run; return 1; }
	if gone "$a" || log_has "restarting"; then
		WHY="log: $(cat "$T/rlog")"
		abort_run
		return 1
	fi
	stop_run || return 1
	rm -f "$T/once"
}

# SIGHUP without --ready: the old one is stopped at once.
t_sighup_at_once() {
	local a
	run_bg -- sleep 100
	wait_log "started pid" || { abort_run; return 1; }
	a=$(started 1)
	kill -HUP "$RUN"
	wait_log "pid $a was killed by signal 15" || { abort_run; return 1; }
	log_has "takes over: stopping pid $a" || { WHY="log: $(cat "$T/rlog")"; abort_run; return 1; }
	stop_run
}

# A CMD that ignores SIGTERM is killed after --stop-timeout; a second
# SIGTERM to run does not wait at all.
t_stop_timeout() {
	# CMD ignores SIGTERM only once its trap is set: wait for that.
	rm -f "$T/trapped"
	run_bg --stop-timeout 1 -- sh -c 'trap "" TERM; : >"$0"; exec sleep 100' "$T/trapped"
	wait_log "started pid" || { abort_run; return 1; }
	wait_until test -e "$T/trapped" || { WHY="CMD did not set its trap"; abort_run; return 1; }
	stop_run || return 1
	log_has "pid [0-9]+ still runs 1 s after SIGTERM: SIGKILL" || { WHY="log: $(cat "$T/rlog")"; return 1; }
	rm -f "$T/trapped"
	run_bg --stop-timeout 60 -- sh -c 'trap "" TERM; : >"$0"; exec sleep 100' "$T/trapped"
	wait_log "started pid" || { abort_run; return 1; }
	wait_until test -e "$T/trapped" || { WHY="CMD did not set its trap"; abort_run; return 1; }
	kill -TERM "$RUN"
	wait_log "stopping$" || { abort_run; return 1; }
	kill -TERM "$RUN"
	reap "$RUN" || { WHY="a second SIGTERM did not end it"; abort_run; return 1; }
	log_has "killed by signal 9" || { WHY="log: $(cat "$T/rlog")"; return 1; }
}

# libsystemd's sd_pid_notify_with_fds(FDSTORE=1): the next instance gets
# the same files back through LISTEN_FDS, after the sockets.
t_fdstore_libsystemd() {
	have_sd || return 77
	local a b c rep
	rm -rf "$T/sd" && mkdir "$T/sd"
	run_bg --ready tcp:127.0.0.1:0=web -- "$AUX/sd_fdstore" "$T/sd" x 2
	wait_log "pid [0-9]+ is ready" || { abort_run; return 1; }
	a=$(started 1)
	grep -q "^stored 2$" "$T/sd/report.$a" || { WHY="report: $(cat "$T/sd/report.$a")"; abort_run; return 1; }
	kill -KILL "$a"        # a crash: the store outlives it
	wait_until has_started 2 || { WHY="not restarted"; abort_run; return 1; }
	b=$(started 2)
	wait_until test -e "$T/sd/report.$b" || { WHY="no report from $b"; abort_run; return 1; }
	kill -HUP "$RUN"       # a graceful restart too
	wait_log "pid $b exited" || { abort_run; return 1; }
	c=$(started 3)
	for p in "$b" "$c"; do
		rep=$(tr '\n' ';' <"$T/sd/report.$p")
		[ "$rep" = "n 3;name 0 web;name 1 x;got x x.0 by $a;name 2 x;got x x.1 by $a;" ] ||
			{ WHY="pid $p: $rep"; abort_run; return 1; }
	done
	stop_run || return 1
	rm -rf "$T/sd"
}

# FDSTOREREMOVE=1 empties the store; --fdstore-max bounds it.
t_fdstore_remove_and_max() {
	have_sd || return 77
	local a b
	rm -rf "$T/sd" && mkdir "$T/sd"
	run_bg --ready -- "$AUX/sd_fdstore" "$T/sd" x 1 remove
	wait_log "pid [0-9]+ is ready" || { abort_run; return 1; }
	a=$(started 1)
	kill -KILL "$a"
	wait_until has_started 2 || { WHY="not restarted"; abort_run; return 1; }
	b=$(started 2)
	wait_until test -e "$T/sd/report.$b" || { WHY="no second report"; abort_run; return 1; }
	[ "$(head -1 "$T/sd/report.$b")" = "n 0" ] || { WHY="after removal: $(cat "$T/sd/report.$b")"; abort_run; return 1; }
	stop_run || return 1
	rm -rf "$T/sd"
	rm -rf "$T/sd" && mkdir "$T/sd"
	run_bg --ready --fdstore-max 1 -- "$AUX/sd_fdstore" "$T/sd" x 3
	wait_log "the fd store is full \(--fdstore-max 1\): 2 fds for 'x' closed" || { abort_run; return 1; }
	a=$(started 1)
	kill -HUP "$RUN"
	wait_log "pid $a exited" || { abort_run; return 1; }
	b=$(started 2)
	[ "$(head -1 "$T/sd/report.$b")" = "n 1" ] || { WHY="with max 1: $(cat "$T/sd/report.$b")"; abort_run; return 1; }
	stop_run || return 1
	rm -rf "$T/sd"
}

# The protocol's rules, datagram by datagram (tests/py/notify_send.py),
# and senders that are not CMD refused.
t_fdstore_rules() {
	[ -n "$PY" ] || { WHY="no /usr/bin/python3"; return 77; }
	local a b sock
	rm -rf "$T/py" && mkdir "$T/py"
	run_bg --ready unix:$T/r=sock -- "$PY" "$PYDIR/notify_send.py" "$T/py"
	wait_log "pid [0-9]+ is ready" || { abort_run; return 1; }
	wait_log "a stored fd of 'p' hung up: dropped from the fd store" || { abort_run; return 1; }
	a=$(started 1)
	for pat in "dropped a notification from pid $a: over 4096 bytes" \
		"dropped a notification from pid $a: it holds a NUL byte" \
		"pid $a sent an invalid FDNAME: ignored"; do
		log_has "$pat" || { WHY="no '$pat' in: $(cat "$T/rlog")"; abort_run; return 1; }
	done
	# the test's own shell is no instance: refused, its fd not kept
	sock=$(ls "$XDG_RUNTIME_DIR"/fdshare-run.*/notify)
	"$PY" -c 'import array, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendmsg([b"FDSTORE=1\nFDNAME=evil"],
          [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0]))], 0, sys.argv[1])' "$sock"
	wait_log "refused a notification from pid [0-9]+ uid 0: not CMD" || { abort_run; return 1; }
	kill -KILL "$a"
	wait_until has_started 2 || { WHY="not restarted"; abort_run; return 1; }
	b=$(started 2)
	wait_until test -e "$T/py/names.$b" || { WHY="no names from $b"; abort_run; return 1; }
	[ "$(cat "$T/py/names.$b")" = "sock:stored:q:dup" ] ||
		{ WHY="the next instance got '$(cat "$T/py/names.$b")'"; abort_run; return 1; }
	stop_run || return 1
	rm -rf "$T/py"
}

# A child of CMD is not CMD: refused.  systemd's systemd-notify, though,
# speaks for its parent (the pid it puts in SCM_CREDENTIALS, which root
# may): from CMD's shell it is CMD.
t_notify_from_child() {
	[ -n "$PY" ] || { WHY="no /usr/bin/python3"; return 77; }
	run_bg --ready --ready-timeout 2 -- sh -c '"$0" -c "import os, socket
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"READY=1\", os.environ[\"NOTIFY_SOCKET\"])"
exec sleep 100' "$PY"
	wait_log "refused a notification from pid [0-9]+ uid 0: not CMD" || { abort_run; return 1; }
	log_has "is ready" && { WHY="READY=1 from a child of CMD was taken"; abort_run; return 1; }
	stop_run || return 1
	command -v systemd-notify >/dev/null || { WHY="no systemd-notify (package systemd)"; return 77; }
	[ "$(id -u)" = 0 ] || { WHY="systemd-notify speaks for its parent only as root"; return 77; }
	run_bg --ready -- sh -c 'systemd-notify --ready; exec sleep 100'
	wait_log "pid [0-9]+ is ready" || { abort_run; return 1; }
	[ "$(started 1)" = "$(sed -n 's/.*pid \([0-9]*\) is ready/\1/p' "$T/rlog")" ] ||
		{ WHY="log: $(cat "$T/rlog")"; abort_run; return 1; }
	stop_run
}

# With --holder: a new supervisor finds the sockets and the fd store.
t_fdstore_holder() {
	have_sd || return 77
	start_holder || return $?
	local a b
	rm -rf "$T/sd" && mkdir "$T/sd"
	run_bg --holder --socket "$H" --ready tcp:127.0.0.1:0=web -- "$AUX/sd_fdstore" "$T/sd" x 2
	wait_log "pid [0-9]+ is ready" || { abort_run; stop "$HOLDER"; return 1; }
	a=$(started 1)
	stop_run || { stop "$HOLDER"; return 1; }
	"$FDSHARE" list --socket "$H" >"$T/list" 2>&1
	if ! grep -q "^fdstore.x .* 2 fds$" "$T/list" || ! grep -q "^web .* 1 fd$" "$T/list"; then
		WHY="the holder keeps: $(cat "$T/list")"
		stop "$HOLDER"
		return 1
	fi
	run_bg --holder --socket "$H" --ready tcp:127.0.0.1:0=web -- "$AUX/sd_fdstore" "$T/sd" x 2
	wait_log "pid [0-9]+ is ready" || { abort_run; stop "$HOLDER"; return 1; }
	b=$(started 1)
	[ "$(tr '\n' ';' <"$T/sd/report.$b")" = "n 3;name 0 web;name 1 x;got x x.0 by $a;name 2 x;got x x.1 by $a;" ] ||
		{ WHY="second supervisor's CMD: $(cat "$T/sd/report.$b")"; abort_run; stop "$HOLDER"; return 1; }
	stop_run || { stop "$HOLDER"; return 1; }
	stop "$HOLDER"
	rm -rf "$T/sd" "$T/list" "$H"
}

run_case usage_errors t_usage_errors
run_case operational_errors t_operational_errors
run_case environment t_environment
run_case restart_on_exit t_restart_on_exit
run_case backoff t_backoff
run_case sighup_ready t_sighup_ready
run_case ready_timeout t_ready_timeout
run_case new_dies_before_ready t_new_dies_before_ready
run_case sighup_at_once t_sighup_at_once
run_case stop_timeout t_stop_timeout
run_case fdstore_libsystemd t_fdstore_libsystemd
run_case fdstore_remove_and_max t_fdstore_remove_and_max
run_case fdstore_rules t_fdstore_rules
run_case notify_from_child t_notify_from_child
run_case fdstore_holder t_fdstore_holder
