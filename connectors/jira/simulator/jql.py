"""The JQL subset the simulated Jira understands.

Clauses ``field op value`` with ``=``, ``!=``, ``~``, ``!~``, ``in``, ``not in``, ``is [not]
EMPTY``; ``AND``, ``OR``, ``NOT`` and parentheses; ``ORDER BY field [ASC|DESC], ...``. Fields are
resolved by the caller (a function ``(issue, field) -> values``), so this module knows nothing of
issues. A query without any clause is "unbounded" and rejected, as on ``/search/jql``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["JqlError", "Query", "parse"]

Resolver = Callable[[Any, str], list[str]]
Predicate = Callable[[Any, Resolver], bool]

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<op>!=|!~|~|=|\(|\)|,)
    | (?P<word>[A-Za-z0-9_.\-\[\]]+)
    )""", re.VERBOSE)


class JqlError(ValueError):
    """The query is not valid JQL (Jira answers 400 with this message)."""


@dataclass(frozen=True)
class Query:
    """A parsed query: a predicate (None when unbounded) and the ORDER BY list."""

    where: Predicate | None
    order_by: list[tuple[str, bool]]  # (field, descending)

    def matches(self, issue: Any, resolve: Resolver) -> bool:
        return True if self.where is None else self.where(issue, resolve)


def _tokens(jql: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(jql):
        if not jql[pos:].strip():
            break
        match = _TOKEN.match(jql, pos)
        if not match or match.end() == pos:
            raise JqlError(f"Error in the JQL Query: the character '{jql[pos:].strip()[0]}' "
                           f"is a reserved JQL character (position {pos}).")
        pos = match.end()
        if match.group("string") is not None:
            raw = match.group("string")[1:-1]
            out.append(("str", re.sub(r"\\(.)", r"\1", raw)))
        elif match.group("op") is not None:
            out.append(("op", match.group("op")))
        else:
            out.append(("word", match.group("word")))
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek_word(self, *words: str) -> bool:
        if self.i < len(self.tokens) and self.tokens[self.i][0] == "word":
            return self.tokens[self.i][1].lower() in words
        return False

    def peek_op(self, op: str) -> bool:
        return self.i < len(self.tokens) and self.tokens[self.i] == ("op", op)

    def take(self) -> tuple[str, str]:
        if self.i >= len(self.tokens):
            raise JqlError("Error in the JQL Query: Expecting more input at the end of the query.")
        token = self.tokens[self.i]
        self.i += 1
        return token

    def joined(self, word: str, operand: Callable[[], Predicate],
               combine: Callable[[Iterable[bool]], bool]) -> Predicate:
        """Operands separated by ``word`` (``or``, ``and``), combined by ``combine`` (any, all)."""
        parts = [operand()]
        while self.peek_word(word):
            self.i += 1
            parts.append(operand())
        return parts[0] if len(parts) == 1 else (lambda x, r: combine(p(x, r) for p in parts))

    def or_expr(self) -> Predicate:
        return self.joined("or", self.and_expr, any)

    def and_expr(self) -> Predicate:
        return self.joined("and", self.not_expr, all)

    def not_expr(self) -> Predicate:
        if self.peek_word("not"):
            self.i += 1
            inner = self.not_expr()
            return lambda x, r: not inner(x, r)
        if self.peek_op("("):
            self.i += 1
            inner = self.or_expr()
            if self.take() != ("op", ")"):
                raise JqlError("Error in the JQL Query: Expecting ')'.")
            return inner
        return self.clause()

    def value(self) -> str:
        kind, text = self.take()
        if kind == "op":
            raise JqlError(f"Error in the JQL Query: Expecting a value but got '{text}'.")
        return text

    def clause(self) -> Predicate:
        kind, field = self.take()
        if kind == "op":
            raise JqlError(f"Error in the JQL Query: Expecting a field name but got '{field}'.")
        _, op = self.take()
        op = op.lower()
        if op == "not" and self.peek_word("in"):
            self.i += 1
            op = "not in"
        elif op == "is" and self.peek_word("not"):
            self.i += 1
            op = "is not"
        if op in ("in", "not in"):
            if self.take() != ("op", "("):
                raise JqlError("Error in the JQL Query: Expecting '(' after IN.")
            values = [self.value()]
            while self.peek_op(","):
                self.i += 1
                values.append(self.value())
            if self.take() != ("op", ")"):
                raise JqlError("Error in the JQL Query: Expecting ')'.")
            wanted = {v.casefold() for v in values}
            negate = op == "not in"
            return lambda x, r: negate != any(v.casefold() in wanted for v in r(x, field))
        if op in ("is", "is not"):
            if self.value().lower() not in ("empty", "null"):
                raise JqlError("Error in the JQL Query: IS takes EMPTY or NULL.")
            empty = op == "is"
            return lambda x, r: empty == (not [v for v in r(x, field) if v])
        if op not in ("=", "!=", "~", "!~"):
            raise JqlError(f"Error in the JQL Query: Expecting operator but got '{op}'.")
        target = self.value().casefold()
        if op in ("~", "!~"):
            words = target.replace("*", "").split()
            negate = op == "!~"
            return lambda x, r: negate != any(all(w in v.casefold() for w in words)
                                              for v in r(x, field))
        negate = op == "!="
        return lambda x, r: negate != any(v.casefold() == target for v in r(x, field))


def parse(jql: str) -> Query:
    """Parse ``jql``; raises :class:`JqlError` with a Jira-like message when it is not valid."""
    tokens = _tokens(jql)
    order_at = next((i for i in range(len(tokens) - 1)
                     if tokens[i][0] == "word" and tokens[i][1].lower() == "order"
                     and tokens[i + 1][0] == "word" and tokens[i + 1][1].lower() == "by"), None)
    where_tokens = tokens if order_at is None else tokens[:order_at]
    order_tokens = [] if order_at is None else tokens[order_at + 2:]
    where: Predicate | None = None
    if where_tokens:
        parser = _Parser(where_tokens)
        where = parser.or_expr()
        if parser.i != len(where_tokens):
            raise JqlError(f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got "
                           f"'{where_tokens[parser.i][1]}'.")
    order_by: list[tuple[str, bool]] = []
    current: list[str] = []
    for kind, text in ([] if order_at is None else [*order_tokens, ("op", ",")]):
        if (kind, text) == ("op", ","):
            if not current:
                raise JqlError("Error in the JQL Query: Expecting a field name in ORDER BY.")
            descending = len(current) > 1 and current[1].lower() == "desc"
            order_by.append((current[0], descending))
            current = []
        else:
            current.append(text)
    if len(order_by) > 7:
        raise JqlError("The ORDER BY clause can have at most 7 fields.")
    return Query(where=where, order_by=order_by)
