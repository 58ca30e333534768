#!/bin/sh
# Runs every test program and script; prints "N passed, N failed[, N skipped]".
# Each prints PASS/FAIL/SKIP lines; one that dies without a FAIL line counts
# as a failure of its own.
BUILD=${BUILD:-build}
export BUILD
PER_TEST_TIMEOUT=${PER_TEST_TIMEOUT:-300}
out=$(mktemp)
trap 'rm -f "$out"' EXIT INT TERM
pass=0 fail=0 skip=0

run() {
	name=$1; shift
	timeout -k 5 "$PER_TEST_TIMEOUT" "$@" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out"); s=$(grep -c '^SKIP ' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited with status $rc"
		f=1
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] && run "$(basename "$t")" "$t"
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
