#!/usr/bin/env python3
"""Tests of scripts/check-docs.py: it catches dead links and dead anchors and accepts good ones.

    python3 scripts/test_check_docs.py      # standard library only
"""
import importlib.util
import os
import sys
import tempfile
import textwrap
import unittest

sys.dont_write_bytecode = True
_spec = importlib.util.spec_from_file_location(
    "check_docs", os.path.join(os.path.dirname(os.path.abspath(__file__)), "check-docs.py"))
check_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_docs)


def anchors(markdown):
    return check_docs.anchors_of(textwrap.dedent(markdown).splitlines())


class Slugs(unittest.TestCase):
    def test_github_rules(self):
        cases = {
            "Set-up": "set-up",
            "A first look": "a-first-look",
            "`abforge generate`": "abforge-generate",
            "Airflow and AWS: `deploy/`": "airflow-and-aws-deploy",
            "The lakehouse: `abforge lake`": "the-lakehouse-abforge-lake",
            "`abforge blueprint check FILE… | schema`": "abforge-blueprint-check-file--schema",
            "Analysis, the API and the Monte Carlo, side by side":
                "analysis-the-api-and-the-monte-carlo-side-by-side",
            "snake_case and **bold** and *em*": "snake_case-and-bold-and-em",
            "__strong__ words": "strong-words",
            "A [link](https://example.com) inside": "a-link-inside",
            "Größe & Café": "größe--café",
            "2²⁴ evaluations": "2-evaluations",
            "Trailing hashes ##": "trailing-hashes",
        }
        for markdown, expected in cases.items():
            with self.subTest(markdown=markdown):
                self.assertIn(expected, anchors(f"## {markdown}\n"))

    def test_duplicates_get_suffixes(self):
        got = anchors("""\
            # Usage
            ## Usage
            ### Usage
            ## Other
            """)
        self.assertEqual(got, {"usage", "usage-1", "usage-2", "other"})

    def test_headings_in_code_do_not_count(self):
        got = anchors("""\
            # Real
            ```bash
            # a shell comment
            ```
            ~~~~
            ## Not a heading either
            ~~~~
            """)
        self.assertEqual(got, {"real"})

    def test_setext_headings_and_html_ids(self):
        got = anchors("""\
            Title
            =====

            Part two
            --------

            <a id="custom-anchor"></a>
            """)
        self.assertEqual(got, {"title", "part-two", "custom-anchor"})


class Links(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        self.write("docs/page.md", """\
            # The page

            ## Limits of the truth

            ## Usage

            ## Usage
            """)
        self.write("scripts/tool.sh", "echo\n")
        self.checker = check_docs.Checker(self.root)

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, rel, text):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text))
        return path

    def problems(self, text, rel="README.md"):
        return self.checker.check_file(self.write(rel, text))

    def test_good_links_pass(self):
        got = self.problems("""\
            # Top

            ## Second: `with code` / and… more

            See [the page](docs/page.md), [its limits](docs/page.md#limits-of-the-truth),
            [the second usage](docs/page.md#usage-1), [the tool](scripts/tool.sh),
            [a folder](docs/), [from the root](/scripts/tool.sh), [here](#top),
            [the second](#second-with-code--and-more), ![img](<docs/page.md>),
            [titled](docs/page.md "a title"), [web](https://example.com/x.md#nope),
            [mail](mailto:someone@example.com), [a line](scripts/tool.sh#L1).

            [ref]: docs/page.md#usage
            <a href="docs/page.md#the-page">html</a>
            """)
        self.assertEqual(got, [])

    def test_dead_file_link_is_caught(self):
        got = self.problems("intro\n\nsee [gone](docs/missing.md) here\n")
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0][0], 3)
        self.assertIn("docs/missing.md: no such file", got[0][1])

    def test_dead_anchor_is_caught(self):
        got = self.problems("""\
            # Top

            [a](docs/page.md#no-such-heading) and [b](#nowhere)
            and [c](docs/page.md#usage-2) (only two Usage headings)
            """)
        self.assertEqual([line for line, _ in got], [3, 3, 4])
        self.assertIn("#no-such-heading in docs/page.md", got[0][1])
        self.assertIn("#nowhere in this file", got[1][1])

    def test_relative_to_the_linking_file(self):
        got = self.problems("[up](../scripts/tool.sh) [wrong](scripts/tool.sh)\n",
                            rel="docs/other.md")
        self.assertEqual(len(got), 1)
        self.assertIn("link to scripts/tool.sh", got[0][1])

    def test_outside_the_repository_is_caught(self):
        got = self.problems("[out](../../elsewhere.md)\n", rel="docs/other.md")
        self.assertEqual(len(got), 1)
        self.assertIn("outside the repository", got[0][1])

    def test_code_is_ignored(self):
        got = self.problems("""\
            Inline `[x](missing.md)` and ``[y](gone.md#a)`` are code.
            A span over two lines: `abforge runs
            show [z](missing.md)` is code too.

            ```markdown
            [in a fence](missing.md)
            ```
            """)
        self.assertEqual(got, [])

    def test_reference_definitions_and_html_are_checked(self):
        got = self.problems("""\
            [ref]: docs/nothing.md
            <img src="docs/nothing.png">
            """)
        self.assertEqual([line for line, _ in got], [1, 2])


class Repository(unittest.TestCase):
    def test_markdown_files_skip_build_output(self):
        with tempfile.TemporaryDirectory() as root:
            for rel in ("README.md", "docs/a.md", "target/x.md", "node_modules/p/README.md",
                        ".git/y.md", "env/lib/z.md"):
                path = os.path.join(root, rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "w").close()
            open(os.path.join(root, "env", "pyvenv.cfg"), "w").close()
            got = sorted(os.path.relpath(p, root) for p in check_docs.markdown_files(root))
            self.assertEqual(got, ["README.md", os.path.join("docs", "a.md")])


if __name__ == "__main__":
    unittest.main()
