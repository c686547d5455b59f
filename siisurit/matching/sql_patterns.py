"""Python regular expressions of work matches translated to PostgreSQL's (ARE), where both give the same answer.

Only a conservative subset translates: literals, escaped punctuation, `.`, `^`, `$`, character classes, `\\d \\w \\s
\\b` and their negations, greedy quantifiers (not on groups), groups, alternation (not in a pattern extracting a task
code) and a leading `(?i)`. Everything else (repeated groups, lazy quantifiers, lookarounds, back references, other
flags, …) returns None and the rule is decided in Python. Class escapes, `\\b` and `(?i)` agree with Python only
on ASCII text, and so does `str.strip()` of an extracted code: such a pattern is marked `needs_ascii`, and entries
with other text are decided in Python too.
"""

from __future__ import annotations

from dataclasses import dataclass

from siisurit.matching.rules import TASK_CODE_GROUP

# What `str.strip()` removes from an ASCII string (PostgreSQL's btrim characters).
ASCII_WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_WHITESPACE_IN_CLASS = r" \t\n\r\v\f\u001c\u001d\u001e\u001f"
_IN_CLASS = {"d": "0-9", "w": "0-9A-Za-z_", "s": _WHITESPACE_IN_CLASS}
_OUTSIDE_CLASS = {
    **{letter: f"[{chars}]" for letter, chars in _IN_CLASS.items()},
    **{letter.upper(): f"[^{chars}]" for letter, chars in _IN_CLASS.items()},
}
_CHARACTER_ESCAPES = set("ntrfv")
_SPECIAL = set(".^$*+?{}[]()|\\")
# PostgreSQL's limit for {m,n} bounds.
_MAXIMUM_REPEAT = 255
_CODE_GROUP_START = f"(?P<{TASK_CODE_GROUP}>"
# What may come before a code group that spans the whole match (zero-width: the match starts where the group does).
_ZERO_WIDTH_START = {"(?i)", "^", "\\A"}


@dataclass(frozen=True)
class SqlPattern:
    """A PostgreSQL regular expression; with a code group, `substring(x from regex)` returns the code."""

    regex: str
    needs_ascii: bool


class _UntranslatableError(Exception):
    pass


class _Translator:
    def __init__(self, pattern: str, extracts_code: bool) -> None:
        self.pattern = pattern
        self.extracts_code = extracts_code
        self.position = 0
        self.output: list[str] = []
        self.needs_ascii = extracts_code  # str.strip() of the code
        self.groups: list[bool] = []  # open groups: is it the code group?
        self.closed_group = False
        self.code_group: tuple[int, int] | None = None  # output positions of the code group's parentheses
        self.code_group_start = 0

    def translate(self) -> SqlPattern:
        if self.pattern.startswith("(?i)"):
            self.output.append("(?i)")
            self.position = 4
            self.needs_ascii = True
        while self.position < len(self.pattern):
            self._token()
        if self.groups:
            raise _UntranslatableError
        self._code_group_as_whole_match()
        return SqlPattern("".join(self.output), self.needs_ascii)

    def _code_group_as_whole_match(self) -> None:
        """Drop the capture of a code group that spans the whole match: `substring()` then returns the whole match.

        Same text, but PostgreSQL finds a match's bounds by its fast automaton alone, where a capture group's bounds
        need its slow dissection (1.7 µs an entry: two thirds of deciding a code rule over entries with codes).
        """
        if self.code_group is None:
            return
        start, end = self.code_group
        if end == len(self.output) - 1 and all(token in _ZERO_WIDTH_START for token in self.output[:start]):
            self.output[start] = "(?:"

    def _take(self, text: str) -> bool:
        if self.pattern.startswith(text, self.position):
            self.position += len(text)
            return True
        return False

    def _token(self) -> None:
        character = self.pattern[self.position]
        after_group, self.closed_group = self.closed_group, False
        if character in "*+?{":
            if after_group:
                # A repeated group: the shape that can backtrack exponentially in Python, where such a rule is
                # stopped by its time bound (siisurit.matching.bounds); decided in Python, engine and explanation
                # agree on it. (Also: which repetition's text is a code differs.)
                raise _UntranslatableError
            self._quantifier()
            return
        self.position += 1
        if character == "\\":
            self._escape()
        elif character == "[":
            self._class()
        elif character == "(":
            self._group_start()
        elif character == ")":
            if not self.groups:
                raise _UntranslatableError
            if self.groups.pop():
                self.code_group = (self.code_group_start, len(self.output))
            self.closed_group = True
            self.output.append(")")
        elif character == "|":
            if self.extracts_code:
                raise _UntranslatableError  # which alternative wins differs (first in Python, longest in PostgreSQL)
            self.output.append("|")
        elif character == ".":
            self.output.append(r"[^\n]")
        elif character == "$":
            self.output.append(r"(?=\n?$)")  # Python's $ also matches before a final newline
        elif character in "]}":
            self.output.append("\\" + character)
        else:
            self.output.append(character)  # ^ and literals

    def _quantifier(self) -> None:
        character = self.pattern[self.position]
        if character == "{":
            end = self.pattern.find("}", self.position)
            bounds = self.pattern[self.position + 1 : end].split(",") if end > 0 else []
            if not 1 <= len(bounds) <= 2 or not bounds[0].isdigit() or not all(b == "" or b.isdigit() for b in bounds):
                raise _UntranslatableError  # a literal { in Python, an error in PostgreSQL
            if any(bound and int(bound) > _MAXIMUM_REPEAT for bound in bounds):
                raise _UntranslatableError
            self.output.append(self.pattern[self.position : end + 1])
            self.position = end + 1
        else:
            self.output.append(character)
            self.position += 1
        if self.position < len(self.pattern) and self.pattern[self.position] in "?+":
            raise _UntranslatableError  # lazy or possessive

    def _escape(self) -> None:
        if self.position >= len(self.pattern):
            raise _UntranslatableError
        letter = self.pattern[self.position]
        self.position += 1
        if letter in _OUTSIDE_CLASS:
            self.output.append(_OUTSIDE_CLASS[letter])
            self.needs_ascii = True
        elif letter in "bB":
            self.output.append(r"\y" if letter == "b" else r"\Y")
            self.needs_ascii = True
        elif letter in "AZ" or letter in _CHARACTER_ESCAPES:
            self.output.append("\\" + letter)
        elif letter.isascii() and not letter.isalnum() and letter != "_":
            self.output.append("\\" + letter if letter in _SPECIAL else letter)
        else:
            raise _UntranslatableError  # back references, \x, \u, \N, octal, …

    def _class(self) -> None:
        parts = ["["]
        if self._take("^"):
            parts.append("^")
        if self._take("]"):
            parts.append("]")
        while True:
            if self.position >= len(self.pattern):
                raise _UntranslatableError
            character = self.pattern[self.position]
            self.position += 1
            if character == "]":
                break
            if character == "[":
                raise _UntranslatableError  # [:alpha:] and friends in PostgreSQL
            if character != "\\":
                parts.append(character)
                continue
            letter = self.pattern[self.position : self.position + 1]
            self.position += 1
            if letter in _IN_CLASS:
                parts.append(_IN_CLASS[letter])
                self.needs_ascii = True
            elif letter in _CHARACTER_ESCAPES:
                parts.append("\\" + letter)
            elif letter and letter.isascii() and not letter.isalnum() and letter not in "]\\^-_":
                parts.append(letter)
            else:
                raise _UntranslatableError
        parts.append("]")
        self.output.append("".join(parts))

    def _group_start(self) -> None:
        self.position -= 1
        if self._take(_CODE_GROUP_START):
            if self.extracts_code and self.groups:
                raise _UntranslatableError  # inside another group, which may repeat or be skipped
            self.groups.append(self.extracts_code)
            self.code_group_start = len(self.output)
            self.output.append("(" if self.extracts_code else "(?:")
        elif self._take("(?:"):
            self.groups.append(False)
            self.output.append("(?:")
        elif self._take("(?"):
            raise _UntranslatableError  # lookarounds, other named groups, scoped flags, comments
        else:
            self.position += 1
            self.groups.append(False)
            self.output.append("(?:")  # only the code group captures: substring() returns the first group


def sql_pattern(pattern: str, *, extracts_code: bool = False) -> SqlPattern | None:
    """The PostgreSQL pattern giving the same answers as `re.search(pattern, …)` (and the same code), or None."""
    try:
        return _Translator(pattern, extracts_code).translate()
    except (_UntranslatableError, IndexError):
        return None
