# The socket paths of fdshare holder and fdshare recv (src/lib/sockpath.c):
# a symlink, a directory writable by others, a file that is not a socket
# are refused and left as they are; a stale socket is replaced; the socket
# has exactly the mode asked; the holder's default directory is private.
. "$(dirname "$0")/cli_lib.sh"

S=$T/s.sock
UMASK=022

# Run with umask $UMASK: the same process (sh execs the command).
WITH_UMASK='umask "$0"; exec "$@"'

# A background holder on "$@" (its --socket among them), ready: HPID.
holder_bg() {
	rm -f "$T/ready"
	bg sh -c "$WITH_UMASK" "$UMASK" "$FDSHARE" holder --ready-fd 5 "$@" 5>"$T/ready" 2>"$T/hlog" </dev/null
	HPID=$BGPID
	wait_until test -s "$T/ready" || { WHY="the holder is not ready: $(tail -2 "$T/hlog")"; return 1; }
}

# holder_term: SIGTERM, and the holder gone with its socket.
holder_term() {
	kill -TERM "$HPID"
	reap "$HPID" || { WHY="the holder did not exit"; return 1; }
}

# A background recv on $1 (then its options), listening: RPID.
recv_bg() {
	local path=$1
	shift
	bg sh -c "$WITH_UMASK" "$UMASK" "$FDSHARE" recv --timeout 20 "$@" "$path" -- true >/dev/null 2>"$T/rerr" </dev/null
	RPID=$BGPID
	wait_until listening "$RPID" "$path" ||
		{ WHY="recv is not listening: $(cat "$T/rerr")"; return 1; }
}

# listening PID PATH: process PID listens on PATH (a stale file is not enough).
listening() {
	"$FDSHARE" ls "$1" 2>/dev/null | grep -q " unix stream $2 LISTEN\$"
}

# refused CMD PATTERN: CMD on $S exits 1 with one standard error line.
refused() {
	local cmd=$1
	if [ "$cmd" = recv ]; then
		run 1 "$FDSHARE" recv --timeout 5 "$S" -- true || return 1
	else
		run 1 "$FDSHARE" holder --socket "$S" "${@:3}" || return 1
	fi
	err_is "^fdshare: $cmd: cannot create $S: $2$" || return 1
}

mode_of() {
	stat -c '%a %g' "$1"
}

t_symlink_refused() {
	local cmd
	echo "precious" >"$T/target"
	ln -s "$T/target" "$S"
	for cmd in recv holder; do
		refused $cmd "Too many levels of symbolic links \(.*symbolic link.*\)" || return 1
	done
	refused holder "Too many levels of symbolic links \(.+\)" --takeover || return 1
	[ -L "$S" ] && [ "$(readlink "$S")" = "$T/target" ] || { WHY="the symlink was changed"; return 1; }
	[ -f "$T/target" ] && [ "$(cat "$T/target")" = precious ] ||
		{ WHY="the symlink's target was changed"; return 1; }
	# Dangling, or to a directory: the same.
	rm -f "$S"
	ln -s "$T/nonexistent" "$S"
	refused recv "Too many levels of symbolic links \(.+\)" || return 1
	[ ! -e "$T/nonexistent" ] || { WHY="created through a dangling symlink"; return 1; }
	rm -f "$S"
	mkdir "$T/d"
	ln -s "$T/d" "$S"
	refused holder "Too many levels of symbolic links \(.+\)" || return 1
	[ -z "$(ls -A "$T/d")" ] || { WHY="created in the symlinked directory"; return 1; }
	rm -rf "$S" "$T/d" "$T/target"
}

t_world_writable_dir_refused() {
	local cmd save=$S
	mkdir "$T/ww"
	chmod 0777 "$T/ww"
	S=$T/ww/s.sock
	for cmd in recv holder; do
		refused $cmd "Operation not permitted \(.*writable by others.*\)" || { S=$save; return 1; }
	done
	[ -z "$(ls -A "$T/ww")" ] || { WHY="left in the directory: $(ls -A "$T/ww")"; S=$save; return 1; }
	# Sticky (as /tmp): others cannot remove or rename our socket there.
	chmod 1777 "$T/ww"
	recv_bg "$S" || { S=$save; return 1; }
	stop "$RPID"
	holder_bg --socket "$S" || { S=$save; return 1; }  # replaces what recv left
	holder_term || { S=$save; return 1; }
	S=$save
	rm -rf "$T/ww"
}

t_regular_file_kept() {
	local cmd
	echo "not a socket" >"$S"
	for cmd in recv holder; do
		refused $cmd "File exists \(.*not a socket.*\)" || return 1
	done
	refused holder "File exists \(.+\)" --takeover || return 1
	[ -f "$S" ] && [ "$(cat "$S")" = "not a socket" ] || { WHY="the file was changed"; return 1; }
	rm -f "$S"
	mkfifo "$S"
	refused recv "File exists \(.+\)" || return 1
	[ -p "$S" ] || { WHY="the fifo was removed"; return 1; }
	rm -f "$S"
}

# A socket nobody listens on, left by a recv killed with SIGKILL: replaced
# by the next recv, then by a holder, and by recv again.
t_stale_replaced() {
	recv_bg "$S" || return 1
	stop "$RPID"
	[ -S "$S" ] || { WHY="no stale socket to test with"; return 1; }
	holder_bg --socket "$S" || return 1
	run 0 "$FDSHARE" list --socket "$S" || return 1
	# A live holder is not replaced.
	refused recv "Address already in use \(.*listening.*\)" || return 1
	stop "$HPID"
	[ -S "$S" ] || { WHY="no stale socket left by the holder"; return 1; }
	recv_bg "$S" || return 1
	echo x | "$FDSHARE" send "$S" 0=x 2>"$T/err" || { WHY="send: $(cat "$T/err")"; return 1; }
	reap "$RPID" || { WHY="recv did not finish"; return 1; }
	[ ! -e "$S" ] || { WHY="recv left $S"; return 1; }
}

# The mode asked, exactly, whatever the umask: never looser, never tighter.
t_modes_exact() {
	local got args mask g
	g=$(id -g)
	for UMASK in 000 077; do
		recv_bg "$S" || return 1
		got=$(mode_of "$S")
		stop "$RPID"
		[ "$got" = "600 $g" ] || { WHY="recv, umask $UMASK: $got"; return 1; }
		recv_bg "$S" --any-user || return 1
		got=$(mode_of "$S")
		stop "$RPID"
		[ "$got" = "666 $g" ] || { WHY="recv --any-user, umask $UMASK: $got"; return 1; }
		for args in ":600 $g" "--mode 0666:666 $g" "--group 4321:660 4321" \
		            "--group 4321 --mode 0640:640 4321" "--mode 0:0 $g"; do
			holder_bg --socket "$S" ${args%%:*} || return 1
			got=$(mode_of "$S")
			holder_term || return 1
			[ "$got" = "${args#*:}" ] ||
				{ WHY="holder ${args%%:*}, umask $UMASK: '$got', not '${args#*:}'"; return 1; }
			[ ! -e "$S" ] || { WHY="the holder left $S"; return 1; }
		done
	done
	UMASK=022
	rm -f "$S"
	[ -z "$(ls -A "$T" | grep -v '^\(out\|err\|rerr\|hlog\|ready\)$')" ] ||
		{ WHY="left behind: $(ls -A "$T")"; return 1; }
}

# The default socket's directory ($XDG_RUNTIME_DIR/fdshare): made private,
# and refused when it is not.
t_default_dir() {
	local x=$T/xdg d got
	d=$x/fdshare
	mkdir -m 700 "$x"
	XDG_RUNTIME_DIR=$x FDSHARE_SOCKET= holder_bg || return 1
	got=$(stat -c '%a %u' "$d")
	[ "$got" = "700 $(id -u)" ] || { WHY="made $d as '$got'"; holder_term; return 1; }
	[ "$(stat -c %a "$d/holder.sock")" = 600 ] || { WHY="socket mode"; holder_term; return 1; }
	holder_term || return 1
	rmdir "$d"
	# A socket for all: others may search the directory, not list it.
	XDG_RUNTIME_DIR=$x FDSHARE_SOCKET= holder_bg --mode 0666 || return 1
	got=$(stat -c %a "$d")
	holder_term || return 1
	[ "$got" = 711 ] || { WHY="--mode 0666 made $d $got"; return 1; }
	chmod 0777 "$d"
	XDG_RUNTIME_DIR=$x FDSHARE_SOCKET= run 1 "$FDSHARE" holder || return 1
	err_is "^fdshare: holder: cannot use the directory $d: Operation not permitted \(.+\)$" ||
		return 1
	chmod 0700 "$d"
	chown 1001 "$d"
	XDG_RUNTIME_DIR=$x FDSHARE_SOCKET= run 1 "$FDSHARE" holder || return 1
	err_is "^fdshare: holder: cannot use the directory $d: Operation not permitted \(.+\)$" ||
		return 1
	rmdir "$d"
	mkdir -m 700 "$T/elsewhere"
	ln -s "$T/elsewhere" "$d"
	XDG_RUNTIME_DIR=$x FDSHARE_SOCKET= run 1 "$FDSHARE" holder || return 1
	err_is "^fdshare: holder: cannot use the directory $d: Too many levels of symbolic links \(.+\)$" ||
		return 1
	[ -z "$(ls -A "$T/elsewhere")" ] || { WHY="made a socket through the symlink"; return 1; }
	rm -rf "$x" "$T/elsewhere"
}

run_case symlink_refused t_symlink_refused
run_case world_writable_dir_refused t_world_writable_dir_refused
run_case regular_file_kept t_regular_file_kept
run_case stale_replaced t_stale_replaced
run_case modes_exact t_modes_exact
run_case default_dir t_default_dir
