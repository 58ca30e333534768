# Every command shown in README.md runs, so that the README cannot go
# stale.  Its fenced code blocks:
#   ```sh   run as a bash script (set -e) in a scratch copy of the source
#           tree (symbolic links, with build/ pointing at $BUILD), with
#           $FDSHARE_SOCKET and $TMPDIR inside the scratch directory, as
#           a session of its own: it must exit 0 and leave no process.
#           `make X` runs `make X BUILD=$BUILD` in the repository, except
#           `make check`: this test is itself part of `make check`, which
#           must not run itself again (it prints that it was skipped).
#   ```c    a complete program: compiled against $BUILD/libfdshare.a with
#           -Wall -Wextra -Werror, then run: it must exit 0.
#   ```text output, never run.
# Any other fence is an error.  HTML comments on the lines just before a
# block (invisible on GitHub) add conditions:
#   <!-- needs: TOOL... -->  SKIP the block where TOOL is not installed;
#   <!-- expect: TEXT -->    its output must contain TEXT.
. "$(dirname "$0")/cli_lib.sh"

CC=${CC:-cc}
REPO=$(pwd)
BUILD_ABS=$(cd "$BUILD" && pwd)
san=()
[ "${SANITIZE:-}" = 1 ] && san=(-fsanitize=address,undefined)

# The blocks, as files $T/blocks/LINE.LANG, with LINE-needs and
# LINE-expect (one TEXT a line) from the comments before them.
mkdir "$T/blocks"
awk -v dir="$T/blocks" '
	function flush() { needs = ""; nexp = 0 }
	!inb && /^<!-- needs: .* -->$/ {
		s = $0; sub(/^<!-- needs: /, "", s); sub(/ -->$/, "", s); needs = needs " " s; next }
	!inb && /^<!-- expect: .* -->$/ {
		s = $0; sub(/^<!-- expect: /, "", s); sub(/ -->$/, "", s); want[++nexp] = s; next }
	!inb && /^```/ {
		lang = substr($0, 4); line = NR; inb = 1
		file = dir "/" line "." (lang == "" ? "none" : lang)
		printf "" > file
		printf "%s\n", needs > (dir "/" line "-needs")
		printf "" > (dir "/" line "-expect")
		for (i = 1; i <= nexp; i++) print want[i] > (dir "/" line "-expect")
		flush(); next }
	inb && /^```$/ { inb = 0; close(file); next }
	inb { print > file; next }
	{ flush() }
	END { if (inb) print "unclosed block at line " line > (dir "/error") }
' README.md

# The scratch tree: the repository's top level, build/ being $BUILD.
ROOT=$T/root
mkdir "$ROOT" "$T/tmp"
for f in "$REPO"/* "$REPO"/.[!.]*; do
	[ -e "$f" ] && [ "${f##*/}" != build ] && ln -s "$f" "$ROOT/${f##*/}"
done
ln -s "$BUILD_ABS" "$ROOT/build"

cat >"$T/prelude.sh" <<'SH'
make() {
	case " $* " in
	*" check "*)
		echo "(make check: not run again from within make check)"
		return 0 ;;
	esac
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$README_REPO" \
		BUILD="$README_BUILD" SANITIZE="$SANITIZE" CC="$CC" "$@"
}
set -e
. "$1"
SH

# missing LINE: the tools of LINE-needs that are not installed.
missing() {
	local t m=
	for t in $(cat "$T/blocks/$1-needs"); do
		command -v "$t" >/dev/null || m="$m $t"
	done
	echo $m
}

# expected LINE: the output ($T/out) holds every TEXT of LINE-expect.
expected() {
	local text
	while IFS= read -r text; do
		[ -n "$text" ] || continue
		grep -qF -- "$text" "$T/out" ||
			{ WHY="no '$text' in the output: $(tail -c 500 "$T/out")"; return 1; }
	done <"$T/blocks/$1-expect"
}

# living SID: the processes of session SID but its zombies (a block may
# kill a job and end without reaping it: init does).
living() {
	ps -s "$1" -o pid=,stat= 2>/dev/null | awk '$2 !~ /^Z/ { print $1 }'
}

run_sh() {
	local line=$1 sid left i
	README_REPO=$REPO README_BUILD=$BUILD_ABS FDSHARE_SOCKET=$ROOT/holder.sock \
	TMPDIR=$T/tmp SANITIZE=${SANITIZE:-} CC=$CC \
		setsid -w timeout -k 5 120 bash -c 'cd "$0" && exec bash "$1" "$2"' \
		"$ROOT" "$T/prelude.sh" "$T/blocks/$line.sh" >"$T/out" 2>&1 </dev/null &
	sid=$!
	wait "$sid"
	RC=$?
	# A process killed at the block's end may still be exiting (under
	# ASan its leak check takes a while): give it 5 s to be gone.
	left=$(living "$sid")
	for ((i = 0; i < 50 && ${#left} > 0; i++)); do
		sleep 0.1
		left=$(living "$sid")
	done
	if [ -n "$left" ]; then
		kill -KILL $left 2>/dev/null
		WHY="left processes running: $(ps -o pid=,args= -p "${left//$'\n'/,}" | head -3)"
		return 1
	fi
	[ "$RC" -eq 0 ] || { WHY="exit status $RC: $(tail -c 600 "$T/out")"; return 1; }
}

run_c() {
	local line=$1
	cp "$T/blocks/$line.c" "$T/readme.c"
	$CC "${san[@]}" -Wall -Wextra -Werror -I"$REPO/include" -o "$T/readme" "$T/readme.c" \
		"$BUILD_ABS/libfdshare.a" >"$T/out" 2>&1 ||
		{ WHY="does not compile: $(head -c 600 "$T/out")"; return 1; }
	(cd "$T/tmp" && timeout -k 5 60 "$T/readme") >"$T/out" 2>&1 </dev/null ||
		{ WHY="exit status $?: $(tail -c 600 "$T/out")"; return 1; }
}

t_block() {
	local m
	m=$(missing "$LINE")
	if [ -n "$m" ]; then
		WHY="needs $m, not installed"
		return 77
	fi
	case $LANG_ in
	sh) run_sh "$LINE" ;;
	c) run_c "$LINE" ;;
	*) WHY="a \`\`\`$LANG_ block: only sh, c and text are allowed"; false ;;
	esac || return 1
	expected "$LINE"
}

t_parse() {
	[ ! -f "$T/blocks/error" ] || { WHY=$(cat "$T/blocks/error"); return 1; }
	[ -n "$(ls "$T/blocks"/*.sh 2>/dev/null)" ] && [ -n "$(ls "$T/blocks"/*.c 2>/dev/null)" ] ||
		{ WHY="no sh or no c block found"; return 1; }
}
run_case blocks_found t_parse

# The two set-up commands come first.
t_setup_first() {
	local first
	first=$(ls "$T/blocks" | grep -E '^[0-9]+\.[a-z]+$' | sort -n | head -n 1)
	[ "${first#*.}" = sh ] && grep -q '^make demo' "$T/blocks/$first" &&
		grep -q '^make check' "$T/blocks/$first" ||
		{ WHY="the first block is not the 'make demo' / 'make check' one"; return 1; }
}
run_case setup_commands_first t_setup_first

for f in $(ls "$T/blocks" | grep -E '^[0-9]+\.[a-z]+$' | sort -n); do
	LINE=${f%%.*}
	LANG_=${f#*.}
	[ "$LANG_" = text ] && continue
	run_case "block_line_${LINE}_$LANG_" t_block
done
