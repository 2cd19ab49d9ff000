"""Griffe extensions for needsid's API reference (see mkdocs.yml).

``SphinxRoles``: numpydoc docstrings cross-reference with Sphinx roles
(``:func:`load_spec```, ``:class:`~needsid.data.HouseholdData```), which
mkdocstrings prints as they are (":func:load_spec"). They become optional
cross-references: a link where the target is rendered in the site, code text where it
is not (an optional reference never fails the strict build).

``PydanticInit``: give pydantic models the ``__init__`` pydantic gives them.

needsid's configs (``FeatureSpec``, ``SimulationConfig``, ``TrainConfig``, ...) are
pydantic models whose numpydoc ``Parameters`` document their fields, which is what
``Model(**fields)`` takes. griffe reads the source without running it, so it does not
see the constructor pydantic builds, and its numpy parser then warns that every
documented parameter "does not appear in the function signature". Like griffe's own
dataclasses extension, this one writes the keyword-only ``__init__`` from the annotated
fields, so the check keeps working for every other docstring and the rendered
signature shows the real fields.
"""

from __future__ import annotations

import html
import re

from griffe import (
    Attribute,
    Class,
    Expr,
    ExprCall,
    ExprKeyword,
    Extension,
    Function,
    GriffeLoader,
    Module,
    NameResolutionError,
    Object,
    Parameter,
    ParameterKind,
    Parameters,
)

PYDANTIC_BASES = {"pydantic.BaseModel", "pydantic.main.BaseModel"}
ROLE = re.compile(
    r":(?:py:)?(?:func|class|meth|data|attr|mod|exc|obj|const):`(~?)([\w.]+)(\(\))?`"
)


def _objects(obj: Module | Class, done: set[str]):
    """Every object (not alias) of a module or class, depth first, each once."""
    if obj.path in done:
        return
    done.add(obj.path)
    yield obj
    for member in list(obj.members.values()):
        if member.is_alias:
            continue
        if isinstance(member, Module | Class):
            yield from _objects(member, done)
        else:
            yield member


def _resolve(obj: Object, target: str) -> str:
    scope = obj if isinstance(obj, Module | Class) else obj.parent
    head, dot, tail = target.partition(".")
    try:
        return scope.resolve(head) + dot + tail
    except (NameResolutionError, AttributeError):
        return target


def _role(obj: Object, match: re.Match) -> str:
    short, target, call = match.groups()
    shown = (target.rsplit(".", 1)[-1] if short else target) + (call or "")
    identifier = html.escape(_resolve(obj, target), quote=True)
    return (
        f'<autoref identifier="{identifier}" optional><code>{html.escape(shown)}</code></autoref>'
    )


class SphinxRoles(Extension):
    """Turn Sphinx cross-reference roles into optional mkdocstrings cross-references."""

    def on_package(self, *, pkg: Module, loader: GriffeLoader, **kwargs) -> None:
        """Rewrite the docstrings of a package once it is loaded."""
        for obj in _objects(pkg, set()):
            if obj.docstring is not None and ROLE.search(obj.docstring.value):
                obj.docstring.value = ROLE.sub(lambda m, o=obj: _role(o, m), obj.docstring.value)


def _base_path(base) -> str:
    return base.canonical_path if isinstance(base, Expr) else str(base)


def _is_model(cls: Class, loader: GriffeLoader, seen: set[str]) -> bool:
    for base in cls.bases:
        path = _base_path(base)
        if path in PYDANTIC_BASES:
            return True
        if path in seen:
            continue
        seen.add(path)
        try:
            parent = loader.modules_collection[path]
        except (KeyError, ValueError):
            continue
        if isinstance(parent, Class) and _is_model(parent, loader, seen):
            return True
    return False


def _fields(cls: Class, loader: GriffeLoader) -> list[Parameter]:
    # fields of the pydantic parents first, as pydantic orders them
    params: dict[str, Parameter] = {}
    for base in cls.bases:
        try:
            parent = loader.modules_collection[_base_path(base)]
        except (KeyError, ValueError):
            continue
        if isinstance(parent, Class):
            params.update((p.name, p) for p in _fields(parent, loader))
    for member in cls.members.values():
        if member.is_alias or not isinstance(member, Attribute):
            continue
        if member.annotation is None or member.name.startswith("_"):
            continue
        if member.name == "model_config" or "property" in member.labels:
            continue
        if "class-attribute" in member.labels and "instance-attribute" not in member.labels:
            # a ClassVar (griffe unwraps it but labels the attribute) is no field
            if "ClassVar" in str(member.annotation) or member.value is None:
                continue
        params[member.name] = Parameter(
            member.name,
            annotation=member.annotation,
            kind=ParameterKind.keyword_only,
            default=_default(member.value),
            docstring=member.docstring,
        )
    return list(params.values())


def _default(value):
    # `x: int = Field(3, ge=1)` defaults to 3; `Field(ge=1)` alone is a required field
    if not (isinstance(value, ExprCall) and str(value.function) in {"Field", "pydantic.Field"}):
        return value
    for argument in value.arguments:
        if isinstance(argument, ExprKeyword):
            if argument.name in {"default", "default_factory"}:
                if argument.name == "default":
                    return argument.value
                return ExprCall(function=argument.value, arguments=[])
        else:
            return argument
    return None


class PydanticInit(Extension):
    """Write ``__init__(self, *, field=default, ...)`` on pydantic models without one."""

    def on_package(self, *, pkg: Module, loader: GriffeLoader, **kwargs) -> None:
        """Add ``__init__`` to the models of a package once it is loaded."""
        for obj in list(_objects(pkg, set())):
            if not isinstance(obj, Class) or "__init__" in obj.members:
                continue
            if _is_model(obj, loader, set()):
                self_param = Parameter("self", kind=ParameterKind.positional_or_keyword)
                init = Function(
                    "__init__",
                    lineno=0,
                    endlineno=0,
                    parent=obj,
                    parameters=Parameters(self_param, *_fields(obj, loader)),
                    returns="None",
                )
                obj.set_member("__init__", init)
