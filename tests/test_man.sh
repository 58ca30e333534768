# The manual pages: each renders without a warning, every public function
# of include/fdshare.h has a page or a .so alias naming it, every page's
# NAME and title match its file, the generated fdshare-protocol(7) is up to
# date with docs/protocol.md, and the complete program in libfdshare(3)'s
# EXAMPLES compiles against the library and runs.
. "$(dirname "$0")/cli_lib.sh"

CC=${CC:-cc}
PAGES=$(ls docs/*.[1-8] docs/man/*.[1-8] 2>/dev/null)
VERSION=$(sed -n 's/^#define FDSHARE_VERSION "\(.*\)"$/\1/p' include/fdshare.h)
HAVE_MAN=$(command -v man >/dev/null && man --version 2>/dev/null | grep -q '^man ' && echo 1)
san=()
[ "${SANITIZE:-}" = 1 ] && san=(-fsanitize=address,undefined)

is_alias() { head -n 1 "$1" | grep -q '^\.so '; }

# The installed layout, man1/ ... man8/, where .so aliases resolve.
TREE=$T/man
for p in $PAGES; do
	mkdir -p "$TREE/man${p##*.}"
	cp "$p" "$TREE/man${p##*.}/"
done

# The names a page's NAME section gives, one a line.
names_of() {
	if command -v lexgrog >/dev/null; then
		lexgrog "$1" 2>/dev/null | sed -n 's/^[^:]*: "\(.*\) - .*"$/\1/p'
	else
		sed -n '/^\.SH NAME/,/^\.SH/p' "$1" | sed -n '2s/ \\- .*//p' |
			tr ',' '\n' | sed 's/^ *//; s/\\-/-/g'
	fi
}

# render PAGE: groff -ww and man --warnings, at 80 columns, say nothing.
render() {
	local p=$1 warn
	warn=$(cd "$TREE" && groff -t -man -ww -z "man${p##*.}/${p##*/}" 2>&1)
	[ -z "$warn" ] || { WHY="groff -ww: $warn"; return 1; }
	[ -n "$HAVE_MAN" ] || return 0
	warn=$(cd "$TREE" && MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "man${p##*.}/${p##*/}" 2>&1 >/dev/null)
	[ -z "$warn" ] || { WHY="man --warnings: $warn"; return 1; }
}

# title PAGE: .TH NAME SECTION with the file's name and section, and the
# version of include/fdshare.h; NAME lists the page's own name.
title() {
	local p=$1 base sec th
	base=${p##*/}
	sec=${base##*.}
	base=${base%.*}
	th=$(grep -m 1 '^\.TH ' "$p")
	case $th in
	".TH ${base^^} $sec "*) ;;
	*) WHY="'$th' is not '.TH ${base^^} $sec ...'"; return 1 ;;
	esac
	case $th in
	*"\"fdshare $VERSION\""*) ;;
	*) WHY="'$th' does not say \"fdshare $VERSION\" (include/fdshare.h)"; return 1 ;;
	esac
	names_of "$p" | grep -qxF -- "$base" ||
		{ WHY="NAME gives '$(names_of "$p" | tr '\n' ' ')', not $base"; return 1; }
}

for p in $PAGES; do
	is_alias "$p" && continue
	t_page() { render "$P" && title "$P"; }
	P=$p
	run_case "page.${p##*/}" t_page
done

# Every alias names a page that exists, whose NAME lists the alias, and
# man finds and renders it through the installed layout.
t_aliases() {
	local p target n=0
	for p in docs/man/*.[1-8]; do
		is_alias "$p" || continue
		n=$((n + 1))
		target=$(sed -n '1s/^\.so //p' "$p")
		[ -f "$TREE/$target" ] || { WHY="${p##*/}: no page $target"; return 1; }
		names_of "$TREE/$target" | grep -qxF -- "$(basename "$p" | sed 's/\.[1-8]$//')" ||
			{ WHY="${p##*/}: $target's NAME does not list it"; return 1; }
		[ "$(sed -n '$=' "$p")" = 1 ] || { WHY="${p##*/}: more than the .so line"; return 1; }
		if [ -n "$HAVE_MAN" ]; then
			# man -w follows the .so to the page it names
			[ "$(man -M "$TREE" -w "${p##*.}" "$(basename "$p" ".${p##*.}")" 2>/dev/null)" = \
			  "$TREE/$target" ] || { WHY="man -M $TREE does not find ${p##*/}"; return 1; }
		fi
		render "$p" || { WHY="${p##*/}: $WHY"; return 1; }
	done
	[ "$n" -gt 0 ] || { WHY="no alias pages"; return 1; }
}
run_case aliases t_aliases

# The public functions, from the preprocessed header (no comments).
functions() {
	echo '#include <fdshare.h>' | $CC -E -P -Iinclude -D_GNU_SOURCE -x c - |
		grep -oE '\bfdshare_[a-z0-9_]+ *\(' | sed 's/ *($//' | sort -u
}

t_every_function() {
	local f missing= fns
	fns=$(functions)
	[ "$(echo "$fns" | wc -l)" -ge 30 ] || { WHY="found only: $fns"; return 1; }
	for f in $fns; do
		[ -f "docs/man/$f.3" ] || missing="$missing $f"
	done
	[ -z "$missing" ] || { WHY="no page or .so alias for:$missing"; return 1; }
}
run_case every_function_has_a_page t_every_function

# No page for a function that does not exist (a renamed or removed one).
t_no_stale_page() {
	local p f fns stale=
	fns=$(functions)
	for p in docs/man/fdshare_*.3; do
		f=$(basename "$p" .3)
		echo "$fns" | grep -qxF "$f" || stale="$stale $f"
	done
	[ -z "$stale" ] || { WHY="pages for functions not in include/fdshare.h:$stale"; return 1; }
}
run_case no_page_without_a_function t_no_stale_page

# Every reference to one of our pages (fdshare..., libfdshare) leads to one.
t_references() {
	local ref bad=
	for ref in $(cat $PAGES | grep -ohE '^\.BR (lib)?fdshare[a-z_\\-]* \([1-8]\)' |
	             sed 's/^\.BR //; s/\\-/-/g; s/ (\(.\))/.\1/' | sort -u); do
		[ -f "$TREE/man${ref##*.}/$ref" ] || bad="$bad $ref"
	done
	[ -z "$bad" ] || { WHY="references to missing pages:$bad"; return 1; }
}
run_case see_also_pages_exist t_references

# fdshare-protocol(7) is generated from docs/protocol.md, its one source.
t_protocol_page() {
	if [ -z "$PY" ]; then
		WHY="needs /usr/bin/python3 to regenerate the page"
		return 77
	fi
	"$PY" docs/man/protocol2man.py >"$T/protocol.7" 2>"$T/err" ||
		{ WHY="protocol2man.py failed: $(cat "$T/err")"; return 1; }
	diff -q "$T/protocol.7" docs/man/fdshare-protocol.7 >/dev/null ||
		{ WHY="docs/man/fdshare-protocol.7 is stale: run 'python3 docs/man/protocol2man.py > docs/man/fdshare-protocol.7'"; return 1; }
	# and the numbers of the wire format are in it as they are in the source
	grep -q '0x48534446' "$T/protocol.7" && grep -q 'ESHUTDOWN' "$T/protocol.7" ||
		{ WHY="the page lacks the protocol's constants"; return 1; }
}
run_case protocol_page_up_to_date t_protocol_page

# Each EXAMPLES block marked '.\" test: compile and run' is a complete
# program: compiled against the library and run, exit status 0.
t_examples_compile() {
	local p n=0
	for p in docs/man/*.3; do
		is_alias "$p" && continue
		awk '/^\.\\" test: compile and run/ { on = 1; next }
		     on && /^\.EX/ { inex = 1; next }
		     inex && /^\.EE/ { exit }
		     inex { print }' "$p" |
			sed -e 's/\\-/-/g' -e 's/\\e/\\/g' -e 's/\\&//g' -e 's/\\(dq/"/g' >"$T/ex.c"
		[ -s "$T/ex.c" ] || continue
		n=$((n + 1))
		$CC "${san[@]}" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude \
			-o "$T/ex" "$T/ex.c" "$BUILD/libfdshare.a" 2>"$T/err" ||
			{ WHY="${p##*/}: does not compile: $(head -5 "$T/err")"; return 1; }
		"$T/ex" >"$T/out" 2>&1 || { WHY="${p##*/}: the example failed: $(cat "$T/out")"; return 1; }
		# libfdshare(3)'s shows one offset for both descriptors
		[ "${p##*/}" != libfdshare.3 ] || grep -q 'offset 3$' "$T/out" ||
			{ WHY="libfdshare.3's example printed: $(cat "$T/out")"; return 1; }
	done
	[ "$n" -gt 0 ] || { WHY="no example marked for testing"; return 1; }
}
run_case man_examples_compile t_examples_compile
