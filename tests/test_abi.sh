#!/bin/bash
# The shared library exports exactly the versioned symbols listed in
# tests/abi.txt: an accidental export or removal fails here.  After a
# deliberate change to the API, regenerate the list with
#   nm -D --defined-only build/libfdshare.so | awk '$2 == "T" { print $3 }' | sort > tests/abi.txt
BUILD=${BUILD:-build}
T=test_abi.sh
lib=$BUILD/libfdshare.so
if ! command -v nm >/dev/null; then
	echo "SKIP $T.exported_symbols: nm (binutils) is not installed"
	exit 0
fi
# counted in the shell itself: a command substitution races with its own pipe
f=(/proc/$$/fd/*); before=${#f[@]}
got=$(nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sort)
if diff <(echo "$got") tests/abi.txt >/dev/null; then
	echo "PASS $T.exported_symbols"
else
	echo "FAIL $T.exported_symbols: $(diff <(echo "$got") tests/abi.txt | grep '^[<>]' | tr '\n' ' ')"
fi
unversioned=$(echo "$got" | grep -v '@@FDSHARE_' | tr '\n' ' ')
if [ -z "$unversioned" ]; then
	echo "PASS $T.every_symbol_versioned"
else
	echo "FAIL $T.every_symbol_versioned: $unversioned"
fi
others=$(echo "$got" | grep -v '^fdshare_' | tr '\n' ' ')
if [ -z "$others" ]; then
	echo "PASS $T.only_fdshare_names"
else
	echo "FAIL $T.only_fdshare_names: $others"
fi
f=(/proc/$$/fd/*)
[ "${#f[@]}" = "$before" ] || echo "FAIL $T.fd_count: $before fds before, ${#f[@]} after"
