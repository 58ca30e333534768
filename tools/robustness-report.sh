#!/bin/bash
# Writes the figures of docs/robustness.md (between its "figures" markers)
# from the logs of the last `make fuzz-smoke` and a run of each fault
# program (tests/test_fault*.c); `make robustness-report` runs them first.
# With --check, only checks that the document names every fuzz harness
# (with a seed corpus), every fault test and every refusal test, as CI
# may do.
#
#   BUILD=build FUZZ_BUILD=build/fuzz tools/robustness-report.sh [--check]
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
FUZZ_BUILD=${FUZZ_BUILD:-$BUILD/fuzz}
DOC=docs/robustness.md
BEGIN='<!-- figures: begin'
END='<!-- figures: end -->'

harnesses() {
	for f in fuzz/fuzz_*.c; do
		[ -f "$f" ] && basename "$f" .c | sed 's/^fuzz_//'
	done
}

FAULT_PROGS="test_fault test_fault_holder"

# PROGRAM.CASE for each fault test.
fault_tests() {
	local p
	for p in $FAULT_PROGS; do
		sed -n "s/^TEST(\\([A-Za-z0-9_]*\\)).*/$p.\\1/p" "tests/$p.c"
	done
}

# The tests of refusing descriptors, named in the text.
refuse_tests() {
	ls tests/test_refuse*.c tests/test_refuse*.sh 2>/dev/null
}

check() {
	local bad=0 n fig
	if ! grep -q "^$BEGIN" "$DOC" || ! grep -q "^$END" "$DOC"; then
		echo "$DOC: no figures markers"
		return 1
	fi
	fig=$(sed -n "/^$BEGIN/,/^$END/p" "$DOC")
	for n in $(harnesses); do
		echo "$fig" | grep -q "^| \`$n\` |" || { echo "$DOC: no figures for fuzz harness $n"; bad=1; }
		[ -n "$(ls -A "fuzz/corpus/$n" 2>/dev/null)" ] ||
			{ echo "fuzz/corpus/$n: no seed inputs"; bad=1; }
	done
	for n in $(fault_tests); do
		echo "$fig" | grep -q "^| \`$n\` |" || { echo "$DOC: no figures for fault test $n"; bad=1; }
	done
	for n in $(refuse_tests) $(for p in $FAULT_PROGS; do echo "tests/$p.c"; done); do
		grep -q "$n" "$DOC" || { echo "$DOC: $n is not described"; bad=1; }
	done
	[ "$bad" -eq 0 ] && echo "$DOC: lists every harness, fault test and refusal test"
	return "$bad"
}

# stat VALUE LOG: a final statistic of libFuzzer's -print_final_stats.
stat() {
	sed -n "s/^stat::$1: *\\([0-9]*\\).*/\\1/p" "$2" | tail -n 1
}

fuzz_row() {
	local n=$1 log=$FUZZ_BUILD/logs/$1.log seeds result runs secs
	seeds=$(ls "fuzz/corpus/$n" 2>/dev/null | wc -l)
	if [ ! -f "$log" ]; then
		echo "| \`$n\` | $seeds | - | - | - | - | not run |"
		return
	fi
	runs=$(stat number_of_executed_units "$log")
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
	if grep -q '^==[0-9]*==ERROR\|deadly signal\|^SUMMARY: \|ERROR: libFuzzer' "$log" ||
	   [ -z "$runs" ]; then
		result=FAILED
	else
		result=passed
	fi
	echo "| \`$n\` | $seeds | ${runs:--} | ${secs:--} |" \
	     "$(stat average_exec_per_sec "$log") | $(stat new_units_added "$log") |" \
	     "$(stat peak_rss_mb "$log") | $result |"
}

figures() {
	local out n p line runs faults known result total_r=0 total_f=0 total_k=0
	out=$(mktemp) || exit 1
	for p in $FAULT_PROGS; do
		BUILD=$BUILD "$BUILD/tests/$p" >>"$out" 2>&1
	done
	echo "$BEGIN (written by \`make robustness-report\`; do not edit) -->"
	echo "Last run: $(date -u +%F) UTC, Linux $(uname -r), $($FUZZ_CC --version 2>/dev/null |
		sed -n '1s/.*\(clang version [0-9.]*\).*/\1/p'), each harness for" \
	     "${FUZZ_SECONDS:-?} s."
	echo
	echo "| harness | seed inputs | executions | seconds | exec/s | new inputs | peak RSS MB | result |"
	echo "|---|--:|--:|--:|--:|--:|--:|---|"
	for n in $(harnesses); do
		fuzz_row "$n"
	done
	echo
	echo "| fault test | runs | faults injected | known bugs tolerated | result |"
	echo "|---|--:|--:|--:|---|"
	for n in $(fault_tests); do
		line=$(grep "^# faults $n: " "$out")
		runs=$(echo "$line" | sed -n 's/.*: \([0-9]*\) runs.*/\1/p')
		faults=$(echo "$line" | sed -n 's/.* \([0-9]*\) faults.*/\1/p')
		known=$(echo "$line" | sed -n 's/.* \([0-9]*\) known bugs$/\1/p')
		result=$(grep -o "^\\(PASS\\|FAIL\\|SKIP\\) $n\\b.*" "$out" | head -n 1 |
			sed 's/ test_fault[a-z_]*\.[a-z_]*:\{0,1\}/ /; s/ *$//')
		total_r=$((total_r + ${runs:-0})) total_f=$((total_f + ${faults:-0}))
		total_k=$((total_k + ${known:-0}))
		echo "| \`$n\` | ${runs:--} | ${faults:--} | ${known:-0} | ${result:-not run} |"
	done
	echo "| total | $total_r | $total_f | $total_k | |"
	echo "$END"
	rm -f "$out"
}

write() {
	local fig new
	for p in $FAULT_PROGS; do
		[ -x "$BUILD/tests/$p" ] || { echo "no $BUILD/tests/$p: make it first"; exit 1; }
	done
	fig=$(mktemp) && new=$(mktemp) || exit 1
	figures >"$fig"
	awk -v fig="$fig" -v b="$BEGIN" -v e="$END" '
		index($0, b) == 1 { while ((getline l < fig) > 0) print l; skip = 1; next }
		index($0, e) == 1 { skip = 0; next }
		!skip' "$DOC" >"$new"
	cat "$new" >"$DOC"
	rm -f "$fig" "$new"
	sed -n "/^$BEGIN/,/^$END/p" "$DOC"
}

FUZZ_CC=${FUZZ_CC:-clang}
case ${1:-} in
--check) check ;;
"") write ;;
*) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
