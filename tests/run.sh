#!/bin/sh
# Runs every test program and script; prints "N passed, N failed[, N skipped]".
# Each prints PASS/FAIL/SKIP lines; one that dies without a FAIL line counts
# as a failure of its own.
#
# VALGRIND=1: the C test programs run under valgrind memcheck (forked
# children too; programs they exec run natively); shell tests run as
# usual.  See docs/robustness.md.
BUILD=${BUILD:-build}
export BUILD
PER_TEST_TIMEOUT=${PER_TEST_TIMEOUT:-300}
out=$(mktemp)
trap 'rm -f "$out"' EXIT INT TERM
pass=0 fail=0 skip=0

# --- VALGRIND=1 ---------------------------------------------------------
# Memory errors anywhere (forked children included: their exit status
# becomes 97) fail the program.  Leaks and descriptors left open at exit
# are judged in the test process only: a forked test child leaves by _exit
# holding whatever it had.  Logs stay in $BUILD/valgrind/.  A program that
# fails runs again one case at a time: a failed case that used a system
# call valgrind does not implement is a SKIP, as are these (pattern, why):
VG_EXEMPT='
test_pass.eintr_storm_*        a signal storm starves valgrind
test_pass.rlimit_truncation_*  valgrind emulates RLIMIT_NOFILE: nothing truncates
test_spawn.spawn_enoent        a failed execve does not return under valgrind
test_spawn.spawn_eacces        a failed execve does not return under valgrind
test_spawn.spawn_enoexec       a failed execve does not return under valgrind
test_holder_hostile.fds_in_flight_count_against_max_fds  valgrind emulates RLIMIT_NOFILE: the holder started never gets the limit
'

vg_init() {
	if ! command -v valgrind >/dev/null; then
		echo "FAIL run.sh: VALGRIND=1 but valgrind is not installed"
		exit 1
	fi
	if [ "${SANITIZE:-0}" = 1 ]; then
		echo "FAIL run.sh: VALGRIND=1 needs a build without SANITIZE=1"
		exit 1
	fi
	PER_TEST_TIMEOUT=$((PER_TEST_TIMEOUT * 3))
	vglogs=$BUILD/valgrind
	rm -rf "$vglogs" && mkdir -p "$vglogs" || exit 1
}

vg_exempt() {
	echo "$VG_EXEMPT" | while read -r pat why; do
		case $1 in $pat) [ -n "$pat" ] && echo "$why" && break ;; esac
	done
}

# Fds open at exit in the log that were not inherited.
vg_fds() {
	awk '/== Open .* [0-9]+:/ { sub(/:.*/, ""); fd = $NF; next }
	     fd != "" { if ($0 !~ /<inherited from parent>/) printf " %s", fd; fd = "" }' "$1"
}

vg_judge() {
	main=$2/$(cat "$2/main.pid").log
	for log in "$2"/*.log; do
		n=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -n 1)
		[ "${n:-0}" -gt 0 ] && echo "FAIL $1: valgrind: $n errors (see $log)"
	done
	[ -f "$main" ] || { echo "FAIL $1: valgrind: no log"; return; }
	grep -q 'are \(definitely\|possibly\) lost' "$main" &&
		echo "FAIL $1: valgrind: memory leaked (see $main)"
	fds=$(vg_fds "$main")
	[ -n "$fds" ] && echo "FAIL $1: valgrind: fds open at exit:$fds (see $main)"
}

# vg_one NAME PROGRAM [CASE]: output in $out, status in $rc.
vg_one() {
	logs=$vglogs/$1; shift
	mkdir -p "$logs"
	timeout -k 5 "$PER_TEST_TIMEOUT" sh -c 'echo $$ >"$0"; exec "$@"' "$logs/main.pid" \
		valgrind --log-file="$logs/%p.log" --error-exitcode=97 \
		--leak-check=full --errors-for-leak-kinds=none \
		--show-leak-kinds=definite,possible --track-fds=yes "$@" >"$out" 2>&1
	rc=$?
	vg_judge "$(basename "$logs")" "$logs" >>"$out"
}

vg_unhandled() {
	sed -n 's/.*WARNING: unhandled .* syscall: \([0-9]*\).*/\1/p' "$vglogs/$1"/*.log |
		sort -u | tr '\n' ' ' | sed 's/ $//'
}

vg_case() {
	why=$(vg_exempt "$1.$3")
	if [ -n "$why" ]; then
		echo "SKIP $1.$3: under valgrind: $why"
		skip=$((skip + 1))
		return
	fi
	name=$1.$3
	vg_one "$name" "$2" "$3"
	sys=$(vg_unhandled "$name")
	if [ -n "$sys" ] && grep -q '^FAIL ' "$out"; then
		echo "SKIP $name: under valgrind: it lacks system call(s) $sys"
		skip=$((skip + 1))
		return
	fi
	cat "$out"
	count
}

vg_run() {
	prog=$(basename "$1")
	if ! echo "$VG_EXEMPT" | grep -q "^$prog\\."; then
		name=$prog
		vg_one "$prog" "$1"
		if [ "$rc" -eq 0 ] && ! grep -q '^FAIL ' "$out"; then
			cat "$out"
			count
			return
		fi
	fi
	# one case at a time (t.c runs the case named by its argument)
	for c in $(sed -n 's/^TEST(\([A-Za-z0-9_]*\)).*/\1/p' "tests/$prog.c"); do
		vg_case "$prog" "$1" "$c"
	done
}
[ "${VALGRIND:-0}" = 1 ] && vg_init
# -------------------------------------------------------------------------

count() {
	p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out"); s=$(grep -c '^SKIP ' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited with status $rc"
		f=1
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

run() {
	name=$1; shift
	timeout -k 5 "$PER_TEST_TIMEOUT" "$@" >"$out" 2>&1
	rc=$?
	cat "$out"
	count
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	if [ "${VALGRIND:-0}" = 1 ]; then
		vg_run "$t"
	else
		run "$(basename "$t")" "$t"
	fi
done
for t in tests/test_*.sh; do
	[ -f "$t" ] && run "$(basename "$t")" bash "$t"
done

if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
