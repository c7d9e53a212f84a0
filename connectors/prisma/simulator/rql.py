"""A useful subset of RQL ``config`` queries, evaluated over the simulated resources.

Supported::

    config from cloud.resource where <clause> [AND <clause>]...
    clause    := attribute ( = | != ) 'value' | attribute IN ( 'a', 'b' ) | json.rule = <rule>
    attribute := cloud.type | api.name | cloud.account | cloud.accountId | cloud.region
               | cloud.service | resource.name (a simulator convenience, not real RQL)
    rule      := quoted string, or unquoted to the end of the query
                 path ( exists | does not exist | is true | is false | is empty | is not empty
                      | == v | != v | > n | < n | >= n | <= n | contains v | does not contain v
                      | size (== | > | < | >= | <=) n | any equal v | greater than n | less than n )
                 combined with and / or / not and parentheses;
                 paths use ``a.b``, ``[*]``, ``[n]`` and ``[?(@.x == 'v' || @.y == 2)]``.

Anything else (joins with ``as X; filter ...; show``, ``event from``, ``network from``,
``addcolumn``, functions) raises :class:`RqlError`, which the route turns into the 400 Prisma
answers to a query it cannot run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["RqlError", "compile_rql"]

Predicate = Callable[[dict[str, Any]], bool]
_ATTRS = {"cloud.type": "cloudType", "api.name": "apiName", "cloud.account": "accountName",
          "cloud.accountid": "accountId", "cloud.region": "regionName",
          "cloud.service": "service", "resource.name": "name"}
_MISSING = object()


class RqlError(ValueError):
    """The query is not RQL this simulator understands (or not RQL at all)."""


def compile_rql(query: str) -> Predicate:
    """A predicate over internal resource records for ``query``; :class:`RqlError` if unsupported."""
    m = re.match(r"\s*config\s+(?:from\s+cloud\.resource\s+)?where\s+(.*?)\s*;?\s*$", query,
                 re.IGNORECASE | re.DOTALL)
    if not m:
        raise RqlError("only 'config from cloud.resource where ...' queries are supported")
    rest, preds = m.group(1), []
    while rest:
        jm = re.match(r"json\.rule\s*=\s*", rest, re.IGNORECASE)
        if jm:
            body = rest[jm.end():]
            if body[:1] in ("'", '"'):
                end = body.find(body[0], 1)
                if end < 0:
                    raise RqlError("unterminated json.rule string")
                rule, rest = body[1:end], body[end + 1:]
            else:
                if re.search(r"\bas\s+\w+\s*;", body, re.IGNORECASE):
                    raise RqlError("joins (as X; filter; show) are not supported")
                rule, rest = body, ""
            preds.append(_JsonRule(rule).compile())
        else:
            am = re.match(r"([\w.]+)\s*(=|!=|\bIN\b)\s*", rest, re.IGNORECASE)
            if not am or am.group(1).lower() not in _ATTRS:
                raise RqlError(f"unsupported clause near {rest[:40]!r}")
            key, op, rest = _ATTRS[am.group(1).lower()], am.group(2).upper(), rest[am.end():]
            if op == "IN":
                lm = re.match(r"\(([^)]*)\)", rest)
                if not lm:
                    raise RqlError("IN needs a parenthesised list")
                values = {v.strip().strip("'\"").lower() for v in lm.group(1).split(",")}
                rest = rest[lm.end():]
            else:
                vm = re.match(r"('([^']*)'|\"([^\"]*)\")", rest)
                if not vm:
                    raise RqlError(f"expected a quoted value for {am.group(1)}")
                values = {(vm.group(2) if vm.group(2) is not None else vm.group(3)).lower()}
                rest = rest[vm.end():]
            preds.append(_attr_pred(key, values, negate=op == "!="))
        rest = rest.strip()
        if rest.endswith(";"):
            rest = rest[:-1].strip()
        if rest:
            cm = re.match(r"and\s+", rest, re.IGNORECASE)
            if not cm:
                raise RqlError(f"expected AND near {rest[:40]!r}")
            rest = rest[cm.end():]
    return lambda res: all(p(res) for p in preds)


def _attr_pred(key: str, values: set[str], *, negate: bool) -> Predicate:
    def pred(res: dict[str, Any]) -> bool:
        have = {str(res[key]).lower()}
        if key == "regionName":
            have.add(str(res["regionId"]).lower())
        return bool(have & values) != negate
    return pred


class _JsonRule:
    """Recursive-descent parser for ``json.rule`` expressions."""

    def __init__(self, text: str) -> None:
        self.s, self.i = text.strip(), 0

    def compile(self) -> Predicate:
        pred = self._or()
        self._ws()
        if self.i != len(self.s):
            raise RqlError(f"unexpected text in json.rule near {self.s[self.i:self.i + 30]!r}")
        return lambda res: pred(res["data"])

    def _ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def _kw(self, *words: str) -> bool:
        self._ws()
        pattern = r"\s+".join(re.escape(w) for w in words) + r"(?![\w.])"
        m = re.compile(pattern, re.IGNORECASE).match(self.s, self.i)
        if m:
            self.i = m.end()
        return m is not None

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._kw("or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda d: any(p(d) for p in parts))

    def _and(self) -> Predicate:
        parts = [self._unary()]
        while self._kw("and"):
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else (lambda d: all(p(d) for p in parts))

    def _unary(self) -> Predicate:
        if self._kw("not"):
            inner = self._unary()
            return lambda d: not inner(d)
        self._ws()
        if self.s.startswith("(", self.i):
            self.i += 1
            inner = self._or()
            self._ws()
            if not self.s.startswith(")", self.i):
                raise RqlError("missing ')' in json.rule")
            self.i += 1
            return inner
        return self._predicate()

    def _path(self) -> str:
        self._ws()
        start, depth = self.i, 0
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
            elif depth == 0 and not (c.isalnum() or c in "_.-$@"):
                break
            self.i += 1
        if self.i == start:
            raise RqlError(f"expected a path near {self.s[self.i:self.i + 30]!r}")
        return self.s[start:self.i]

    def _value(self) -> Any:
        self._ws()
        m = re.compile(r"'([^']*)'|\"([^\"]*)\"|([^\s()]+)").match(self.s, self.i)
        if not m:
            raise RqlError("expected a value in json.rule")
        self.i = m.end()
        if m.group(3) is None:
            return m.group(1) if m.group(1) is not None else m.group(2)
        return _literal(m.group(3))

    def _predicate(self) -> Predicate:
        getter = _path_getter(self._path())
        if self._kw("does", "not", "exist"):
            return lambda d: not getter(d)
        if self._kw("exists"):
            return lambda d: bool(getter(d))
        if self._kw("is", "true"):
            return lambda d: any(v is True for v in getter(d))
        if self._kw("is", "false"):
            return lambda d: any(v is False for v in getter(d))
        if self._kw("is", "not", "empty"):
            return lambda d: any(v not in ("", [], {}) for v in getter(d))
        if self._kw("is", "empty"):
            return lambda d: all(v in ("", [], {}) for v in getter(d))
        if self._kw("does", "not", "contain"):
            v = self._value()
            return lambda d: not any(_contains(x, v) for x in getter(d))
        if self._kw("contains"):
            v = self._value()
            return lambda d: any(_contains(x, v) for x in getter(d))
        if self._kw("any", "equal") or self._kw("equals") or self._kw("equal"):
            v = self._value()
            return lambda d: any(x == v for x in getter(d))
        if self._kw("greater", "than"):
            return _compare(getter, ">", self._value())
        if self._kw("less", "than"):
            return _compare(getter, "<", self._value())
        if self._kw("size"):
            op = self._op()
            n = self._value()
            return lambda d: _cmp(_size(getter, d), op, n)
        return _compare(getter, self._op(), self._value())

    def _op(self) -> str:
        self._ws()
        for op in ("==", "!=", ">=", "<=", ">", "<", "="):
            if self.s.startswith(op, self.i):
                self.i += len(op)
                return "==" if op == "=" else op
        if self._kw("greater", "than"):
            return ">"
        if self._kw("less", "than"):
            return "<"
        raise RqlError(f"unsupported operator near {self.s[self.i:self.i + 30]!r}")


def _literal(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _contains(have: Any, want: Any) -> bool:
    if isinstance(have, str):
        return str(want) in have
    if isinstance(have, list):
        return want in have
    return bool(have == want)


def _cmp(a: Any, op: str, b: Any) -> bool:
    try:
        return bool({"==": a == b, "!=": a != b, ">": a > b, "<": a < b, ">=": a >= b,
                "<=": a <= b}[op])
    except TypeError:
        return False


def _compare(getter: Callable[[Any], list[Any]], op: str, value: Any) -> Predicate:
    if op == "!=":
        return lambda d: bool(getter(d)) and all(x != value for x in getter(d))
    return lambda d: any(_cmp(x, op, value) for x in getter(d))


def _size(getter: Callable[[Any], list[Any]], data: Any) -> int:
    values = getter(data)
    multi = getattr(getter, "multi", False)
    if multi:
        return len(values)
    return len(values[0]) if values and isinstance(values[0], (list, dict, str)) else 0


def _path_getter(path: str) -> Callable[[Any], list[Any]]:
    steps: list[tuple[str, Any]] = []
    for m in re.finditer(r"\.?([A-Za-z_$][\w\-$]*)|\[(\*|\d+|\?\((.*?)\))\]", path):
        if m.group(1) is not None:
            steps.append(("key", m.group(1)))
        elif m.group(2) == "*":
            steps.append(("all", None))
        elif m.group(3) is not None:
            steps.append(("filter", _filter(m.group(3))))
        else:
            steps.append(("index", int(m.group(2))))

    def get(data: Any) -> list[Any]:
        current = [data]
        for kind, arg in steps:
            nxt: list[Any] = []
            for value in current:
                if kind == "key" and isinstance(value, dict) and value.get(arg) is not None:
                    nxt.append(value[arg])
                elif kind == "all" and isinstance(value, list):
                    nxt.extend(value)
                elif kind == "index" and isinstance(value, list) and -len(value) <= arg < len(value):
                    nxt.append(value[arg])
                elif kind == "filter" and isinstance(value, list):
                    nxt.extend(v for v in value if arg(v))
            current = nxt
        return current

    get.multi = any(kind in ("all", "filter") for kind, _ in steps)  # type: ignore[attr-defined]
    return get


def _filter(text: str) -> Callable[[Any], bool]:
    """``@.a == 'x' || @.b != 2 && @.c`` inside ``[?( ... )]``."""
    ors = []
    for alternative in text.split("||"):
        ands = []
        for term in alternative.split("&&"):
            m = re.match(r"\s*@\.([\w.]+)\s*(==|!=|>=|<=|>|<)?\s*(.*?)\s*$", term)
            if not m:
                raise RqlError(f"unsupported filter expression {term!r}")
            getter = _path_getter(m.group(1))
            op, raw = m.group(2), m.group(3).strip("'\"")
            value = _literal(raw) if m.group(3)[:1] not in ("'", '"') else raw
            ands.append((getter, op, value))
        ors.append(ands)

    def test(item: Any) -> bool:
        return any(all((bool(g(item)) if op is None else any(_cmp(x, op, v) for x in g(item)))
                       for g, op, v in ands) for ands in ors)
    return test
