# fdshare listen: every ADDR form, names, modes and errors, checked by
# libsystemd (tests/aux/sd_*) and Python, which we did not write.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/listen_lib.sh"

# usage ARGS...: 'fdshare listen ARGS' is a usage error: exit 2, one line.
usage() {
	run 2 "$FDSHARE" listen "$@" || return 1
	err_is "^fdshare: listen: .+ \(see 'fdshare listen --help'\)$" || { WHY="$* : $WHY"; return 1; }
}

t_usage_errors() {
	local long
	long=$(printf 'p%.0s' $(seq 110))
	usage || return 1
	usage tcp:127.0.0.1:0 || return 1
	usage tcp:127.0.0.1:0 -- || return 1
	err_is "missing '-- CMD'" || return 1
	usage -- true || return 1
	err_is "missing ADDR" || return 1
	for a in bogus:1 tcp tcp: tcp:127.0.0.1 tcp:localhost:80 tcp:127.0.0.1:65536 \
		tcp:127.0.0.1:-1 tcp:127.0.0.1:8x tcp:1.2.3:80 tcp:[::1]:80 tcp6:::1:80 \
		tcp6:[::1]80 "tcp6:[fe80::1%lo]:80" tcp6:[1.2.3.4]:80 udp:127.0.0.1 \
		unix: unix:@ unix-dgram: seqpacket: "unix:/$long" fd: fd:x fd:-1 \
		fd:99999999999 tcp:127.0.0.1:0= "tcp:127.0.0.1:0=a\\b" "tcp:127.0.0.1:0=a:b" \
		"tcp:127.0.0.1:0=$(printf 'n%.0s' $(seq 256))" "unix:$T/a\\b" \
		"unix:$T/$(printf '\001')"; do
		usage "$a" -- true || return 1
		err_is "^fdshare: listen: bad ADDR '.*': " || return 1
	done
	usage --backlog x tcp:127.0.0.1:0 -- true || return 1
	usage --backlog 65536 tcp:127.0.0.1:0 -- true || return 1
	usage --mode 999 unix:$T/m -- true || return 1
	usage --mode abc unix:$T/m -- true || return 1
	usage --mode -1 unix:$T/m -- true || return 1
	usage --frobnicate tcp:127.0.0.1:0 -- true || return 1
	usage --socket "$H" tcp:127.0.0.1:0 -- true || return 1
	err_is "goes with --holder" || return 1
	usage --holder "unix:$T/a b" -- true || return 1
	usage --holder tcp:127.0.0.1:0=x udp:127.0.0.1:0=x -- true || return 1
	err_is "NAME 'x' is given twice" || return 1
	[ ! -e "$T/m" ] || { WHY="a usage error made a socket"; return 1; }
}

# fail PATTERN ARGS...: 'fdshare listen ARGS' fails (exit 1) with the
# standard error line, matching PATTERN.
fail() {
	local pat=$1
	shift
	run 1 "$FDSHARE" listen "$@" || return 1
	err_is "^fdshare: listen: $pat" || return 1
}

t_operational_errors() {
	local port
	bg "$FDSHARE" listen tcp:127.0.0.1:0=web unix:$T/busy -- "$AUX/zd_server" "$T"
	wait_until server_ready || { WHY="no server"; stop "$BGPID"; return 1; }
	port=$(cat "$T"/ready.*)
	fail "cannot create unix:$T/busy: Address already in use \(a process is using PATH.*\)$" \
		unix:$T/busy -- true || return 1
	fail "cannot create tcp:127.0.0.1:$port: Address already in use \(.+\)$" \
		tcp:127.0.0.1:$port -- true || return 1
	stop "$BGPID"
	rm -f "$T"/ready.* "$T/busy"
	fail "cannot create tcp:192.0.2.1:80: Cannot assign requested address \(HOST is not an address of this machine\)$" \
		tcp:192.0.2.1:80 -- true || return 1
	fail "cannot create unix:$T/no/dir: No such file or directory \(.+\)$" \
		unix:$T/no/dir -- true || return 1
	: >"$T/file"
	fail "cannot create unix:$T/file: File exists \(PATH exists and is not a socket.*\)$" \
		unix:$T/file -- true || return 1
	rm -f "$T/file"
	fail "cannot use fd:9: Bad file descriptor \(fd:N must be open in this process.*\)$" \
		fd:9 -- true || return 1
	fail "cannot connect to the holder at $T/none.sock: No such file or directory \(.+\)$" \
		--holder --socket "$T/none.sock" tcp:127.0.0.1:0 -- true || return 1
	if command -v setpriv >/dev/null &&
		[ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null)" -gt 80 ] 2>/dev/null; then
		run 1 setpriv --reuid=1001 --regid=1001 --clear-groups \
			"$FDSHARE" listen tcp:127.0.0.1:80 -- true || return 1
		err_is "^fdshare: listen: cannot create tcp:127.0.0.1:80: Permission denied \(ports below 1024 need .+\)$" || return 1
	fi
}

# A socket made before a later ADDR fails is not left behind.
t_failure_cleanup() {
	fail "cannot create tcp:192.0.2.1:80: " unix:$T/first seqpacket:$T/second \
		tcp:192.0.2.1:80 -- true || return 1
	if [ -e "$T/first" ] || [ -e "$T/second" ]; then
		WHY="socket files left behind: $(ls "$T")"
		return 1
	fi
}

t_cmd_not_runnable() {
	run 127 "$FDSHARE" listen unix:$T/c -- "$T/no-such-program" || return 1
	err_is "^fdshare: listen: cannot run '$T/no-such-program': No such file or directory \(.+\)$" || return 1
	: >"$T/notexec"
	run 126 "$FDSHARE" listen unix:$T/c -- "$T/notexec" || return 1
	err_is "^fdshare: listen: cannot run '$T/notexec': Permission denied \(.+\)$" || return 1
	[ ! -e "$T/c" ] || { WHY="the socket file was left behind"; return 1; }
	rm -f "$T/notexec"
}

# libsystemd's sd_listen_fds_with_names: count, names, fd numbers, and an
# fd:N that is the caller's own file.
t_sd_listen() {
	have_sd || return 77
	local ino
	echo data >"$T/data"
	ino=$(stat -c '%d %i' "$T/data")
	run 0 "$FDSHARE" listen tcp:127.0.0.1:0=web unix:$T/u fd:5 udp:127.0.0.1:0 -- \
		"$AUX/sd_listen" "$T/rep" 5<"$T/data" || return 1
	local want="n 4
listen_pid_ok 1
name 0 web
name 1 unix-$T/u
name 2 fd-5
name 3 udp-127.0.0.1-0"
	if [ "$(head -6 "$T/rep")" != "$want" ] || [ "$(grep -c '^fd ' "$T/rep")" -ne 4 ] ||
		! grep -q "^fd 5 $ino 0\$" "$T/rep"; then
		WHY="libsystemd saw: $(tr '\n' ';' <"$T/rep")"
		return 1
	fi
	rm -f "$T/rep" "$T/data" "$T/u"
}

# lo has ::1: tcp6 and udp6 can be tested.
have_ipv6() {
	[ -n "$PY" ] && "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null
}

# Every ADDR form, as libsystemd's sd_is_socket*() sees it.
t_sd_address_forms() {
	have_sd || return 77
	local six= rep
	have_ipv6 && six="tcp6:[::1]:0=t6 udp6:[::1]:0=u6"
	run 0 "$FDSHARE" listen tcp:127.0.0.1:0=t udp:127.0.0.1:0=u unix:$T/s=s \
		unix-dgram:$T/d=d seqpacket:$T/p=p unix:@fdshare-test-$$=a $six -- \
		"$AUX/sd_sockets" "$T/rep" || return 1
	rep=$(tr '\n' ';' <"$T/rep")
	for want in "fd 3 t inet stream 1;at 3 127.0.0.1:[1-9][0-9]*;" \
		"fd 4 u inet dgram 0;at 4 127.0.0.1:[1-9][0-9]*;" \
		"fd 5 s unix stream 1;at 5 $T/s;" "fd 6 d unix dgram 0;at 6 $T/d;" \
		"fd 7 p unix seqpacket 1;at 7 $T/p;" "fd 8 a unix stream 1;at 8 @fdshare-test-$$;"; do
		echo "$rep" | grep -q "$want" || { WHY="no '$want' in: $rep"; return 1; }
	done
	rm -f "$T/rep" "$T/s" "$T/d" "$T/p"
	if [ -z "$six" ]; then
		WHY="IPv4 and Unix forms pass; no ::1 here for tcp6 and udp6"
		return 77
	fi
	for want in "fd 9 t6 inet6 stream 1;at 9 ::1:[1-9][0-9]*;" "fd 10 u6 inet6 dgram 0;at 10 ::1:"; do
		echo "$rep" | grep -q "$want" || { WHY="no '$want' in: $rep"; return 1; }
	done
}

# Default names: the ADDR with each ':' made '-'.
t_default_names() {
	run 0 "$FDSHARE" listen tcp:127.0.0.1:0 unix-dgram:$T/d seqpacket:@x$$ fd:0 -- \
		sh -c 'echo "$LISTEN_FDS $LISTEN_FDNAMES"' || return 1
	[ "$(cat "$T/out")" = "4 tcp-127.0.0.1-0:unix-dgram-$T/d:seqpacket-@x$$:fd-0" ] ||
		{ WHY="CMD saw '$(cat "$T/out")'"; return 1; }
	rm -f "$T/d"
}

# Run in place: LISTEN_PID is the pid 'fdshare listen' started as.
t_exec_in_place() {
	bg "$FDSHARE" listen tcp:127.0.0.1:0 -- sh -c 'echo "$$ $LISTEN_PID" >"$0.tmp"; mv "$0.tmp" "$0"' "$T/pids"
	wait_until test -s "$T/pids" || { WHY="CMD did not run"; return 1; }
	[ "$(cat "$T/pids")" = "$BGPID $BGPID" ] || { WHY="pid $BGPID, CMD saw '$(cat "$T/pids")'"; return 1; }
	reap "$BGPID"
	rm -f "$T/pids"
}

# Python's socket.socket(fileno=N) serves on what it was given.
t_python_server() {
	[ -n "$PY" ] || { WHY="no /usr/bin/python3"; return 77; }
	local tport uport line
	bg "$FDSHARE" listen tcp:127.0.0.1:0=web udp:127.0.0.1:0=dns unix:$T/py.sock=local -- \
		"$PY" "$PYDIR/activated_server.py" "$T/rep"
	wait_until test -s "$T/rep" || { WHY="no report from python"; stop "$BGPID"; return 1; }
	tport=$(sed -n 's/^web AF_INET SOCK_STREAM 127.0.0.1:\([0-9]*\)$/\1/p' "$T/rep")
	uport=$(sed -n 's/^dns AF_INET SOCK_DGRAM 127.0.0.1:\([0-9]*\)$/\1/p' "$T/rep")
	if [ -z "$tport" ] || [ -z "$uport" ] ||
		! grep -q "^local AF_UNIX SOCK_STREAM $T/py.sock\$" "$T/rep"; then
		WHY="python saw: $(tr '\n' ';' <"$T/rep")"
		stop "$BGPID"
		return 1
	fi
	exec 7<>/dev/tcp/127.0.0.1/$tport && echo hello-tcp >&7 && read -r -t 10 line <&7
	exec 7>&-
	[ "$line" = "py web hello-tcp" ] || { WHY="tcp answer '$line'"; stop "$BGPID"; return 1; }
	line=$("$PY" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(10)
s.sendto(b"hello-udp\n", ("127.0.0.1", int(sys.argv[1]))); print(s.recv(256).decode().strip())' "$uport")
	[ "$line" = "py dns hello-udp" ] || { WHY="udp answer '$line'"; stop "$BGPID"; return 1; }
	line=$("$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
s.sendall(b"hello-unix\n"); print(s.makefile().readline().strip())' "$T/py.sock")
	[ "$line" = "py local hello-unix" ] || { WHY="unix answer '$line'"; stop "$BGPID"; return 1; }
	reap "$BGPID" || { WHY="the python server did not finish"; stop "$BGPID"; return 1; }
	rm -f "$T/rep" "$T/py.sock"
}

t_mode() {
	local m
	run 0 "$FDSHARE" listen unix:$T/m1 unix-dgram:$T/m2 -- true || return 1
	m=$(stat -c '%a' "$T/m1" "$T/m2" | tr '\n' ' ')
	[ "$m" = "600 600 " ] || { WHY="default modes $m"; return 1; }
	rm -f "$T/m1" "$T/m2"
	(umask 077 && "$FDSHARE" listen --mode 0666 seqpacket:$T/m3 -- true) || return 1
	run 0 "$FDSHARE" listen --mode=640 unix:$T/m4 -- true || return 1
	m=$(stat -c '%a' "$T/m3" "$T/m4" | tr '\n' ' ')
	[ "$m" = "666 640 " ] || { WHY="--mode 0666 and 640 gave $m"; return 1; }
	rm -f "$T/m3" "$T/m4"
}

t_backlog() {
	command -v ss >/dev/null || { WHY="no ss (iproute2)"; return 77; }
	run 0 "$FDSHARE" listen --backlog 7 unix:$T/b -- ss -xlnH src "$T/b" || return 1
	out_has "^u_str +LISTEN +0 +7 +$T/b " || return 1
	local max
	max=$(cat /proc/sys/net/core/somaxconn)
	[ "$max" -lt 4096 ] || max=4096 # the default, as the kernel caps it
	run 0 "$FDSHARE" listen unix:$T/b -- ss -xlnH src "$T/b" || return 1
	out_has "^u_str +LISTEN +0 +$max +$T/b " || return 1
	rm -f "$T/b"
}

# A socket file nobody uses is replaced; a live one is not (operational_errors).
t_stale_replaced() {
	run 0 "$FDSHARE" listen unix:$T/st -- true || return 1
	[ -S "$T/st" ] || { WHY="no socket file"; return 1; }
	run 0 "$FDSHARE" listen unix:$T/st -- true || return 1
	rm -f "$T/st"
}

# The socket path is made by src/lib/sockpath.c, for every Unix kind: a
# symbolic link there is refused, itself and its target left as they are
# (a dangling one too: bind would create its target).
t_symlink_refused() {
	local k
	echo precious >"$T/target"
	for k in unix unix-dgram seqpacket; do
		ln -s "$T/target" "$T/link"
		fail "cannot create $k:$T/link: Too many levels of symbolic links \(PATH is a symbolic link.*\)$" \
			$k:$T/link -- true || return 1
		if [ ! -L "$T/link" ] || [ "$(cat "$T/target")" != precious ]; then
			WHY="$k: the link or its target changed"
			return 1
		fi
		rm -f "$T/link"
	done
	ln -s "$T/absent" "$T/link"
	fail "cannot create unix-dgram:$T/link: Too many levels of symbolic links" \
		unix-dgram:$T/link -- true || return 1
	[ ! -e "$T/absent" ] || { WHY="a socket was made at the link's target"; return 1; }
	rm -f "$T/link" "$T/target"
}

# A regular file at PATH is refused and not unlinked.
t_file_refused() {
	local k
	for k in unix unix-dgram seqpacket; do
		echo keep >"$T/file"
		fail "cannot create $k:$T/file: File exists \(PATH exists and is not a socket.*\)$" \
			$k:$T/file -- true || return 1
		[ "$(cat "$T/file" 2>/dev/null)" = keep ] || { WHY="$k: the file was changed or removed"; return 1; }
	done
	rm -f "$T/file"
}

# A directory others may write to is refused unless it is sticky.
t_open_dir_refused() {
	mkdir -m 0777 "$T/pub" && chmod 0777 "$T/pub" || return 1
	fail "cannot create unix:$T/pub/s: Operation not permitted \(the directory of PATH is another user's, or writable by others and not sticky.*\)$" \
		unix:$T/pub/s -- true || return 1
	[ ! -e "$T/pub/s" ] || { WHY="a socket was made"; return 1; }
	chmod 1777 "$T/pub" || return 1
	run 0 "$FDSHARE" listen unix-dgram:$T/pub/s -- true || return 1
	rm -rf "$T/pub"
}

# A datagram socket someone is bound to is in use, whatever the kind asked;
# once its owner is gone, it is stale and replaced.
t_live_dgram_refused() {
	bg "$FDSHARE" listen unix-dgram:$T/ld -- sleep 30
	wait_until test -S "$T/ld" || { WHY="no socket"; stop "$BGPID"; return 1; }
	fail "cannot create unix-dgram:$T/ld: Address already in use \(a process is using PATH.*\)$" \
		unix-dgram:$T/ld -- true || { stop "$BGPID"; return 1; }
	fail "cannot create unix:$T/ld: Address already in use" unix:$T/ld -- true ||
		{ stop "$BGPID"; return 1; }
	stop "$BGPID"
	run 0 "$FDSHARE" listen unix-dgram:$T/ld -- true || return 1
	[ -S "$T/ld" ] || { WHY="the stale socket was not replaced"; return 1; }
	rm -f "$T/ld"
}

# --holder: made and stored once, then the same socket fetched again; a
# NAME held for something else is refused.
t_holder() {
	have_sd || return 77
	start_holder || return $?
	local first second
	run 0 "$FDSHARE" listen --holder --socket "$H" tcp:127.0.0.1:0=web unix:$T/hs -- \
		"$AUX/sd_sockets" "$T/rep" || { stop "$HOLDER"; return 1; }
	first=$(grep '^at ' "$T/rep")
	run 0 "$FDSHARE" listen --holder --socket "$H" tcp:127.0.0.1:0=web unix:$T/hs -- \
		"$AUX/sd_sockets" "$T/rep" || { stop "$HOLDER"; return 1; }
	second=$(grep '^at ' "$T/rep")
	if [ "$first" != "$second" ] || [ "$(echo "$first" | wc -l)" -ne 2 ]; then
		WHY="first '$first', then '$second'"
		stop "$HOLDER"
		return 1
	fi
	fail "the holder's 'web' is a stream socket \(IPv4\) bound to '127.0.0.1:[0-9]+', not udp:127.0.0.1:0=web: File exists \(remove it with 'fdshare remove web', or give another NAME\)$" \
		--holder --socket "$H" udp:127.0.0.1:0=web -- true || { stop "$HOLDER"; return 1; }
	"$FDSHARE" store --socket "$H" --append "unix-$T/hs" 0 </dev/null
	fail "the holder keeps 2 descriptors under 'unix-$T/hs', not one socket: File exists \(remove them with 'fdshare remove unix-$T/hs', or give another NAME\)$" \
		--holder --socket "$H" unix:$T/hs -- true || { stop "$HOLDER"; return 1; }
	stop "$HOLDER"
	rm -f "$T/rep" "$T/hs" "$H"
}

run_case usage_errors t_usage_errors
run_case operational_errors t_operational_errors
run_case failure_cleanup t_failure_cleanup
run_case cmd_not_runnable t_cmd_not_runnable
run_case sd_listen t_sd_listen
run_case sd_address_forms t_sd_address_forms
run_case default_names t_default_names
run_case exec_in_place t_exec_in_place
run_case python_server t_python_server
run_case mode t_mode
run_case backlog t_backlog
run_case stale_replaced t_stale_replaced
run_case symlink_refused t_symlink_refused
run_case file_refused t_file_refused
run_case open_dir_refused t_open_dir_refused
run_case live_dgram_refused t_live_dgram_refused
run_case holder t_holder
