"""Virtual meters (虚拟表): a meter defined as a sum of others, e.g. public area = incomer − Σ buildings.

The expression is parsed here, never evaluated by Python. Its grammar is small::

    expr   := [+|-] term { (+|-) term }
    term   := factor { * factor }
    factor := WORD | ( expr )

A WORD is a device id (letters, digits, ``_ . -``, starting with a letter or digit) or, next to a ``*``, a
number (``0.5``, ``12``). Because ids may hold ``-``, a minus between two ids needs a space before it (``a - b``;
``a-b`` is the one id ``a-b``). A product holds at most one meter and its numbers are its coefficient
(``0.5 * pump``, ``pump * 0.5``, ``2 * (a - b)``); a product of two meters, or of numbers only, is refused.

The result is a linear sum: device id → coefficient (the same id twice adds up; ``a - a`` leaves nothing and is
refused). Its cost is bounded: at most ``MAX_CHARS`` characters, ``MAX_TERMS`` words and ``MAX_DEPTH`` nested
parentheses. Every error is a ``ValueError`` whose message says what to fix.

On a campus, every id must be a meter of the same kind in the same site file, not the virtual meter itself;
a term may be another virtual meter, but no chain of them may come back to where it started (``check``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

MAX_CHARS = 4000
MAX_TERMS = 200
MAX_DEPTH = 16
MAX_COEFFICIENT = 1e9  # a coefficient's size, written or multiplied out (nested products, meters made of meters)
MAX_CHAIN = 16  # virtual meters made of virtual meters, this many deep at most

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")
_OPS = "+-*()"

Terms = dict[str, float]  # device id → coefficient, in order of first appearance


def _tokens(text: str) -> list[str]:
    if len(text) > MAX_CHARS:
        raise ValueError(f"the expression is {len(text)} characters long; at most {MAX_CHARS}")
    out: list[str] = []
    i, words = 0, 0
    while i < len(text):
        c = text[i]
        if c in " \t":
            i += 1
        elif c in _OPS:
            out.append(c)
            i += 1
        else:
            m = _WORD.match(text, i)
            if m is None:
                raise ValueError(f"unexpected {c!r} at character {i + 1}: use device ids, numbers, + - * and "
                                 "parentheses")
            words += 1
            if words > MAX_TERMS:
                raise ValueError(f"more than {MAX_TERMS} terms: split it into virtual meters of their own")
            out.append(m.group())
            i = m.end()
    if not out:
        raise ValueError("the expression is empty: give device ids joined by + and -, e.g. 'main - b1 - b2'")
    return out


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.at = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise ValueError("the expression ends too soon: a term is missing after the last operator")
        self.at += 1
        return tok

    def expr(self, depth: int) -> Terms:
        sign = 1.0
        if self.peek() in ("+", "-"):
            sign = -1.0 if self.take() == "-" else 1.0
        out: Terms = {}
        _add(out, self.term(depth), sign)
        while self.peek() in ("+", "-"):
            sign = -1.0 if self.take() == "-" else 1.0
            _add(out, self.term(depth), sign)
        return out

    def term(self, depth: int) -> Terms:
        coef = 1.0
        meter: Terms | None = None
        parts: list[Terms | float] = [self.factor(depth, self._starred())]
        while self.peek() == "*":
            self.take()
            parts.append(self.factor(depth, True))
        for part in parts:
            if isinstance(part, float):
                coef *= part
            elif meter is not None:
                raise ValueError("a product of two meters is not a meter: multiply a meter by numbers only")
            else:
                meter = part
        if meter is None:
            raise ValueError("a term of numbers only is not a meter: write e.g. '0.5 * pump'")
        if not math.isfinite(coef):
            raise ValueError("a coefficient is too large")
        return {k: v * coef for k, v in meter.items()}

    def _starred(self) -> bool:
        """Is the next factor a word followed by ``*`` (so a number there is a coefficient)?"""
        nxt = self.tokens[self.at + 1] if self.at + 1 < len(self.tokens) else None
        return nxt == "*"

    def factor(self, depth: int, in_product: bool) -> Terms | float:
        tok = self.take()
        if tok == "(":
            if depth >= MAX_DEPTH:
                raise ValueError(f"parentheses nest more than {MAX_DEPTH} deep")
            inner = self.expr(depth + 1)
            if self.peek() != ")":
                raise ValueError("a '(' is not closed: add ')'")
            self.take()
            return inner
        if tok in _OPS:
            raise ValueError(f"{tok!r} where a device id or a number belongs")
        if in_product and _NUMBER.fullmatch(tok):
            value = float(tok)
            if not math.isfinite(value) or value > 1e9:
                raise ValueError(f"coefficient {tok[:20]!r} is too large (at most 1e9)")
            return value
        return {tok: 1.0}


def _add(out: Terms, terms: Terms, sign: float) -> None:
    for k, v in terms.items():
        out[k] = out.get(k, 0.0) + sign * v


def parse(text: str) -> Terms:
    """The linear sum ``text`` writes: device id → coefficient (ValueError saying what to fix)."""
    if not isinstance(text, str):
        raise ValueError("a virtual meter's expression is text, e.g. 'main - b1 - b2'")
    p = _Parser(_tokens(text))
    out = p.expr(0)
    if p.peek() is not None:
        tok = p.peek() or ""
        hint = " (a minus between two ids needs a space before it: 'a - b')" if tok not in _OPS else ""
        raise ValueError(f"unexpected {tok!r} after a complete term: join terms with + or -{hint}")
    terms = {k: v for k, v in out.items() if v != 0.0}
    if not terms:
        raise ValueError("the expression adds up to nothing (every meter cancels out)")
    _bounded(terms)
    return terms


def _bounded(terms: Terms, made_of: str = "") -> None:
    for k, v in terms.items():
        if not math.isfinite(v) or abs(v) > MAX_COEFFICIENT:
            raise ValueError(f"the coefficient of {k!r}{made_of} multiplies out above {MAX_COEFFICIENT:g}: "
                             "write it smaller")


def check(virtuals: Mapping[str, str], kinds: Mapping[str, str]) -> dict[str, Terms]:
    """Every virtual meter's parsed terms, checked against a site: ``virtuals`` maps a virtual meter's id to its
    expression, ``kinds`` every meter's id to its kind. ValueError naming the meter and what to fix."""
    parsed: dict[str, Terms] = {}
    for vid, text in virtuals.items():
        try:
            terms = parse(text)
        except ValueError as exc:
            raise ValueError(f"virtual meter {vid!r}: {exc}") from None
        for tid in terms:
            if tid == vid:
                raise ValueError(f"virtual meter {vid!r} names itself: a meter cannot be made of itself")
            if tid not in kinds:
                raise ValueError(f"virtual meter {vid!r} names unknown device {tid!r}: add it to this site's "
                                 "devices or fix the id")
            if kinds[tid] != kinds[vid]:
                raise ValueError(f"virtual meter {vid!r} is {kinds[vid]} but {tid!r} is {kinds[tid]}: a virtual "
                                 "meter adds meters of its own kind only")
        parsed[vid] = terms
    expanded(parsed)  # raises on a cycle, a chain too deep or a coefficient too large once multiplied out
    return parsed


def order(parsed: Mapping[str, Terms]) -> list[str]:
    """The virtual meters, each after the virtual meters it names (ValueError on a cycle, naming it)."""
    out: list[str] = []
    state: dict[str, int] = {}  # 1: being visited, 2: done

    def visit(vid: str, path: list[str]) -> None:
        # recursion is at most MAX_CHAIN + 1 deep: a longer chain is refused first
        if state.get(vid) == 2:
            return
        if state.get(vid) == 1:
            cycle = path[path.index(vid):] + [vid]
            raise ValueError(f"virtual meters name each other in a circle ({' → '.join(cycle)}): one of them must "
                             "be made of real meters only")
        if len(path) >= MAX_CHAIN:
            raise ValueError(f"virtual meters are made of virtual meters more than {MAX_CHAIN} deep "
                             f"({' → '.join([*path[:3], '…', vid])}): make one of them of real meters")
        state[vid] = 1
        for tid in parsed[vid]:
            if tid in parsed:
                visit(tid, [*path, vid])
        state[vid] = 2
        out.append(vid)

    for vid in parsed:
        visit(vid, [])
    return out


def expand(parsed: Mapping[str, Terms], vid: str) -> Terms:
    """A virtual meter as a sum of real meters only (virtual terms replaced by their own terms)."""
    return expanded(parsed)[vid]


def expanded(parsed: Mapping[str, Terms]) -> dict[str, Terms]:
    """Every virtual meter as a sum of real meters only, each worked out once, in :func:`order` (so a meter made of
    meters made of meters costs its terms, never their paths). ValueError on a cycle, a chain deeper than
    :data:`MAX_CHAIN` or a coefficient that multiplies out above :data:`MAX_COEFFICIENT`."""
    out: dict[str, Terms] = {}
    depth: dict[str, int] = {}
    for vid in order(parsed):
        depth[vid] = 1 + max((depth[t] for t in parsed[vid] if t in depth), default=0)
        if depth[vid] > MAX_CHAIN:
            raise ValueError(f"virtual meter {vid!r} is made of virtual meters more than {MAX_CHAIN} deep: make "
                             "one of them of real meters")
        acc: Terms = {}
        for tid, coef in parsed[vid].items():
            if tid in out:
                _add(acc, out[tid], coef)
            else:
                acc[tid] = acc.get(tid, 0.0) + coef
        acc = {k: v for k, v in acc.items() if v != 0.0}
        try:
            _bounded(acc, f" in virtual meter {vid!r}")
        except ValueError as exc:
            raise ValueError(f"virtual meter {vid!r}: {exc}") from None
        out[vid] = acc
    return out


def combine(terms: Mapping[str, float], values: Mapping[str, Iterable[float]], n: int) -> list[float]:
    """Σ coefficient × each term's values, element by element (a term without values counts as zeros)."""
    out = [0.0] * n
    for tid, coef in terms.items():
        for i, v in enumerate(values.get(tid, ())):
            if i < n:
                out[i] += coef * v
    return out
