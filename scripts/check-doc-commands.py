#!/usr/bin/env python3
"""Runs every command the Markdown docs show and compares its output's shape with the docs'.

    python3 scripts/check-doc-commands.py            # README.md, CONTRIBUTING.md, docs/**/*.md
    python3 scripts/check-doc-commands.py FILE.md …  # only these files

`ABFORGE_BIN` names the `abforge` binary to run (default: `$CARGO_TARGET_DIR/debug/abforge`,
the one `cargo test` builds). Each file's commands run in order, in a fresh folder of their
own that has the repository's `examples/` and `bench/` in it, with `abforge` first on `PATH`
and none of abforge's variables from the outer environment; so a file can show a run and then
`runs list`.

What is run: the `$ ` lines of every `console` block (a line ending in `\\` continues on the
next). What follows a command, up to the next one, is its expected output (stdout and stderr).
A command ending in `&` runs in the background until the block ends; its expected output is
what it printed first. Port 8080 in a block stands for a free port chosen for the run.

The *shape* is compared, not every character: in both texts every number becomes `#`, runs of
spaces become one and runs of `-` two; an `…` stands for any text within a line, and a line
that is only `…` for any number of lines. So a timing or a count may change, but a missing
line, a renamed column or a new message fails.

An HTML comment right before a block (blank lines between are allowed) prepares or excuses it:

    <!-- doc-commands: setup: SHELL -->   runs SHELL (bash) in the folder first, output unseen
    <!-- doc-commands: skip: REASON -->   does not run the block; REASON is printed
    <!-- doc-commands: file: NAME -->     before any other block: writes its text to NAME in
                                          the folder (a blueprint the next commands read)

Each mismatch prints the file and line of the command, the expected and the actual text; the
exit status is 1 on any mismatch. Only the standard library is used. The shape comparison, the
background commands and the free port are why this is not trycmd (which compares text with
`[..]` placeholders written into the docs, and runs one program per command).
"""
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)")
DIRECTIVE = re.compile(r"^<!--\s*doc-commands:\s*(setup|skip|file):\s*(.*?)\s*-->\s*$")
MARK = "\x1edoc-commands %d\x1e"
# A block's commands, the setup included, together may take this long.
BLOCK_TIMEOUT_S = 600


class Block:
    """A `console` block: where it starts, its directives and its commands."""

    def __init__(self, path, line, setup, skip):
        self.path, self.line, self.setup, self.skip = path, line, setup, skip
        # (line of the command, the command, the expected output lines)
        self.commands = []
        # For a `file:` block: (its name in the folder, its text); it has no commands.
        self.file = None


def blocks_of(path, lines):
    """The `console` blocks of a Markdown file, with the directives before each."""
    out, i, pending = [], 0, {}
    while i < len(lines):
        d = DIRECTIVE.match(lines[i])
        m = FENCE.match(lines[i])
        if d:
            pending[d.group(1)] = d.group(2)
        elif m:
            fence, lang = m.group(1), m.group(2).lower()
            body, j = [], i + 1
            while j < len(lines) and not lines[j].strip().startswith(fence):
                body.append(lines[j])
                j += 1
            if lang == "console":
                b = Block(path, i + 1, pending.get("setup"), pending.get("skip"))
                b.commands = commands_of(body, i + 2)
                out.append(b)
            elif "file" in pending:
                b = Block(path, i + 1, None, None)
                b.file = (pending["file"], "\n".join(body) + "\n")
                out.append(b)
            pending, i = {}, j
        elif lines[i].strip():
            pending = {}
        i += 1
    return out


def commands_of(body, first_line):
    """The `$ ` commands of a block's lines, each with its line and expected output."""
    cmds, i = [], 0
    while i < len(body):
        if not body[i].startswith("$ "):
            i += 1
            continue
        line, cmd = first_line + i, body[i][2:]
        while cmd.endswith("\\") and i + 1 < len(body):
            i += 1
            cmd = cmd[:-1].rstrip() + " " + body[i].strip()
        expected = []
        i += 1
        while i < len(body) and not body[i].startswith("$ "):
            expected.append(body[i])
            i += 1
        cmds.append((line, cmd, expected))
    return cmds


NUMBER = re.compile(r"\d(?:[\d,._]*\d)?")


def normalize(line):
    """A line's shape: numbers `#`, runs of spaces one, runs of `-` two, no trailing space."""
    line = NUMBER.sub("#", line.rstrip())
    line = re.sub(r"-{2,}", "--", line)
    return re.sub(r" {2,}", " ", line)


def pattern_of(expected):
    """The regular expression of an expected output's shape."""
    lines = list(expected)
    while lines and not lines[-1].strip():
        lines.pop()
    parts = []
    for ln in lines:
        if ln.strip() == "…":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            pieces = [re.escape(p) for p in normalize(ln).split("…")]
            parts.append("[^\n]*".join(pieces) + r"\n")
    return re.compile("".join(parts), re.S)


def matches(expected, actual):
    """Whether an output has the shape the docs show."""
    text = "".join(normalize(ln) + "\n" for ln in actual.rstrip("\n").splitlines())
    if not actual.strip():
        text = ""
    return pattern_of(expected).fullmatch(text) is not None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def script_of(block, port):
    """The bash script that runs a block's commands, a marker before each one's output."""
    lines = ["cd \"$SANDBOX\"", "trap 'kill $(jobs -p) 2>/dev/null' EXIT"]
    if block.setup:
        lines.append("( %s ) >/dev/null 2>&1 || { echo 'setup failed' >&2; exit 97; }"
                     % block.setup)
    for k, (_, cmd, _) in enumerate(block.commands):
        cmd = cmd.replace("8080", port)
        lines.append("printf '%s'" % (MARK % k))
        if cmd.rstrip().endswith("&"):
            log, first = ".doc-commands-bg-%d" % k, max(1, len(block.commands[k][2]))
            lines.append("%s > %s 2>&1 &" % (cmd.rstrip()[:-1].rstrip(), log))
            # Its first lines, as many as the docs show: wait for them (at most 30 s).
            lines.append("for _ in $(seq 300); do [ $(wc -l < %s) -ge %d ] && break; "
                         "sleep 0.1; done; head -n %d %s" % (log, first, first, log))
        else:
            lines.append("%s 2>&1" % cmd)
    return "\n".join(lines) + "\n"


def environment(bin_dir, sandbox):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABFORGE_")}
    env.update(PATH=bin_dir + os.pathsep + env.get("PATH", ""), SANDBOX=sandbox,
               NO_COLOR="1", COLUMNS="100")
    return env


def run_block(block, bin_dir, sandbox):
    """The outputs of a block's commands, in order (or an error text for all)."""
    port = free_port()
    proc = subprocess.Popen(["bash", "-c", script_of(block, port)], cwd=sandbox,
                            env=environment(bin_dir, sandbox), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=BLOCK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, "timed out after %d s" % BLOCK_TIMEOUT_S
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    text = out.decode("utf-8", "replace").replace(port, "8080")
    pieces = re.split("\x1edoc-commands \\d+\x1e", text)
    if len(pieces) != len(block.commands) + 1:
        return None, text
    return pieces[1:], None


def sandbox_for(parent):
    box = tempfile.mkdtemp(prefix="doc-", dir=parent)
    for name in ("examples", "bench"):
        os.symlink(os.path.join(ROOT, name), os.path.join(box, name))
    return box


def check_file(path, bin_dir, tmp):
    """Runs a file's blocks; returns (commands run, skipped blocks, problems)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    rel = os.path.relpath(path, ROOT)
    blocks = [b for b in blocks_of(rel, lines) if b.commands or b.file]
    ran, skipped, problems = 0, [], []
    sandbox = sandbox_for(tmp) if blocks else None
    for b in blocks:
        if b.file:
            name, text = b.file
            with open(os.path.join(sandbox, name), "w", encoding="utf-8") as f:
                f.write(text)
            continue
        if b.skip is not None:
            skipped.append("%s:%d: not run: %s" % (rel, b.line, b.skip or "(no reason given)"))
            if not b.skip:
                problems.append("%s:%d: a skip needs a reason" % (rel, b.line))
            continue
        outputs, error = run_block(b, bin_dir, sandbox)
        if outputs is None:
            problems.append("%s:%d: the block did not run through:\n%s" % (rel, b.line, error))
            continue
        for (line, cmd, expected), actual in zip(b.commands, outputs):
            ran += 1
            if not matches(expected, actual):
                problems.append("%s:%d: `%s` printed another shape.\n--- the docs\n%s\n"
                                "--- the run\n%s" % (rel, line, cmd, "\n".join(expected).rstrip(),
                                                     actual.rstrip()))
    return ran, skipped, problems


def markdown_files(args):
    if args:
        return [os.path.abspath(a) for a in args]
    files = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "CONTRIBUTING.md")]
    files += sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
    return [f for f in files if os.path.exists(f)]


def binary():
    b = os.environ.get("ABFORGE_BIN")
    if not b:
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        b = os.path.join(target, "debug", "abforge")
    if not os.access(b, os.X_OK):
        sys.exit("check-doc-commands: no abforge binary at %s (set ABFORGE_BIN)" % b)
    return os.path.abspath(b)


def main(argv):
    exe = binary()
    tmp = tempfile.mkdtemp(prefix="abforge-doc-commands-")
    try:
        bin_dir = os.path.join(tmp, "bin")
        os.mkdir(bin_dir)
        os.symlink(exe, os.path.join(bin_dir, "abforge"))
        total, skipped, problems = 0, [], []
        for path in markdown_files(argv):
            ran, s, p = check_file(path, bin_dir, tmp)
            total, skipped, problems = total + ran, skipped + s, problems + p
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for s in skipped:
        print(s)
    for p in problems:
        print(p, file=sys.stderr)
    print("check-doc-commands: %d commands run, %d blocks skipped, %d problems"
          % (total, len(skipped), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
