#!/usr/bin/env python3
"""Tests of scripts/check-doc-commands.py: how it reads blocks and compares output shapes.

    python3 scripts/test_check_doc_commands.py      # standard library only, no abforge needed
"""
import importlib.util
import os
import sys
import textwrap
import unittest

sys.dont_write_bytecode = True
_spec = importlib.util.spec_from_file_location(
    "check_doc_commands",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "check-doc-commands.py"))
cdc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cdc)


def blocks(markdown):
    return cdc.blocks_of("x.md", textwrap.dedent(markdown).splitlines())


class Reading(unittest.TestCase):
    def test_console_blocks_commands_and_outputs(self):
        (b,) = blocks("""
            text
            ```console
            $ abforge one --flag \\
                value
            first line
            second line
            $ abforge two
            ```
            ```bash
            $ not run
            ```
            """)
        self.assertEqual([c[1] for c in b.commands], ["abforge one --flag value", "abforge two"])
        self.assertEqual(b.commands[0][2], ["first line", "second line"])
        self.assertEqual(b.commands[0][0], 4)

    def test_directives_attach_to_the_next_block_only(self):
        bs = blocks("""
            <!-- doc-commands: setup: make things -->

            ```console
            $ a
            ```
            <!-- doc-commands: skip: needs a browser -->
            paragraph between
            ```console
            $ b
            ```
            <!-- doc-commands: file: bad.toml -->
            ```toml
            id = "X"
            ```
            """)
        self.assertEqual(bs[0].setup, "make things")
        self.assertIsNone(bs[1].skip, "a paragraph between drops the directive")
        self.assertEqual(bs[2].file, ("bad.toml", 'id = "X"\n'))


class Shapes(unittest.TestCase):
    def test_numbers_and_spacing_may_change(self):
        self.assertTrue(cdc.matches(["wrote 200,000 rows in 0.04 s"], "wrote 1,000 rows in 12.5 s\n"))
        self.assertTrue(cdc.matches(["| a   | 1   |"], "| a | 12345 |\n"))
        self.assertTrue(cdc.matches(["+---+"], "+----------+\n"))

    def test_words_and_lines_may_not(self):
        self.assertFalse(cdc.matches(["wrote 2 rows"], "wrote 2 columns\n"))
        self.assertFalse(cdc.matches(["one", "two"], "one\n"))
        self.assertFalse(cdc.matches(["one"], "one\ntwo\n"))
        self.assertFalse(cdc.matches(["ok"], ""))

    def test_ellipses(self):
        self.assertTrue(cdc.matches(["hash e451…", "…", "end"], "hash e451ff\na\nb\nend\n"))
        self.assertTrue(cdc.matches(["…", "end"], "end\n"))
        self.assertFalse(cdc.matches(["…", "end"], "a\nb\n"))

    def test_empty_output_matches_an_empty_expectation(self):
        self.assertTrue(cdc.matches(["", ""], "\n"))


class Scripts(unittest.TestCase):
    def test_background_commands_show_their_first_lines(self):
        b = cdc.Block("x.md", 1, None, None)
        b.commands = [(2, "abforge serve --addr 127.0.0.1:8080 &", ["listening"]),
                      (3, "curl -s http://127.0.0.1:8080/", ["{}"])]
        script = cdc.script_of(b, "4242")
        self.assertIn("abforge serve --addr 127.0.0.1:4242 > .doc-commands-bg-0 2>&1 &", script)
        self.assertIn("head -n 1 .doc-commands-bg-0", script)
        self.assertIn("curl -s http://127.0.0.1:4242/ 2>&1", script)


if __name__ == "__main__":
    unittest.main()
