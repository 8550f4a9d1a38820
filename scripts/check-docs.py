#!/usr/bin/env python3
"""Checks the links of every Markdown file of the repository: no dead file, no dead anchor.

    python3 scripts/check-docs.py            # every *.md file of the repository; exit 1 on a problem
    python3 scripts/check-docs.py FILE.md …  # only these files (links into others still resolve)

For each relative link — `[text](path)`, `![alt](path)`, `[label]: path`, and the `href` or
`src` of an HTML `<a>` or `<img>` — the file or folder it names must exist inside the
repository, and its `#anchor`, on this file or on another Markdown file, must be a heading
there (or an HTML `id`/`name`). Anchors follow GitHub's rules: the heading's text as rendered
(backticks, emphasis and link syntax gone), lower-cased, every character that is not a
letter, a mark, a digit, `_`, `-` or a space dropped, each space turned into `-`; the second
heading with the same slug gets `-1`, the third `-2`, and so on. A link may start with `/`
(from the repository's root, as GitHub reads it).

Not checked: links with a scheme (`http:`, `https:`, `mailto:` …), anchors into files that are
not Markdown (`file.rs#L10`), and anything inside fenced code blocks or inline code. Indented
code blocks are read as text.

Each problem is printed as `file:line: message`. Only the standard library is used.
"""
import html
import os
import re
import sys
import unicodedata
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Folders never searched for Markdown: build output, version control, installed packages.
SKIP_DIRS = {".git", "target", "node_modules", "__pycache__", "abforge-data", "venv", ".venv",
             ".tox", ".mypy_cache", ".pytest_cache"}

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
HTML_ID = re.compile(r"""<[a-zA-Z][^>]*?\s(?:id|name)\s*=\s*["']([^"']+)["']""")
HTML_LINK = re.compile(r"""<(?:a|img)\s[^>]*?(?:href|src)\s*=\s*["']([^"']*)["']""", re.I)
# `](dest)` or `](dest "title")`; dest is <…> or has balanced parentheses, no spaces.
INLINE_LINK = re.compile(
    r"""\]\(\s*(<[^<>\n]*>|(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))*)"""
    r"""(?:\s+(?:"[^"\n]*"|'[^'\n]*'|\([^()\n]*\)))?\s*\)""")
REF_DEF = re.compile(r"^ {0,3}\[(?:[^\]\\]|\\.)+\]:[ \t]*(<[^<>\n]*>|\S+)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def markdown_files(root=ROOT):
    """Every *.md file under root, outside build output, version control and venvs."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS
                             and not os.path.exists(os.path.join(dirpath, d, "pyvenv.cfg")))
        found.extend(os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".md"))
    return found


def blank_fences(lines):
    """The lines with fenced code blocks (their fences too) replaced by empty lines."""
    out, fence = [], None
    for line in lines:
        m = FENCE.match(line)
        if fence is None:
            if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
                fence = m.group(1)
                out.append("")
            else:
                out.append(line)
        else:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not m.group(2).strip():
                fence = None
            out.append("")
    return out


def blank_code_spans(text):
    """The text with every inline code span, backticks included, replaced by spaces (newlines
    kept). A span does not cross a blank line; an unmatched run of backticks stays as it is."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text[i] != "`":
            j = text.find("`", i)
            j = n if j < 0 else j
            out.append(text[i:j])
            i = j
            continue
        j = i
        while j < n and text[j] == "`":
            j += 1
        run = j - i
        k, end = j, -1
        while True:
            k = text.find("`" * run, k)
            if k < 0:
                break
            if (k + run < n and text[k + run] == "`") or text[k - 1] == "`":
                k2 = k
                while k2 < n and text[k2] == "`":
                    k2 += 1
                k = k2
                continue
            end = k
            break
        if end >= 0 and not re.search(r"\n[ \t]*\n", text[j:end]):
            span = text[i:end + run]
            out.append("".join("\n" if c == "\n" else " " for c in span))
            i = end + run
        else:
            out.append(text[i:j])
            i = j
    return "".join(out)


def heading_text(raw):
    """The text GitHub renders for a heading's Markdown source."""
    text = raw.strip()
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)          # images: their alt text
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)           # links: their text
    text = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", text)          # reference links
    text = re.sub(r"<[^>]+>", "", text)                            # HTML tags
    parts = re.split(r"(`+)", text)                                # code spans keep their text
    out, i = [], 0
    while i < len(parts):
        part = parts[i]
        if part.startswith("`") and part in parts[i + 2::2]:
            close = parts.index(part, i + 2)
            out.append("".join(parts[i + 1:close]))
            i = close + 1
            continue
        part = re.sub(r"(?<![\w\\])(\*{1,3}|_{1,3})(?=\S)(.+?)(?<=\S)\1(?!\w)", r"\2", part)
        part = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", part)         # backslash escapes
        out.append(html.unescape(part))
        i += 1
    return "".join(out)


def slug(text):
    """GitHub's anchor for a heading whose rendered text is `text` (before de-duplication)."""
    kept = []
    for ch in text.strip().lower():
        cat = unicodedata.category(ch)
        if ch in " -_" or cat[0] in "LM" or cat in ("Nd", "Nl", "Pc"):
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


def anchors_of(lines):
    """The anchors of a Markdown file's lines: its headings' slugs, de-duplicated as GitHub
    does, and the HTML `id`s and `name`s outside code."""
    seen, anchors = {}, set()
    body = blank_fences(lines)
    prev = ""
    for line in body:
        m = ATX.match(line)
        s = SETEXT.match(line)
        raw = None
        if m:
            raw = m.group(2) or ""
        elif s and prev.strip() and not ATX.match(prev) and not SETEXT.match(prev) \
                and not re.match(r"^ {0,3}([-*+]|\d+[.)])( |$)", prev) \
                and not prev.lstrip().startswith("|"):
            raw = prev
        if raw is not None:
            base = slug(heading_text(raw))
            if base in seen:
                seen[base] += 1
                anchor = f"{base}-{seen[base]}"
            else:
                seen[base] = 0
                anchor = base
            anchors.add(anchor)
            prev = ""
            continue
        anchors.update(HTML_ID.findall(blank_code_spans(line)))
        prev = line
    return anchors


class Checker:
    def __init__(self, root=ROOT):
        self.root = os.path.realpath(root)
        self._anchors = {}

    def anchors(self, path):
        if path not in self._anchors:
            with open(path, encoding="utf-8") as f:
                self._anchors[path] = anchors_of(f.read().splitlines())
        return self._anchors[path]

    def links(self, lines):
        """(line number, destination) of every link outside code, in order."""
        body = blank_fences(lines)
        text = blank_code_spans("\n".join(body))
        starts = [0]
        for line in body:
            starts.append(starts[-1] + len(line) + 1)

        def line_of(offset):
            lo, hi = 0, len(starts) - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if starts[mid] <= offset:
                    lo = mid
                else:
                    hi = mid - 1
            return lo + 1

        found = []
        for pattern in (INLINE_LINK, HTML_LINK):
            found.extend((m.start(1), m.group(1)) for m in pattern.finditer(text))
        for number, line in enumerate(text.split("\n"), 1):
            m = REF_DEF.match(line)
            if m:
                found.append((starts[number - 1] + m.start(1), m.group(1)))
        return [(line_of(offset), dest) for offset, dest in sorted(found)]

    def check_file(self, path):
        """The problems of one Markdown file, as (line, message)."""
        path = os.path.realpath(path)
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        problems = []
        for number, dest in self.links(lines):
            message = self.check_link(path, dest)
            if message:
                problems.append((number, message))
        return problems

    def check_link(self, source, dest):
        """Why the link `dest` of the file `source` is dead, or None."""
        dest = dest.strip()
        if dest.startswith("<") and dest.endswith(">"):
            dest = dest[1:-1]
        dest = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", html.unescape(dest))
        if not dest or SCHEME.match(dest) or dest.startswith("//"):
            return None
        path_part, _, fragment = dest.partition("#")
        path_part = urllib.parse.unquote(path_part.split("?", 1)[0])
        fragment = urllib.parse.unquote(fragment)
        if path_part:
            base = self.root if path_part.startswith("/") else os.path.dirname(source)
            target = os.path.normpath(os.path.join(base, path_part.lstrip("/")))
            if os.path.commonpath([self.root, os.path.realpath(target)]) != self.root:
                return f"link to {dest}: points outside the repository"
            if not os.path.exists(target):
                return f"link to {dest}: no such file or folder"
        else:
            target = source
        if fragment:
            if os.path.isdir(target) or not target.endswith(".md"):
                return None
            if fragment not in self.anchors(target):
                where = "this file" if target == source else os.path.relpath(target, self.root)
                return f"link to {dest}: no heading with anchor #{fragment} in {where}"
        return None


def main(argv):
    checker = Checker()
    files = [os.path.abspath(a) for a in argv] or markdown_files(checker.root)
    count = 0
    for path in files:
        shown = os.path.relpath(path, checker.root)
        for number, message in checker.check_file(path):
            print(f"{shown}:{number}: {message}")
            count += 1
    if count:
        print(f"check-docs: {count} problem(s) in the links of {len(files)} Markdown file(s)",
              file=sys.stderr)
        return 1
    print(f"check-docs: the links of {len(files)} Markdown file(s) are all alive", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
