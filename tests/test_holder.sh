# fdshare holder, store, fetch, list and remove from the command line.
. "$(dirname "$0")/cli_lib.sh"

S=$T/h.sock
SETPRIV="setpriv --reuid=1001 --regid=1001 --clear-groups"

# holder_bg ARGS...: a holder on $S in the background, ready (its
# --ready-fd newline seen); HPID is its pid, its exit status goes to
# $T/hrc, its stderr to $T/hlog.
holder_bg() {
	rm -f "$T/ready" "$T/hrc" "$T/hpid"
	( "$FDSHARE" holder --socket "$S" --ready-fd 5 "$@" 5>"$T/ready" 2>>"$T/hlog" </dev/null &
	  echo $! >"$T/hpid"; wait $!; echo $? >"$T/hrc" ) 2>/dev/null &
	BGPIDS+=("$!")
	disown "$!"
	wait_until test -s "$T/hpid" || { WHY="no holder pid"; return 1; }
	HPID=$(cat "$T/hpid")
	BGPIDS+=("$HPID")
	wait_until test -s "$T/ready" ||
		{ WHY="the holder is not ready: $(tail -3 "$T/hlog")"; return 1; }
}

# holder_exit: the holder's exit status once it has ended (5 s at most).
holder_exit() {
	wait_until test -s "$T/hrc" || { WHY="the holder did not exit"; return 1; }
	HRC=$(cat "$T/hrc")
}

holder_term() {
	kill -TERM "$HPID"
	holder_exit || return 1
	[ "$HRC" = 0 ] || { WHY="SIGTERM: exit $HRC, not 0"; return 1; }
}

h() {
	"$FDSHARE" "$1" --socket "$S" "${@:2}"
}

t_round_trip() {
	echo "kept data" >"$T/data"
	holder_bg || return 1
	h store web 3 3<"$T/data" || { WHY="store failed"; return 1; }
	run 0 h list || return 1
	out_has '^web  owner 0  age [0-9.]+s  ttl -  1 fd$' || return 1
	out_has "^  [0-9]+ +file .*$T/data\$" || return 1
	run 0 h fetch web -- sh -c 'echo "$LISTEN_FDS $LISTEN_FDNAMES"; cat <&3' || return 1
	[ "$(cat "$T/out")" = "$(printf '1 web\nkept data')" ] ||
		{ WHY="CMD printed '$(cat "$T/out")'"; return 1; }
	h store db 0 <"$T/data" || { WHY="store db failed"; return 1; }
	run 0 h fetch --remove web db -- sh -c 'echo "$LISTEN_FDS $LISTEN_FDNAMES"' || return 1
	[ "$(cat "$T/out")" = "2 web:db" ] || { WHY="fetch of two: '$(cat "$T/out")'"; return 1; }
	run 0 h list || return 1
	[ ! -s "$T/out" ] || { WHY="still listed: $(cat "$T/out")"; return 1; }
	run 1 h remove web || return 1
	err_is "^fdshare: remove: cannot remove 'web': No such file or directory \(.+\)$" || return 1
	run 1 h fetch web -- true || return 1
	holder_term
}

# grab PID FD --store NAME: a descriptor taken from a process that does not
# cooperate, kept in the holder, fetched back as the same open file.
t_grab_store() {
	echo "held by sleep" >"$T/gdata"
	holder_bg || return 1
	bg sleep 30 7<"$T/gdata" # stdin of a background job is /dev/null
	local sp=$BGPID
	run 0 "$FDSHARE" grab "$sp" 7 --store grabbed --socket "$S" || return 1
	run 0 h fetch --remove grabbed -- sh -c 'cat <&3' || return 1
	[ "$(cat "$T/out")" = "held by sleep" ] || { WHY="fetched '$(cat "$T/out")'"; return 1; }
	run 2 "$FDSHARE" grab "$sp" 7 --store 'a:b' --socket "$S" || return 1
	run 2 "$FDSHARE" grab "$sp" 7 --store x -- true || return 1
	run 2 "$FDSHARE" grab "$sp" 7 --store || return 1
	run 1 "$FDSHARE" grab "$sp" 7 --store x --socket "$T/nobody.sock" || return 1
	err_is "^fdshare: grab: cannot connect to the holder at .*: No such file or directory \(.+\)$" || return 1
	holder_term
}

t_names_refused() {
	local long
	long=$(printf 'a%.0s' $(seq 256))
	holder_bg || return 1
	run 2 h store 'a:b' || return 1
	err_is "^fdshare: store: NAME 'a:b' has a ':'" || return 1
	run 2 h store 'a b' || return 1
	run 2 h store '' || return 1
	run 2 h store "$long" || return 1
	err_is "256 bytes, the most is 255" || return 1
	run 2 h fetch 'x y' -- true || return 1
	run 0 h store "${long:1}" || return 1
	holder_term
}

t_store_options() {
	holder_bg || return 1
	run 0 h store --ttl 600 t || return 1
	run 0 h list || return 1
	out_has '^t  owner 0  age [0-9.]+s  ttl [0-9]{3}\.[0-9]s  1 fd$' || return 1
	run 1 h store t || return 1
	err_is 'Device or resource busy' || return 1
	run 0 h store --replace t || return 1
	run 0 h store --append t || return 1
	run 0 h fetch t -- sh -c 'echo "$LISTEN_FDS $LISTEN_FDNAMES"' || return 1
	[ "$(cat "$T/out")" = "2 t:t" ] || { WHY="after append: '$(cat "$T/out")'"; return 1; }
	run 2 h store --replace --append t || return 1
	run 1 h store --drop-on-hangup f 3 3<"$T/data" || return 1
	err_is 'Invalid argument' || return 1
	run 2 h store --ttl -1 x || return 1
	run 1 h store x 9 || return 1    # fd 9 is not open
	holder_term
}

t_acl_setpriv() {
	printf 'uid=1001 fetch,list web\n' >"$T/rules"
	holder_bg --mode 0666 || return 1
	h store web 0 </dev/null || { WHY="store failed"; return 1; }
	run 1 $SETPRIV "$FDSHARE" fetch --socket "$S" web -- true || return 1
	err_is 'Permission denied' || return 1
	run 1 $SETPRIV "$FDSHARE" remove --socket "$S" web || return 1
	run 0 $SETPRIV "$FDSHARE" list --socket "$S" || return 1
	[ ! -s "$T/out" ] || { WHY="uid 1001 sees '$(cat "$T/out")'"; return 1; }
	run 0 $SETPRIV "$FDSHARE" store --socket "$S" mine || return 1
	run 0 h list mine || return 1
	out_has '^mine  owner 1001 ' || return 1
	holder_term || return 1
	# The same with a rules file: 1001 may fetch and list web, not remove it.
	holder_bg --mode 0666 --rules "$T/rules" || return 1
	h store web 0 </dev/null || { WHY="store failed"; return 1; }
	run 0 $SETPRIV "$FDSHARE" fetch --socket "$S" web -- true || return 1
	run 1 $SETPRIV "$FDSHARE" remove --socket "$S" web || return 1
	run 0 $SETPRIV "$FDSHARE" list --socket "$S" || return 1
	out_has '^web  owner 0 ' || return 1
	holder_term
}

t_list_json() {
	[ -n "$PY" ] || { WHY="no python3 at /usr/bin/python3"; return 77; }
	holder_bg || return 1
	h store --ttl 100 a 3 3<"$T/data" || { WHY="store failed"; return 1; }
	h store b 0 </dev/null || { WHY="store failed"; return 1; }
	run 0 h list --json || return 1
	"$PY" - "$T/out" "$T/data" >"$T/py" 2>&1 <<'EOF' || { WHY="json: $(cat "$T/py")"; return 1; }
import json, sys
v = sorted(json.load(open(sys.argv[1])), key=lambda e: e["name"])
assert [e["name"] for e in v] == ["a", "b"], v
assert v[0]["left_ms"] is not None and 0 < v[0]["left_ms"] <= 100000, v[0]
assert v[1]["left_ms"] is None and v[1]["owner"] == 0, v[1]
assert v[0]["fds"][0]["path"] == sys.argv[2], v[0]
assert v[1]["fds"][0]["path"] == "/dev/null", v[1]
EOF
	holder_term
}

t_notify_ready() {
	[ -n "$PY" ] || { WHY="no python3 at /usr/bin/python3"; return 77; }
	rm -f "$T/notify" "$T/nmsg"
	bg "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(10)
open(sys.argv[2], "w").write(s.recv(4096).decode())
' "$T/notify" "$T/nmsg"
	wait_until test -S "$T/notify" || { WHY="no notify socket"; return 1; }
	NOTIFY_SOCKET=$T/notify holder_bg || return 1
	wait_until test -s "$T/nmsg" || { WHY="no READY=1"; return 1; }
	[ "$(cat "$T/nmsg")" = "READY=1" ] || { WHY="notify got '$(cat "$T/nmsg")'"; return 1; }
	holder_term
}

t_stale_and_live() {
	holder_bg || return 1
	kill -KILL "$HPID"
	holder_exit || return 1
	[ -S "$S" ] || { WHY="no stale socket left to test with"; return 1; }
	holder_bg || return 1          # replaces the stale socket
	run 0 h list || return 1
	run 1 "$FDSHARE" holder --socket "$S" || return 1
	grep -q "holder\[[0-9]*\]: $S: a holder already answers there" "$T/err" ||
		{ WHY="a second holder said '$(cat "$T/err")'"; kill "$HPID"; return 1; }
	run 0 h list || return 1       # the first one still serves
	holder_term || return 1
	[ ! -e "$S" ] || { WHY="$S left after SIGTERM"; return 1; }
}

t_takeover() {
	local old
	holder_bg || return 1
	old=$HPID
	h store kept 3 3<"$T/data" || { WHY="store failed"; return 1; }
	holder_bg --takeover || return 1
	wait_until gone "$old" || { WHY="the old holder is still running"; return 1; }
	run 0 h fetch kept -- cat /dev/fd/3 || return 1
	[ "$(cat "$T/out")" = "kept data" ] || { WHY="after takeover: '$(cat "$T/out")'"; return 1; }
	holder_term
}

t_usage() {
	run 2 "$FDSHARE" holder --max-fds x || return 1
	run 2 "$FDSHARE" holder --mode 999 || return 1
	run 2 "$FDSHARE" fetch web || return 1
	err_is "missing '-- CMD'" || return 1
	run 0 "$FDSHARE" holder --help || return 1
	out_has '^usage: fdshare holder' || return 1
	run 1 "$FDSHARE" list --socket "$T/nothing.sock" || return 1
	err_is "^fdshare: list: cannot connect to the holder at $T/nothing.sock: " || return 1
}

echo "kept data" >"$T/data"
run_case round_trip t_round_trip
run_case grab_store t_grab_store
run_case names_refused t_names_refused
run_case store_options t_store_options
run_case acl_setpriv t_acl_setpriv
run_case list_json t_list_json
run_case notify_ready t_notify_ready
run_case stale_and_live t_stale_and_live
run_case takeover t_takeover
run_case usage t_usage
