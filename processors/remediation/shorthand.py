"""The AWS CLI's shorthand syntax for structured parameters, and typing values by their shape.

``BlockPublicAcls=true,IgnorePublicAcls=true`` and
``IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=0.0.0.0/0}]`` are how suggested commands
write structures. This parses the subset the remediation families need: ``key=value`` pairs,
nested ``{...}`` structures, ``[...]`` lists, quoted scalars, and ``Key=a,b`` lists of scalars.
Anything else raises :class:`ShorthandError` with the position, so a command is refused with a
reason instead of being guessed at. :func:`coerce` then gives each value the type botocore's model
says (``"true"`` → ``True``, ``"22"`` → ``22``).
"""

from __future__ import annotations

from typing import Any

from processors.remediation.ports import ShapeInfo

__all__ = ["ShorthandError", "coerce", "parse_shorthand"]

_MAX_DEPTH = 8


class ShorthandError(ValueError):
    """The text is not shorthand this parser understands."""


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> ShorthandError:
        return ShorthandError(f"{what} at position {self.pos} of {self.text[:80]!r}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def structure(self, closing: str, depth: int) -> dict[str, Any]:
        if depth > _MAX_DEPTH:
            raise self.fail("nesting too deep")
        result: dict[str, Any] = {}
        while True:
            key = self.key()
            if key in result:
                raise self.fail(f"key {key!r} given twice")
            result[key] = self.value(closing, depth, after_key=True)
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() == closing:
                return result
            raise self.fail("expected ',' or the end")

    def key(self) -> str:
        start = self.pos
        while self.peek() and (self.peek().isalnum() or self.peek() in "_-.:"):
            self.pos += 1
        key = self.text[start:self.pos]
        if not key or self.peek() != "=":
            raise self.fail("expected key=value")
        self.pos += 1
        return key

    def value(self, closing: str, depth: int, *, after_key: bool) -> Any:
        char = self.peek()
        if char == "{":
            self.pos += 1
            inner = self.structure("}", depth + 1)
            self.pos += 1
            return inner
        if char == "[":
            self.pos += 1
            items: list[Any] = []
            while self.peek() != "]":
                if not self.peek():
                    raise self.fail("unclosed '['")
                items.append(self.value("]", depth + 1, after_key=False))
                if self.peek() == ",":
                    self.pos += 1
            self.pos += 1
            return items
        scalar = self.scalar(closing)
        if not after_key:
            return scalar
        # `Key=a,b,c`: items without '=' after a scalar make the value a list.
        items = [scalar]
        while self.peek() == "," and not self._next_is_pair(closing):
            self.pos += 1
            items.append(self.scalar(closing))
        return scalar if len(items) == 1 else items

    def _next_is_pair(self, closing: str) -> bool:
        rest = self.text[self.pos + 1:]
        end = len(rest)
        for stop in (",", closing, "]", "}"):
            index = rest.find(stop) if stop else -1
            if index != -1:
                end = min(end, index)
        return "=" in rest[:end]

    def scalar(self, closing: str) -> str:
        if self.peek() and self.peek() in "\"'":
            quote = self.peek()
            end = self.text.find(quote, self.pos + 1)
            if end == -1:
                raise self.fail("unclosed quote")
            value = self.text[self.pos + 1:end]
            self.pos = end + 1
            return value
        start = self.pos
        while self.peek() and self.peek() not in {",", "]", "}", closing} - {""}:
            if self.peek() in "{[=":
                raise self.fail(f"unexpected {self.peek()!r}")
            self.pos += 1
        if start == self.pos:
            raise self.fail("empty value")
        return self.text[start:self.pos]


def parse_shorthand(text: str) -> dict[str, Any]:
    """One structure in shorthand (``Key=Value,Key2=[...]``); raises :class:`ShorthandError`."""
    parser = _Parser(text)
    result = parser.structure("", 0)
    if parser.pos != len(text):
        raise parser.fail("trailing text")
    return result


def coerce(value: Any, shape: ShapeInfo, path: str = "") -> Any:
    """``value`` with scalars typed as ``shape`` says; raises :class:`ShorthandError` when impossible."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise ShorthandError(f"{path or 'value'} must be a structure")
        if not shape.members:
            return value
        unknown = sorted(set(value) - set(shape.members))
        if unknown:
            raise ShorthandError(f"{path or 'value'} has unknown member(s) {', '.join(unknown)}; "
                                 f"expected some of {', '.join(shape.members)}")
        return {k: coerce(v, shape.members[k], f"{path}.{k}".lstrip(".")) for k, v in value.items()}
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        assert shape.member is not None
        return [coerce(item, shape.member, f"{path}[{i}]") for i, item in enumerate(items)]
    if kind == "map":
        if not isinstance(value, dict):
            raise ShorthandError(f"{path or 'value'} must be a map")
        assert shape.value is not None
        return {str(k): coerce(v, shape.value, f"{path}.{k}") for k, v in value.items()}
    if kind == "boolean" and isinstance(value, str):
        if value.lower() not in ("true", "false"):
            raise ShorthandError(f"{path or 'value'} must be true or false, not {value[:40]!r}")
        return value.lower() == "true"
    if kind in ("integer", "long") and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ShorthandError(f"{path or 'value'} must be an integer, not {value[:40]!r}") from None
    if kind in ("float", "double") and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ShorthandError(f"{path or 'value'} must be a number, not {value[:40]!r}") from None
    if kind == "blob":
        raise ShorthandError(f"{path or 'value'} is binary; binary parameters are not supported")
    return value
