"""Reading a rule-set file's YAML: plain data only, bounded, and every fault located.

PyYAML's safe loader builds plain data (no tags that build objects). On top of it this reader
refuses what would otherwise end in a traceback or unbounded work, each time with the field
path, line and column of the fault: a key given twice in a mapping (instead of letting the last
one win), a value that looks like a date or number but is not one (``2026-02-30``, an integer
thousands of digits long), nesting deeper than :data:`MAX_YAML_DEPTH`, a document that expands
past :data:`MAX_YAML_NODES` values through its aliases (or refers to itself), and text larger
than :data:`MAX_RULES_BYTES`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from routing_rules.limits import MAX_RULES_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES


@dataclass(frozen=True, slots=True)
class Problem:
    """One error or warning, located by the path of the field it concerns."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def format_path(loc: Sequence[int | str]) -> str:
    """``("municipalities", 3, "destinations", 0)`` → ``municipalities[3].destinations[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def shown(value: object, limit: int = 60) -> str:
    """A value as an error message echoes it: its repr, cut short when long.

    >>> shown("2026-02-30")
    "'2026-02-30'"
    >>> shown("9" * 100)
    "'99999999999999999999999999999999999999999999999999999999…' (100 characters)"
    """
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str | bytes) else ""
    quote = text[0] if text[0] in "'\"" else ""
    return f"{text[: limit - 4]}…{quote}{size}"


def where(mark: yaml.Mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


class _Refused(yaml.YAMLError):
    """The file cannot be read as data; ``problem`` says where and why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class _RuleLoader(yaml.SafeLoader):
    """The safe loader, bounded in depth and size, noting duplicate keys and locating faults."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[Problem] = []
        self._depth = 0
        self._paths: dict[int, list[int | str]] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark: yaml.Mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _Refused(
                    Problem(
                        where(mark),
                        f"nested more than {MAX_YAML_DEPTH} levels deep; a rule set needs "
                        "far fewer",
                    )
                )
            node: yaml.Node | None = super().compose_node(parent, index)
            return node
        finally:
            self._depth -= 1

    def construct_document(self, node: yaml.Node) -> Any:
        self._check_size(node)
        self._walk(node, [], set())
        return super().construct_document(node)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError, TypeError) as exc:
            path = format_path(self._paths.get(id(node), []))
            value = node.value if isinstance(node, yaml.ScalarNode) else node.tag
            at = where(node.start_mark)
            message = f"{shown(value)} {_unreadable(node.tag, exc)} ({at})"
            raise _Refused(Problem(path, message)) from None

    def _check_size(self, root: yaml.Node) -> None:
        """Refuse a document that refers to itself or expands past :data:`MAX_YAML_NODES`."""
        sizes: dict[int, int] = {}
        open_nodes: set[int] = set()

        def size(node: yaml.Node) -> int:
            key = id(node)
            if key in sizes:
                return sizes[key]
            if key in open_nodes:
                raise _Refused(
                    Problem(where(node.start_mark), "an alias refers to a value that contains it")
                )
            open_nodes.add(key)
            total = 1
            if isinstance(node, yaml.SequenceNode):
                total += sum(size(item) for item in node.value)
            elif isinstance(node, yaml.MappingNode):
                total += sum(size(k) + size(v) for k, v in node.value)
            open_nodes.discard(key)
            if total > MAX_YAML_NODES:
                raise _Refused(
                    Problem(
                        where(node.start_mark),
                        f"expands to more than {MAX_YAML_NODES} values through its aliases",
                    )
                )
            sizes[key] = total
            return total

        size(root)

    def _walk(self, node: yaml.Node, loc: list[int | str], seen: set[int]) -> None:
        """Note every node's field path, and every mapping key given twice."""
        if id(node) in seen:  # an alias to a node already walked
            return
        seen.add(id(node))
        self._paths[id(node)] = loc
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, [*loc, i], seen)
            return
        if not isinstance(node, yaml.MappingNode):
            return
        first: dict[object, yaml.Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self._scalar_key(key_node)
            name = "?" if key is None else str(key)
            self._paths[id(key_node)] = [*loc, name]
            if key is not None and key not in first:
                first[key] = key_node.start_mark
            elif key is not None:
                self.duplicates.append(
                    Problem(
                        format_path([*loc, name]),
                        f"duplicate key {name!r} {_again(key_node.start_mark, first[key])}; "
                        "give each key once",
                    )
                )
            self._walk(value_node, [*loc, name], seen)

    def _scalar_key(self, node: yaml.Node) -> object | None:
        """The key as the loader will read it (``1`` and ``01`` are the same integer)."""
        if not isinstance(node, yaml.ScalarNode):
            return None
        construct = self.yaml_constructors.get(node.tag) or self.yaml_constructors.get(None)
        if construct is None:
            return None
        try:
            key: object = construct(self, node)
            hash(key)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            return None
        return key


def _unreadable(tag: str, exc: Exception) -> str:
    """Why a scalar that looks like a date or a number is not one."""
    if tag.endswith(":timestamp"):
        return f"is not a date or time ({exc})"
    if tag.endswith((":int", ":float")):
        return "is not a number a rule set can hold (too many digits)"
    return f"cannot be read ({exc})"


def _again(again: yaml.Mark, first: yaml.Mark) -> str:
    if again.line != first.line:
        return f"on line {again.line + 1} (first given on line {first.line + 1})"
    return (
        f"on line {again.line + 1}, column {again.column + 1} (first given at column "
        f"{first.column + 1})"
    )


def too_large(text: str) -> Problem | None:
    """The problem with a rule-set text over :data:`MAX_RULES_BYTES`, else None."""
    if len(text) <= MAX_RULES_BYTES // 4:
        return None
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size <= MAX_RULES_BYTES:
        return None
    return Problem("", f"{size} bytes, more than the {MAX_RULES_BYTES} a rule set may hold")


def load_yaml(text: str) -> tuple[object, list[Problem], bool]:
    """The YAML data, the problems found reading it, and whether the data is usable at all.

    Never raises for bad input: every fault becomes a :class:`Problem`.
    """
    oversize = too_large(text)
    if oversize is not None:
        return None, [oversize], False
    loader: _RuleLoader | None = None
    try:
        loader = _RuleLoader(text)
        data = loader.get_single_data()
    except _Refused as exc:
        return None, [exc.problem], False
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position)
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1)
        at = f"line {line + 1}, column {column + 1}"
        character = f"#x{exc.character:04x}" if isinstance(exc.character, int) else "a byte"
        return (
            None,
            [Problem(at, f"not valid YAML: the character {character} is not allowed")],
            False,
        )
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        return None, [Problem(where(mark) if mark else "", f"not valid YAML: {problem}")], False
    finally:
        if loader is not None:
            loader.dispose()
    return data, list(loader.duplicates), True
