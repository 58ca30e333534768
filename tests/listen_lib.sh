# Shared by tests/test_listen*.sh, tests/test_run*.sh and
# tests/test_holder_notify.sh, which source it (after tests/cli_lib.sh):
# helper programs, the holder, the servers of tests/aux/zd_server.c.
# Not a test itself: run on its own it does nothing.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	exit 0
fi

AUX=$(cd "$BUILD" && pwd)/tests/aux
PYDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/py" && pwd)
H=$T/holder.sock

have_sd() {
	[ -x "$AUX/sd_listen" ] && [ -x "$AUX/sd_sockets" ] && [ -x "$AUX/sd_fdstore" ] ||
		{ WHY="built without libsystemd-dev (no tests/aux/sd_*)"; return 1; }
}

# A zd_server made DIR/ready.PID (DIR default $T).
server_ready() {
	set -- "${1:-$T}"/ready.*
	[ -e "$1" ]
}

# count_files PATTERN: how many files match the glob PATTERN.
count_files() {
	local f n=0
	for f in $1; do
		[ -e "$f" ] && n=$((n + 1))
	done
	echo "$n"
}

# start_holder: a holder on $H, its pid in HOLDER; 77 when there is none.
start_holder() {
	"$FDSHARE" help holder >/dev/null 2>&1 || { WHY="no 'fdshare holder' in this build"; return 77; }
	rm -f "$T/hready"
	bg "$FDSHARE" holder --socket "$H" --ready-fd 3 3>"$T/hready" 2>"$T/herr"
	HOLDER=$BGPID
	wait_until test -s "$T/hready" || { WHY="holder not ready: $(cat "$T/herr")"; return 1; }
}
