"""A small, safe expression language for eligibility tests and cost formulas.

``"net_income_pc < dibao_standard and hh_size >= 2"`` or
``"max(0, dibao_standard - net_income_pc) * hh_size"``: column names, numbers, quoted
text, ``+ - * /``, comparisons (chains too), ``and``/``or``/``not``, parentheses and the
functions ``min``, ``max`` and ``abs``. The text is parsed with :func:`ast.parse` (which
never runs it) and every node is checked against that whitelist before it becomes a
polars expression; nothing is ever evaluated by Python.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import polars as pl

__all__ = ["FUNCTIONS", "MAX_LENGTH", "Expression", "parse"]

#: Functions an expression may call, with how many arguments each takes (min, max).
FUNCTIONS = {"min": (2, 8), "max": (2, 8), "abs": (1, 1)}
#: Longest expression accepted, in characters (a catalogue's are a line or two).
MAX_LENGTH = 500

Kind = Literal["bool", "number"]
_Got = Literal["bool", "number", "text", "column"]
_KIND = {"bool": "a true/false test", "number": "a number", "text": "text", "column": "a column"}
_ARITHMETIC: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
}
_COMPARE: dict[type[ast.cmpop], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
}
# the polars operation of each operator (pl.Expr overloads them)
_APPLY: dict[type[ast.operator] | type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_EXAMPLE = {
    "bool": "e.g. 'net_income_pc < dibao_standard and hh_size >= 2'",
    "number": "e.g. 'max(0, dibao_standard - net_income_pc) * hh_size'",
}


class ExpressionError(ValueError):
    """An expression that does not parse or uses something outside the language."""


@dataclass(frozen=True)
class Expression:
    """A parsed expression over the columns of a household frame.

    Build one with :func:`parse`; it is immutable and hashable.

    Parameters
    ----------
    text : str
        The expression as written.
    kind : {"bool", "number"}
        What it returns: a true/false test (eligibility) or a number (a cost).
    columns : frozenset of str
        The column names it reads.

    Examples
    --------
    >>> import polars as pl
    >>> from needsid.allocation._expressions import parse
    >>> e = parse("max(0, standard - income) * size", "number")
    >>> sorted(e.columns)
    ['income', 'size', 'standard']
    >>> frame = pl.DataFrame({"standard": [600.0, 600.0], "income": [450.0, 700.0],
    ...                       "size": [2, 3]})
    >>> frame.select(e.expr())["value"].to_list()
    [300.0, 0.0]
    """

    text: str
    kind: Kind
    columns: frozenset[str] = field(compare=False)
    _tree: ast.expr = field(repr=False, compare=False)

    def expr(self) -> pl.Expr:
        """Return the polars expression, named ``value``.

        Returns
        -------
        polars.Expr
            Boolean for a test (null where a column read is null), Float64 for a number.

        Examples
        --------
        >>> import polars as pl
        >>> from needsid.allocation._expressions import parse
        >>> test = parse("a < 2 or not b", "bool")
        >>> pl.DataFrame({"a": [1, 3, 3], "b": [True, True, False]}).select(
        ...     test.expr())["value"].to_list()
        [True, False, True]
        """
        out = _build(self._tree)
        out = out.cast(pl.Boolean) if self.kind == "bool" else out.cast(pl.Float64)
        return out.alias("value")


def _fail(text: str, why: str, kind: Kind) -> ExpressionError:
    return ExpressionError(
        f"Got {text!r}: {why}. Expected {_KIND[kind]} over column names, numbers, "
        "+ - * /, comparisons, and/or/not and min/max/abs, "
        f"{_EXAMPLE[kind]}."
    )


@lru_cache(maxsize=1024)
def parse(text: str, kind: Kind) -> Expression:
    """Parse and check an expression, without running it.

    Parameters
    ----------
    text : str
        The expression, at most :data:`MAX_LENGTH` characters.
    kind : {"bool", "number"}
        What it must return.

    Returns
    -------
    Expression
        The checked expression.

    Raises
    ------
    ExpressionError
        A :class:`ValueError` naming what is wrong: a syntax error, a name or operator
        outside the language, a call with the wrong number of arguments, or a test where
        a number is expected (or the reverse).

    Examples
    --------
    >>> from needsid.allocation._expressions import parse
    >>> parse("hh_size >= 2", "bool").columns
    frozenset({'hh_size'})
    >>> parse("__import__('os')", "bool")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    needsid.allocation._expressions.ExpressionError: Got "__import__('os')": ...
    """
    if not isinstance(text, str) or not text.strip():
        raise _fail(str(text), "expected non-empty text", kind)
    if len(text) > MAX_LENGTH:
        raise _fail(text[:40] + "...", f"longer than {MAX_LENGTH} characters", kind)
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise _fail(text, f"not valid syntax ({exc.msg})", kind) from None
    columns: set[str] = set()
    got = _check(tree, text, kind, columns)
    if got not in (kind, "column"):
        raise _fail(text, f"this is {_KIND[got]}, not {_KIND[kind]}", kind)
    return Expression(text, kind, frozenset(columns), tree)


def _check(node: ast.expr, text: str, kind: Kind, columns: set[str]) -> _Got:
    """Return what ``node`` computes, raising on anything outside the language."""

    def want(child: ast.expr, expected: tuple[_Got, ...], where: str) -> _Got:
        got = _check(child, text, kind, columns)
        if got != "column" and got not in expected:
            need = " or ".join(_KIND[e] for e in expected)
            raise _fail(text, f"{where} needs {need}, got {_KIND[got]}", kind)
        return got

    if isinstance(node, ast.Name):
        columns.add(node.id)
        return "column"  # a number, a true/false or a text column: known only at run time
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return "bool"
        if isinstance(node.value, int | float):
            return "number"
        if isinstance(node.value, str):
            return "text"
        raise _fail(text, f"the constant {node.value!r} is not a number or text", kind)
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            want(value, ("bool",), "and/or")
        return "bool"
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            want(node.operand, ("bool",), "not")
            return "bool"
        if isinstance(node.op, ast.USub | ast.UAdd):
            want(node.operand, ("number",), "a sign")
            return "number"
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        op = _ARITHMETIC[type(node.op)]
        want(node.left, ("number",), op)
        want(node.right, ("number",), op)
        return "number"
    if isinstance(node, ast.Compare) and all(type(o) in _COMPARE for o in node.ops):
        kinds = {
            want(o, ("number", "text"), "a comparison") for o in (node.left, *node.comparators)
        }
        if {"number", "text"} <= kinds:
            raise _fail(text, "a comparison of a number with text", kind)
        return "bool"
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
        if name not in FUNCTIONS:
            raise _fail(text, f"{name!r} is not one of the functions {', '.join(FUNCTIONS)}", kind)
        low, high = FUNCTIONS[name]
        if node.keywords or not low <= len(node.args) <= high:
            raise _fail(text, f"{name}() takes {low}..{high} positional arguments", kind)
        for arg in node.args:
            want(arg, ("number",), f"{name}()")
        return "number"
    raise _fail(text, f"{ast.unparse(node)!r} is outside the expression language", kind)


def _build(node: ast.expr) -> pl.Expr:
    """Translate a checked tree into a polars expression."""
    if isinstance(node, ast.Name):
        return pl.col(node.id)
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool | str):
            return pl.lit(value)
        assert isinstance(value, int | float)  # _check allowed nothing else
        return pl.lit(float(value))
    if isinstance(node, ast.BoolOp):
        parts = [_build(v) for v in node.values]
        out = parts[0]
        for part in parts[1:]:
            out = (out & part) if isinstance(node.op, ast.And) else (out | part)
        return out
    if isinstance(node, ast.UnaryOp):
        inner = _build(node.operand)
        if isinstance(node.op, ast.Not):
            return ~inner
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        result: pl.Expr = _APPLY[type(node.op)](_build(node.left), _build(node.right))
        return result
    if isinstance(node, ast.Compare):
        operands = [_build(o) for o in (node.left, *node.comparators)]
        tests = [
            _APPLY[type(op)](a, b)
            for op, a, b in zip(node.ops, operands, operands[1:], strict=False)
        ]
        test: pl.Expr = tests[0]
        for t in tests[1:]:
            test = test & t
        return test
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [_build(a) for a in node.args]
        if node.func.id == "abs":
            return args[0].abs()
        # min/max of nulls stay null (unlike min_horizontal, which skips them)
        horizontal = pl.min_horizontal if node.func.id == "min" else pl.max_horizontal
        missing = pl.any_horizontal([a.is_null() for a in args])
        return pl.when(missing).then(None).otherwise(horizontal(args))
    raise AssertionError(f"unchecked node {ast.dump(node)}")  # pragma: no cover
