"""Reading YAML that a user wrote: no aliases, bounded depth and size.

PyYAML's safe loader still expands aliases, so a few hundred bytes of nested aliases
become gigabytes (a "billion laughs"), and deep nesting ends in a RecursionError. Every
YAML file needsid reads goes through :func:`safe_load`, which refuses both with an error
that names the file and the line.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["MAX_DEPTH", "MAX_NODES", "UnsafeYAMLError", "safe_load"]

#: Deepest nesting of mappings and lists accepted.
MAX_DEPTH = 50
#: Most nodes (scalars, mappings, lists) accepted in one document.
MAX_NODES = 200_000


class UnsafeYAMLError(yaml.YAMLError, ValueError):
    """A YAML document uses aliases or is too deep or too large to read safely."""


def _loader(source: str) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        depth = 0
        nodes = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise UnsafeYAMLError(
                    f"{source}, line {event.start_mark.line + 1}: YAML aliases (*{event.anchor})"
                    " are refused: a few nested aliases can expand to gigabytes. Write the "
                    "value out where it is used."
                )
            Loader.nodes += 1
            Loader.depth += 1
            try:
                if Loader.depth > MAX_DEPTH or Loader.nodes > MAX_NODES:
                    mark = self.peek_event().start_mark
                    what = (
                        f"nested deeper than {MAX_DEPTH} levels"
                        if Loader.depth > MAX_DEPTH
                        else f"more than {MAX_NODES:,} values"
                    )
                    raise UnsafeYAMLError(
                        f"{source}, line {mark.line + 1}: the document is {what}; a needsid "
                        "config or rule set is far smaller. Check the file."
                    )
                return super().compose_node(parent, index)
            finally:
                Loader.depth -= 1

    return Loader


def safe_load(text: str, source: str = "<yaml>") -> Any:
    r"""Parse one YAML document like ``yaml.safe_load``, refusing aliases and huge inputs.

    Parameters
    ----------
    text : str
        The document.
    source : str, default "<yaml>"
        Where it came from (a path), for the error message.

    Returns
    -------
    object
        The parsed value.

    Raises
    ------
    UnsafeYAMLError
        On an alias, nesting deeper than ``MAX_DEPTH`` or more than ``MAX_NODES`` values;
        a ``yaml.YAMLError`` (and a ``ValueError``).

    Examples
    --------
    >>> safe_load("capacity: 0.05")
    {'capacity': 0.05}
    >>> try:
    ...     safe_load("a: &x [1]\nb: *x", "flag.yaml")
    ... except UnsafeYAMLError as err:
    ...     print(str(err).split(":")[0])
    flag.yaml, line 2
    """
    return yaml.load(text, Loader=_loader(source))  # noqa: S506 - a SafeLoader subclass
