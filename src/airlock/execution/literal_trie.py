"""One regular expression that finds any of many literal strings quickly.

``re`` tries the alternatives of ``a|b|c`` one after another at every position, so a plain
alternation of a few hundred secrets costs a few hundred comparisons per character of log. Built
as a trie instead (``ab|ac`` becomes ``a(?:b|c)``), each branch starts with a distinct
character, so at most one alternative gets past its first character, and the engine's
first-character filter skips positions no secret can start at. Longer matches win: where one
string is a prefix of another the longer continuation is tried first.

Only the standard library is imported here.
"""

from __future__ import annotations

import re
from typing import TypeAlias

_Node: TypeAlias = dict[str, "_Node"]
_END = ""
"""The key marking that a string ends at this node (no real edge is labelled ``""``)."""


def literal_pattern(strings: set[str] | frozenset[str]) -> re.Pattern[str] | None:
    """Compile a pattern matching any of ``strings`` (longest first); ``None`` for no strings."""
    if not strings:
        return None
    root: _Node = {}
    for text in strings:
        node = root
        for char in text:
            node = node.setdefault(char, {})
        node[_END] = {}
    return re.compile(_regex(root))


def _regex(node: _Node) -> str:
    """The regex source matching the strings below ``node`` (longest continuation first)."""
    branches = [_edge(char, child) for char, child in node.items() if char != _END]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if _END in node else body


def _edge(char: str, child: _Node) -> str:
    """The source for one edge and what follows; runs without a branch are written in a loop.

    Recursion happens only where strings part or end, so a long secret (a private key) does not
    nest one call per character.
    """
    run = [char]
    while len(child) == 1 and _END not in child:
        ((next_char, child),) = child.items()
        run.append(next_char)
    return re.escape("".join(run)) + _regex(child)
