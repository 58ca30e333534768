#!/usr/bin/python3
"""protocol2man.py - fdshare-protocol(7) from docs/protocol.md.

usage: python3 docs/man/protocol2man.py [REPO] > docs/man/fdshare-protocol.7

docs/protocol.md is the one source of truth for the wire protocol; the
manual page is made from it by this script and never edited by hand.
tests/test_man.sh runs the script again and fails when the committed page
differs, so the two cannot drift apart.  The version comes from
include/fdshare.h.

It reads the Markdown docs/protocol.md is written in: headings, paragraphs,
'*' and '1.' lists (continued by indented lines, and by indented blocks
after a blank line), pipe tables (made tbl(1) tables), fenced code blocks
(also inside a list item), `code`, *emphasis* and **strong**.  Anything
else is an error, not a silent mistranslation.
"""
import os
import re
import sys

NAME = 'fdshare-protocol'
SECTION = '7'
SUMMARY = ('the fdshare wire protocol: framed messages with descriptors, '
           'fdshare send and recv, the holder')
SEE_ALSO = [('fdshare', '1'), ('fdshare-holder', '8'), ('libfdshare', '3'),
            ('fdshare_msg_send', '3'), ('fdshare_store', '3'), ('unix', '7'),
            ('sendmsg', '2')]


class Error(Exception):
    pass


# Inline text.
def escape(s):
    out = []
    for c in s:
        if c == '\\':
            out.append('\\e')
        elif c == '-':
            out.append('\\-')
        elif ord(c) > 126:
            out.append('\\[u%04X]' % ord(c))
        else:
            out.append(c)
    return ''.join(out)


def emphasis(s):
    s = re.sub(r'\*\*(\S(?:[^*]*\S)?)\*\*', '\x01B\\1\x01R', s)
    s = re.sub(r'\*(\S(?:[^*]*\S)?)\*', '\x01I\\1\x01R', s)
    if '*' in s or '[' in s and '](' in s:
        raise Error('unsupported inline markup in: %r' % s)
    return s


def inline(s):
    """Markdown inline text to roff: `code` bold, *x* italic, **x** bold."""
    parts = s.split('`')
    if len(parts) % 2 == 0:
        raise Error('unbalanced ` in: %r' % s)
    out = []
    for i, p in enumerate(parts):
        if i % 2:
            out.append('\\fB' + escape(p) + '\\fR')
        else:
            out.append(escape(emphasis(p)).replace('\x01', '\\f'))
    return ''.join(out)


def text_lines(s):
    """A paragraph's text as roff input lines (no line starts a request)."""
    s = inline(' '.join(s.split()))
    lines, line = [], ''
    for word in s.split(' '):
        if line and len(line) + 1 + len(word) > 72:
            lines.append(line)
            line = word
        else:
            line = line + ' ' + word if line else word
    lines.append(line)
    return ['\\&' + l if l[:1] in ('.', "'") else l for l in lines]


def code_lines(lines):
    return ['\\&' + escape(l) if l else '' for l in lines]


# Blocks.
BULLET = re.compile(r'^(\*|-) +')
NUMBER = re.compile(r'^(\d+)\. +')


def indent_of(line):
    return len(line) - len(line.lstrip(' '))


def starts_block(line):
    s = line.lstrip(' ')
    return (s.startswith('#') or s.startswith('```') or s.startswith('|') or
            BULLET.match(s) or NUMBER.match(s))


def parse(md):
    """A list of (kind, data, in_item) blocks."""
    lines, blocks, i, in_item = md.split('\n'), [], 0, False
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        ind = indent_of(line)
        nested = in_item and ind >= 2
        s = line[ind:]
        if ind and not nested:
            raise Error('line %d: indented text outside a list item' % (i + 1))
        if s.startswith('#'):
            level = len(s) - len(s.lstrip('#'))
            blocks.append(('h%d' % level, s[level:].strip(), False))
            in_item = False
            i += 1
        elif s.startswith('```'):
            j, body = i + 1, []
            while j < len(lines) and lines[j].strip() != '```':
                if lines[j].strip() and indent_of(lines[j]) < ind:
                    raise Error('line %d: code less indented than its fence' % (j + 1))
                body.append(lines[j][ind:])
                j += 1
            if j == len(lines):
                raise Error('line %d: unclosed code block' % (i + 1))
            blocks.append(('code', body, nested))
            in_item = nested
            i = j + 1
        elif s.startswith('|'):
            rows = []
            while i < len(lines) and lines[i].startswith('|'):
                rows.append(lines[i])
                i += 1
            blocks.append(('table', rows, False))
            in_item = False
        elif (BULLET.match(s) or NUMBER.match(s)) and not nested:
            m = BULLET.match(s) or NUMBER.match(s)
            tag = '\\(bu' if BULLET.match(s) else m.group(1) + '.'
            text, i = [s[m.end():]], i + 1
            while i < len(lines) and lines[i].strip() and indent_of(lines[i]) >= 2 \
                    and not starts_block(lines[i]):
                text.append(lines[i])
                i += 1
            blocks.append(('item', (tag, ' '.join(text)), False))
            in_item = True
        else:
            text = [s]
            i += 1
            while i < len(lines) and lines[i].strip() and not starts_block(lines[i]):
                text.append(lines[i])
                i += 1
            blocks.append(('para', ' '.join(text), nested))
            in_item = nested
    return blocks


TABLE_WIDTH = 70   # ens: an 80-column terminal less the page's indent
GAP = 3            # tbl's default column separation


def layout(width, word):
    """The width of each column to wrap (0: not wrapped).  The widest
    columns wrap until the rest fits, each wrapped column getting a share
    of what is left in proportion to its text: preferably 16 ens or its
    whole text, and never less than its longest word (a narrower text block
    cannot be filled: a troff warning)."""
    n, wrap, tries = len(width), [False] * len(width), []
    while True:
        fixed = sum(w for w, x in zip(width, wrap) if not x) + GAP * (n - 1)
        left, want = TABLE_WIDTH - fixed, sum(w for w, x in zip(width, wrap) if x)
        share = [left * width[k] // want if wrap[k] else None for k in range(n)]
        if left >= 0:
            tries.append(share)
        rest = [k for k in range(n) if not wrap[k]]
        if not rest:
            break
        wrap[max(rest, key=lambda k: width[k])] = True
    for least in (lambda k: min(width[k], max(word[k], 16)), lambda k: word[k]):
        for share in tries:
            if all(share[k] is None or share[k] >= least(k) for k in range(n)):
                return [w or 0 for w in share]
    raise Error('a table too wide for a terminal')


def table(rows):
    def cells(row):
        row = row.strip()
        if not (row.startswith('|') and row.endswith('|')):
            raise Error('table row without outer pipes: %r' % row)
        # a pipe inside `code` is text, not a column break
        out, cur, code = [], '', False
        for c in row[1:-1]:
            if c == '`':
                code = not code
            if c == '|' and not code:
                out.append(cur.strip())
                cur = ''
            else:
                cur += c
        out.append(cur.strip())
        return out

    head, rule, body = cells(rows[0]), cells(rows[1]), [cells(r) for r in rows[2:]]
    if not all(re.fullmatch(r':?-+:?', c) for c in rule) or \
            any(len(r) != len(head) for r in [rule] + body):
        raise Error('malformed table: %r' % rows[0])
    align = ['c' if c.startswith(':') and c.endswith(':') else
             'r' if c.endswith(':') else 'l' for c in rule]
    plain = [[re.sub(r'[`*]', '', c) for c in r] for r in [head] + body]
    width = [max(len(r[k]) for r in plain) for k in range(len(head))]
    word = [max(len(w) for r in plain for w in r[k].split() or ['']) for k in range(len(head))]
    wrap = layout(width, word)

    def cell(text, k, bold=False):
        t = inline(text) if text else '\\&'
        if bold:
            t = '\\fB' + t.replace('\\fR', '\\fB') + '\\fR'
        return 'T{\n' + t + '\nT}' if wrap[k] else t

    spec = ' '.join(a + ('w(%dn)' % wrap[k] if wrap[k] else '') for k, a in enumerate(align))
    # keep a table on one page: a text block cut by a page break is a warning
    out = ['.ne %d' % (len(body) + 4), '.na', '.TS', 'tab(\t);', spec + '.']
    out.append('\t'.join(cell(c, k, True) for k, c in enumerate(head)))
    out.append('_')
    for r in body:
        out.append('\t'.join(cell(c, k) for k, c in enumerate(r)))
    out.extend(['.TE', '.ad'])
    return out


def heading(text):
    return '"' + inline(text).replace('"', '\\(dq') + '"'


def render(blocks, version):
    out = ["'\\\" t",
           '.\\" Generated from docs/protocol.md by docs/man/protocol2man.py:',
           '.\\" do not edit; run: python3 docs/man/protocol2man.py > docs/man/%s.%s'
           % (NAME, SECTION),
           '.TH %s %s "2025" "fdshare %s" "fdshare"' % (NAME.upper(), SECTION, version),
           '.nh',  # no hyphens: they would break names and constants
           '.SH NAME', '%s \\- %s' % (escape(NAME), escape(SUMMARY))]
    if not blocks or blocks[0][0] != 'h1':
        raise Error('docs/protocol.md must start with its "# " title')
    out.append('.SH DESCRIPTION')
    for kind, data, nested in blocks[1:]:
        if kind == 'h1':
            raise Error('a second "# " title: %r' % data)
        elif kind == 'h2':
            out.append('.SH ' + heading(data))
        elif kind in ('h3', 'h4'):
            out.append('.SS ' + heading(data))
        elif kind == 'para':
            out.append('.IP "" 2' if nested else '.PP')
            out.extend(text_lines(data))
        elif kind == 'item':
            tag, text = data
            out.append('.IP %s %d' % (tag, 2 if tag == '\\(bu' else 4))
            out.extend(text_lines(text))
        elif kind == 'code':
            if nested:
                out.extend(['.IP "" 2', '.nf'] + code_lines(data) + ['.fi'])
            else:
                out.extend(['.PP', '.RS 2', '.nf'] + code_lines(data) + ['.fi', '.RE'])
        elif kind == 'table':
            out.extend(['.PP'] + table(data))
        else:
            raise Error('heading level not supported: %r' % data)
    out.append('.SH SEE ALSO')
    refs = ['.BR %s (%s)%s' % (escape(n), s, ',' if k + 1 < len(SEE_ALSO) else '')
            for k, (n, s) in enumerate(SEE_ALSO)]
    out.extend(refs)
    return '\n'.join(out) + '\n'


def version_of(repo):
    with open(os.path.join(repo, 'include', 'fdshare.h')) as f:
        m = re.search(r'#define FDSHARE_VERSION "([^"]+)"', f.read())
    if not m:
        raise Error('no FDSHARE_VERSION in include/fdshare.h')
    return m.group(1)


def main():
    repo = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
    try:
        with open(os.path.join(repo, 'docs', 'protocol.md')) as f:
            blocks = parse(f.read())
        sys.stdout.write(render(blocks, version_of(repo)))
    except Error as e:
        sys.exit('protocol2man: %s' % e)


if __name__ == '__main__':
    main()
