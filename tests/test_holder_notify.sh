# fdshare holder --notify-socket, with a program written against libsystemd
# (tests/aux/sd_fdstore: sd_pid_notify_with_fds, sd_notify), which we did
# not write the sending side of; the protocol's corners byte by byte are in
# tests/test_holder_notify.c.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/listen_lib.sh"

N=$T/notify.sock

# nholder ARGS...: a holder on $H with --notify-socket $N -v, ready: HOLDER.
nholder() {
	rm -f "$T/hready"
	bg "$FDSHARE" holder --socket "$H" --notify-socket "$N" -v --ready-fd 3 "$@" \
		3>"$T/hready" 2>>"$T/herr" </dev/null
	HOLDER=$BGPID
	wait_until test -s "$T/hready" || { WHY="holder not ready: $(tail -3 "$T/herr")"; return 1; }
}

# sd_store DIR NAME COUNT [MODE]: sd_fdstore as this user (its pid: SDPID),
# until the holder has logged its READY=1 (sent after everything else); in
# mode exit, until it has exited too.
sd_store() {
	NOTIFY_SOCKET=$N "$AUX/sd_fdstore" "$@" </dev/null &
	SDPID=$!
	if ! wait_until grep -q "notify pid $SDPID uid [0-9]*: READY=1" "$T/herr"; then
		WHY="the holder did not log READY=1 from $SDPID: $(tail -3 "$T/herr")"
		kill -KILL "$SDPID" 2>/dev/null
		wait "$SDPID"
		return 1
	fi
	[ "${4:-wait}" != exit ] || wait "$SDPID" || { WHY="sd_fdstore $* failed"; return 1; }
}

# The fds libsystemd stored are fetched back: the same open files (the
# offset where sd_fdstore's write left it), with what it wrote in them.
t_sd_store_fetch() {
	have_sd || return 77
	nholder || return 1
	sd_store "$T" web 2 exit || { stop "$HOLDER"; return 1; }
	grep -q '^stored 2$' "$T/report.$SDPID" || { WHY="sd_fdstore: $(cat "$T/report.$SDPID")"; stop "$HOLDER"; return 1; }
	local len=${#SDPID}
	len=$((len + 9)) # "web.0 by PID"
	run 0 "$FDSHARE" fetch --socket "$H" web -- sh -c \
		'for f in 3 4; do grep "^pos:" /proc/self/fdinfo/$f; cat /proc/self/fd/$f; echo; done' ||
		{ stop "$HOLDER"; return 1; }
	local want="pos:	$len
web.0 by $SDPID
pos:	$len
web.1 by $SDPID"
	[ "$(cat "$T/out")" = "$want" ] || { WHY="fetched: $(tr '\n' ';' <"$T/out")"; stop "$HOLDER"; return 1; }
	run 0 "$FDSHARE" list --socket "$H" || { stop "$HOLDER"; return 1; }
	out_has "^web  owner $(id -u)  .*  2 fds  drop-on-hangup$" || { stop "$HOLDER"; return 1; }
	# Once more under the same name: added to it, as systemd does.
	sd_store "$T" web 1 exit || { stop "$HOLDER"; return 1; }
	run 0 "$FDSHARE" list --socket "$H" || { stop "$HOLDER"; return 1; }
	out_has "^web  owner .*  3 fds  drop-on-hangup$" || { stop "$HOLDER"; return 1; }
	stop "$HOLDER"
	rm -f "$T"/report.* "$N" "$H"
}

# FDSTOREREMOVE=1 from libsystemd's sd_notify.
t_sd_remove() {
	have_sd || return 77
	nholder || return 1
	sd_store "$T" gone 2 remove || { stop "$HOLDER"; return 1; }
	kill -TERM "$SDPID"
	wait "$SDPID" || { WHY="sd_fdstore failed"; stop "$HOLDER"; return 1; }
	grep -q '^stored 2$' "$T/report.$SDPID" || { WHY="nothing stored"; stop "$HOLDER"; return 1; }
	run 1 "$FDSHARE" fetch --socket "$H" gone -- true || { stop "$HOLDER"; return 1; }
	err_is "No such file or directory" || { stop "$HOLDER"; return 1; }
	grep -q "FDSTOREREMOVE=1 'gone': ok" "$T/herr" || { WHY="not logged"; stop "$HOLDER"; return 1; }
	stop "$HOLDER"
	rm -f "$T"/report.* "$N" "$H"
}

# Another uid's fds are its own (uid from SCM_CREDENTIALS); root sees them.
t_sd_other_uid() {
	have_sd || return 77
	command -v setpriv >/dev/null || { WHY="no setpriv (util-linux)"; return 77; }
	nholder --mode 0666 || return 1
	mkdir -m 0777 "$T/u" && chmod 0777 "$T/u"
	NOTIFY_SOCKET=$N setpriv --reuid=1001 --regid=1001 --clear-groups \
		"$AUX/sd_fdstore" "$T/u" mine 1 exit </dev/null &
	SDPID=$!
	wait "$SDPID" || { WHY="sd_fdstore as uid 1001 failed"; stop "$HOLDER"; return 1; }
	wait_until grep -q "notify pid $SDPID uid 1001: READY=1" "$T/herr" ||
		{ WHY="no READY=1 from uid 1001: $(tail -3 "$T/herr")"; stop "$HOLDER"; return 1; }
	run 0 "$FDSHARE" list --socket "$H" || { stop "$HOLDER"; return 1; }
	out_has "^mine  owner 1001  .*  1 fd  drop-on-hangup$" || { stop "$HOLDER"; return 1; }
	run 0 "$FDSHARE" fetch --socket "$H" mine -- cat /proc/self/fd/3 || { stop "$HOLDER"; return 1; }
	[ "$(cat "$T/out")" = "mine.0 by $SDPID" ] || { WHY="fetched '$(cat "$T/out")'"; stop "$HOLDER"; return 1; }
	# uid 1002 may not fetch it (only the owner and root)
	run 1 setpriv --reuid=1002 --regid=1002 --clear-groups \
		"$FDSHARE" fetch --socket "$H" mine -- true || { stop "$HOLDER"; return 1; }
	err_is "Permission denied" || { stop "$HOLDER"; return 1; }
	stop "$HOLDER"
	rm -rf "$T/u" "$N" "$H"
}

# The notify socket is made as --socket is: a symlink or a file there is
# refused and left alone; the path must be a path, not --socket's.
t_path_refused() {
	echo precious >"$T/target"
	ln -s "$T/target" "$N"
	run 1 "$FDSHARE" holder --socket "$H" --notify-socket "$N" || return 1
	err_is "^fdshare: holder: cannot create $N: Too many levels of symbolic links \(.*symbolic link.*\)$" ||
		return 1
	[ -L "$N" ] && [ "$(cat "$T/target")" = precious ] || { WHY="the link or its target changed"; return 1; }
	[ ! -e "$H" ] || { WHY="the holder's socket was made"; return 1; }
	rm -f "$N" "$T/target"
	echo keep >"$N"
	run 1 "$FDSHARE" holder --socket "$H" --notify-socket "$N" || return 1
	err_is "^fdshare: holder: cannot create $N: File exists \(.*not a socket.*\)$" || return 1
	[ "$(cat "$N")" = keep ] || { WHY="the file was changed"; return 1; }
	rm -f "$N"
	run 2 "$FDSHARE" holder --socket "$H" --notify-socket "$H" || return 1
	err_is "the same path" || return 1
	run 2 "$FDSHARE" holder --socket "$H" --notify-socket @abstract || return 1
	err_is "wants a path" || return 1
	# A live holder's notify socket is in use.
	nholder || return 1
	run 1 "$FDSHARE" holder --socket "$T/other.sock" --notify-socket "$N" || { stop "$HOLDER"; return 1; }
	err_is "^fdshare: holder: cannot create $N: Address already in use \(.+\)$" || { stop "$HOLDER"; return 1; }
	stop "$HOLDER"
	[ -S "$N" ] || { WHY="no stale socket left"; return 1; }
	nholder || return 1 # the stale one replaced
	kill -TERM "$HOLDER"
	reap "$HOLDER" || { WHY="the holder did not exit"; return 1; }
	[ ! -e "$N" ] && [ ! -e "$H" ] || { WHY="sockets left: $(ls "$T")"; return 1; }
}

# --takeover: the new holder takes the notify path over with the entries.
t_takeover() {
	have_sd || return 77
	local old
	nholder || return 1
	old=$HOLDER
	sd_store "$T" kept 1 exit || { stop "$old"; return 1; }
	nholder --takeover || { stop "$old"; return 1; }
	reap "$old" || { WHY="the old holder did not exit"; stop "$old"; stop "$HOLDER"; return 1; }
	[ -S "$N" ] || { WHY="the old holder removed the notify socket"; stop "$HOLDER"; return 1; }
	sd_store "$T" kept 1 exit || { stop "$HOLDER"; return 1; }
	grep -q "notify pid $SDPID uid [0-9]*: FDSTORE=1 'kept': 1 fd kept" "$T/herr" ||
		{ WHY="not stored in the new holder"; stop "$HOLDER"; return 1; }
	run 0 "$FDSHARE" list --socket "$H" || { stop "$HOLDER"; return 1; }
	out_has "^kept  owner .*  2 fds  drop-on-hangup$" || { stop "$HOLDER"; return 1; }
	stop "$HOLDER"
	rm -f "$T"/report.* "$N" "$H"
}

run_case sd_store_fetch t_sd_store_fetch
run_case sd_remove t_sd_remove
run_case sd_other_uid t_sd_other_uid
run_case path_refused t_path_refused
run_case takeover t_takeover
