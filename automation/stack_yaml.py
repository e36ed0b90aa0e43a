"""Reading a stack file's YAML strictly: every refusal names the line and column.

PyYAML's safe loader accepts two things Pulumi users trip on silently: a key given twice (the last copy
wins) and aliases that expand into a huge document (a few lines of nested aliases become billions of
nodes once the program serialises the configuration). Both are refused here, before any value is
used, along with what PyYAML itself refuses (tabs, control characters, bad indentation), which it
reports with a position this module turns into a line and column.
"""

from __future__ import annotations

from typing import Any, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_EXPANDED_NODES = 20_000
"""A stack file of this project is a few hundred nodes; aliases may not grow it past this bound."""


class StackYamlError(Exception):
    def __init__(self, line: int, column: int, found: str, expected: str) -> None:
        super().__init__(f"line {line}, column {column}: {expected}")
        self.line = line
        self.column = column
        self.found = found
        self.expected = expected


MERGE_TAG = "tag:yaml.org,2002:merge"


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing duplicate keys (the pure-Python one: its errors carry positions)."""

    def _key_name(self, key_node: Node) -> str:
        """The key as the program sees it: Pulumi passes a mapping on as JSON, whose keys are text, so a
        whole-number or true/false key becomes its JSON text (``1`` -> ``"1"``, ``true`` -> ``"true"``)
        and ``1`` and ``true`` stay two keys (Python's ``1 == True`` would merge them in a dict)."""
        key = cast(object, self.construct_object(key_node, deep=True))  # pyright: ignore[reportUnknownMemberType] - untyped stub
        if isinstance(key, str):
            return key
        if isinstance(key, bool):
            return "true" if key else "false"
        if isinstance(key, int):
            return str(key)
        line, column = _mark(key_node)
        found = (
            str(key_node.value)
            if isinstance(key_node, ScalarNode)
            else "a sequence"
            if isinstance(key_node, SequenceNode)
            else "a mapping"
        )
        raise StackYamlError(line, column, found, "expected a key that is text, a whole number or true/false")

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        # Two keys are the same if they are written the same (gopkg.in/yaml.v3, which Pulumi reads stack
        # files with, refuses "mapping key ... already defined" by comparing the keys' kind and text:
        # decode.go, decoder.mapping, v3.0.1), or if they name the same key once read (``1`` and
        # ``0x1``), where the last copy would silently win.
        by_name: dict[str, Node] = {}
        by_text: dict[str, Node] = {}
        for key_node, _value in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            name = self._key_name(key_node)
            text = key_node.value if isinstance(key_node, ScalarNode) else None
            first = by_name.get(name) or (by_text.get(text) if text is not None else None)
            if first is not None:
                line, column = _mark(key_node)
                first_text = first.value if isinstance(first, ScalarNode) else name
                spelled = "" if first_text == text else f", written {first_text}"
                raise StackYamlError(
                    line,
                    column,
                    str(text if text is not None else name),
                    f"key {name!r} is given twice (first on line {first.start_mark.line + 1}{spelled}); "
                    "YAML keeps only the last copy: expected each key once",
                )
            by_name[name] = key_node
            if text is not None:
                by_text[text] = key_node
        self.flatten_mapping(node)  # the merge keys (<<: *base); a key of the mapping's own wins
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            mapping[self._key_name(key_node)] = self.construct_object(value_node, deep=deep)  # pyright: ignore[reportUnknownMemberType] - untyped stub
        return mapping


def _expanded_size(node: Node, memo: dict[int, int], bound: int) -> int:
    """How many nodes ``node`` stands for once every alias is expanded (shared nodes counted each time)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = bound + 1  # a node reached again while being counted is a recursive alias
    total = 1
    if isinstance(node, SequenceNode):
        for item in node.value:
            total += _expanded_size(item, memo, bound)
            if total > bound:
                break
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            total += _expanded_size(key, memo, bound) + _expanded_size(value, memo, bound)
            if total > bound:
                break
    elif not isinstance(node, ScalarNode):
        total = bound + 1
    memo[id(node)] = total
    return total


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def load_stack_yaml(text: str) -> Any:
    """Parse one YAML document strictly; raises :class:`StackYamlError`."""
    loader: _StrictLoader | None = None
    try:
        loader = _StrictLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {}, MAX_EXPANDED_NODES)
        if size > MAX_EXPANDED_NODES:
            mark = node.start_mark
            raise StackYamlError(
                mark.line + 1,
                mark.column + 1,
                "aliases",
                f"the document expands to more than {MAX_EXPANDED_NODES} values through its aliases "
                "(*name); expected a stack file without alias bombs",
            )
        return cast(object, loader.construct_document(node))  # pyright: ignore[reportUnknownMemberType] - untyped stub
    except yaml.reader.ReaderError as exc:
        line, column = _position(text, exc.position)
        found = f"character #x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise StackYamlError(
            line,
            column,
            found,
            "expected printable text: YAML allows no control characters (write it as an escape in a "
            "double-quoted string if it is really meant)",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        lines = text.splitlines()
        found = lines[line - 1].strip() if 0 < line <= len(lines) else "(the end of the file)"
        tab = "\\t" in (exc.problem or "") or "\t" in (exc.problem or "")
        hint = "; indent with spaces, YAML does not allow tabs" if tab else ""
        raise StackYamlError(line, column, found, f"expected valid YAML: {exc.problem}{hint}") from None
    finally:
        if loader is not None:
            loader.dispose()
