"""Reading a stack file's YAML strictly: every refusal names the line and column.

PyYAML's safe loader accepts two things Pulumi users trip on silently: a key given twice (the last copy
wins) and aliases that expand into a huge document (a few lines of nested aliases become billions of
nodes once the program serialises the configuration). Both are refused here, before any value is
used, along with what PyYAML itself refuses (tabs, control characters, bad indentation), which it
reports with a position this module turns into a line and column.

Plain values are read the way Pulumi's CLI reads them, not by PyYAML's YAML 1.1 rules: Pulumi reads
``Pulumi.<env>.yaml`` with gopkg.in/yaml.v3 into untyped values (pulumi/pulumi
``sdk/go/common/workspace/loaders.go``, ``LoadProjectStackBytes``; ``sdk/go/common/encoding/marshal.go``),
whose resolver (yaml.v3 v3.0.1 ``resolve.go``) knows only ``true``/``false`` (three spellings each) as
booleans, ``~``/``null`` as null, no base-60 numbers ("purposefully unsupported"), and integers as Go's
``strconv.ParseInt(text, 0, 64)`` after dropping ``_``. So ``yes``, ``on``, ``n`` and ``2:14:20`` stay
text here, as they do for ``pulumi up``. Values that have no single meaning for both are refused with
what to write instead: an unquoted date (yaml.v3 makes it a ``time.Time``, which Pulumi passes on as Go
prints it, ``2024-01-01 00:00:00 +0000 UTC``: ``sdk/go/common/resource/config/object.go``,
``unmarshalObject``), a number with a leading zero (an octal number to yaml.v3), and tags with no JSON
form (``!!binary``, ``!!set``, ``!!timestamp``, ``!!omap``, ``!!pairs``, ``!!python/...``, local tags).
A plain value directly under ``config:`` is then given as the text written, as Pulumi passes it
(``_config_values_as_written``): ``crossmesh:kubernetesVersion: 1.30`` is ``1.30``, not 1.3.
"""

from __future__ import annotations

import math
import re
from typing import Any, cast

import yaml
from yaml.events import AliasEvent, Event, MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_EXPANDED_NODES = 20_000
"""A stack file of this project is a few hundred nodes; aliases may not grow it past this bound."""

MAX_DEPTH = 64
"""Lists and mappings nest at most this deep (this project's stack files: 6), aliases expanded: PyYAML
builds nodes recursively, so a file 5000 brackets deep would otherwise end in a RecursionError."""


class StackYamlError(Exception):
    def __init__(self, line: int, column: int, found: str, expected: str) -> None:
        super().__init__(f"line {line}, column {column}: {expected}")
        self.line = line
        self.column = column
        self.found = found
        self.expected = expected


_YAML_TAG = "tag:yaml.org,2002:"
MERGE_TAG = _YAML_TAG + "merge"
_DIGITS = "[0-9][0-9_]*"
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(rf"^[-+]?(?:{_DIGITS}|0[xX][0-9a-fA-F][0-9a-fA-F_]*|0[oO][0-7][0-7_]*|0[bB][01][01_]*)$")
_FLOAT = re.compile(
    rf"^[-+]?(?:\.{_DIGITS}|{_DIGITS}(?:\.[0-9_]*)?)(?:[eE][-+]?{_DIGITS})?$"
    r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
)
_TIMESTAMP = next(
    regexp
    for tag, regexp in cast(
        list[tuple[str, re.Pattern[str]]], yaml.resolver.Resolver.yaml_implicit_resolvers["2"]
    )
    if tag == _YAML_TAG + "timestamp"
)
"""PyYAML's own pattern for dates and times (yaml.v3 looks for the same shapes, YYYY-M-D[...])."""
_NO_JSON_FORM = "binary", "set", "omap", "pairs"
_MAX_INT_TEXT = 66
"""Characters of a 64-bit whole number at most, in any base (0b and 64 binary digits)."""
_NO_JSON = "has no JSON form (Pulumi passes each value to the program as text or JSON)"


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing duplicate keys (the pure-Python one: its errors carry positions)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._written = 0
        """Values written out in the file so far (an alias not counted)."""
        self._heights: dict[int, int] = {}
        """How deep each finished node nests, aliases expanded (a node absent is still being read)."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        # The bound is checked on the parser's events before PyYAML recurses into the next level, so it
        # does not depend on the interpreter's recursion limit.
        event = cast(Event, self.peek_event())  # pyright: ignore[reportUnknownMemberType] - untyped stub
        line, column = cast(int, event.start_mark.line) + 1, cast(int, event.start_mark.column) + 1
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            if node is not None and id(node) not in self._heights:
                raise StackYamlError(
                    line,
                    column,
                    f"*{event.anchor}",
                    "an alias inside the value it names (it would contain itself); expected an alias to "
                    "a value given before it",
                )
            return node
        if self._depth >= MAX_DEPTH:
            found = (
                "a list"
                if isinstance(event, SequenceStartEvent)
                else "a mapping"
                if isinstance(event, MappingStartEvent)
                else str(event.value)
                if isinstance(event, ScalarEvent)
                else "a value"
            )
            raise StackYamlError(
                line, column, found, f"expected lists and mappings nested at most {MAX_DEPTH} deep"
            )
        self._written += 1
        if self._written > MAX_EXPANDED_NODES:
            raise StackYamlError(
                line,
                column,
                f"value {self._written}",
                f"the file has more than {MAX_EXPANDED_NODES} values (keys, values and list items); "
                "expected a stack file of at most that many",
            )
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return None
        children: list[Node] = (
            [n for pair in cast(list[tuple[Node, Node]], node.value) for n in pair]
            if isinstance(node, MappingNode)
            else cast(list[Node], node.value)
            if isinstance(node, SequenceNode)
            else []
        )
        height = 1 + max((self._heights[id(child)] for child in children), default=0)
        if height > MAX_DEPTH:
            raise StackYamlError(
                line,
                column,
                "aliases",
                f"expected lists and mappings nested at most {MAX_DEPTH} deep, counting what its aliases "
                "(*name) stand for",
            )
        self._heights[id(node)] = height
        return node

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

    def flatten_mapping(self, node: MappingNode) -> None:
        """Merge keys (``<<: *base``) as yaml.v3 applies them (``decode.go``, ``decoder.merge``): the
        mapping's own keys win wherever ``<<`` stands, then the merged mappings in the order given,
        the first to name a key winning. Keys compare as the program sees them; PyYAML compares them by
        the identity of their text, so a repeated key in a list of merges went either way."""
        own: list[tuple[Node, Node]] = []
        sources: list[MappingNode] = []
        for key_node, value_node in node.value:
            if key_node.tag != MERGE_TAG:
                own.append((key_node, value_node))
                continue
            given = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in given:
                if not isinstance(source, MappingNode):
                    expected = "expected a mapping, or a list of mappings, to merge after <<"
                    raise _refuse(source, "<<", expected)
                sources.append(source)
        seen = {self._key_name(key_node) for key_node, _ in own}
        merged: list[tuple[Node, Node]] = []
        for source in sources:
            self.flatten_mapping(source)
            for key_node, value_node in source.value:
                name = self._key_name(key_node)
                if name not in seen:
                    seen.add(name)
                    merged.append((key_node, value_node))
        node.value = merged + own

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


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag


def _refuse(node: Node, found: str, expected: str) -> StackYamlError:
    line, column = _mark(node)
    return StackYamlError(line, column, found, expected)


def _shortened(text: str) -> str:
    """A long number's text as an error shows it: its start and its length."""
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def _scalar_text(node: Node, tag: str, pattern: re.Pattern[str]) -> str:
    """The scalar's text, refused unless it is one of ``pattern``'s (an explicit ``!!int x``, say)."""
    text = str(node.value) if isinstance(node, ScalarNode) else ""
    if not isinstance(node, ScalarNode) or not pattern.match(text):
        raise _refuse(
            node, f"{_short_tag(node.tag)} {text}".strip(), f"expected {tag} after {_short_tag(node.tag)}"
        )
    return text


def _construct_null(loader: _StrictLoader, node: Node) -> None:
    _scalar_text(node, "~ or null", _NULL)


def _construct_bool(loader: _StrictLoader, node: Node) -> bool:
    return _scalar_text(node, "true or false", _BOOL).lower() == "true"


def _construct_int(loader: _StrictLoader, node: Node) -> int:
    text = _scalar_text(node, "a whole number", _INT).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    base = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}.get(digits[:2], 10)
    if base == 10 and len(digits) > 1 and digits.startswith("0"):
        raise _refuse(
            node,
            str(node.value),
            "expected no leading zero: Pulumi's YAML reader takes 0777 for the octal number 511 (and "
            "09 for 9.0); write it without the zero, as 0o777 if octal is meant, or in quotes if it is text",
        )
    # yaml.v3 reads whole numbers as Go's int64 or uint64 and anything longer as a float or as text
    # (resolve.go), so only those are taken; the length check also keeps int() from its 4300-digit limit.
    value = sign * int(digits if base == 10 else digits[2:], base) if len(digits) <= _MAX_INT_TEXT else None
    if value is None or not -(2**63) <= value < 2**64:
        raise _refuse(
            node,
            _shortened(text),
            "expected a whole number of at most 64 bits (-9223372036854775808 to 18446744073709551615): "
            "Pulumi's YAML reader turns a longer one into a rounded float or text; put it in quotes if it "
            "is text",
        )
    return value


def _construct_float(loader: _StrictLoader, node: Node) -> float:
    text = _scalar_text(node, "a number", _FLOAT).replace("_", "")
    if not (text[-1:].isdigit() or text.endswith(".")):  # .inf, .nan
        raise _refuse(
            node, str(node.value), f"{text} {_NO_JSON}; expected a finite number, or quotes if it is text"
        )
    value = float(text)
    if not math.isfinite(value):
        raise _refuse(
            node,
            _shortened(text),
            "expected a number within a 64-bit float's range (about 1.8e308): Pulumi's YAML reader keeps a "
            "larger one as text; put it in quotes if it is text",
        )
    return value


def _construct_timestamp(loader: _StrictLoader, node: Node) -> object:
    if not isinstance(node, ScalarNode) or not _TIMESTAMP.match(str(node.value)):
        return _construct_no_json_form(loader, node)
    raise _refuse(
        node,
        str(node.value),
        'expected a date or time in quotes ("2024-01-01"): unquoted, Pulumi\'s YAML reader makes it a '
        "time and passes it on as Go prints one (2024-01-01 00:00:00 +0000 UTC)",
    )


def _construct_no_json_form(loader: _StrictLoader, node: Node) -> object:
    value = str(node.value) if isinstance(node, ScalarNode) else ""
    tag = _short_tag(node.tag)
    raise _refuse(
        node,
        f"{tag} {value}".strip(),
        f"the tag {tag} {_NO_JSON}; expected a plain string, number, true/false, null, list or mapping",
    )


def _construct_other_tag(loader: _StrictLoader, suffix: str, node: Node) -> object:
    return _construct_no_json_form(loader, node)


# How values are resolved and built: yaml.v3's rules (see the module's docstring), through PyYAML's own
# resolver and constructor tables.
_StrictLoader.yaml_implicit_resolvers = {}
_StrictLoader.add_implicit_resolver(_YAML_TAG + "null", _NULL, ["~", "n", "N", ""])
_StrictLoader.add_implicit_resolver(_YAML_TAG + "bool", _BOOL, list("tTfF"))
_StrictLoader.add_implicit_resolver(_YAML_TAG + "timestamp", _TIMESTAMP, list("0123456789"))
_StrictLoader.add_implicit_resolver(_YAML_TAG + "int", _INT, list("-+0123456789"))
_StrictLoader.add_implicit_resolver(_YAML_TAG + "float", _FLOAT, list("-+0123456789."))
_StrictLoader.add_implicit_resolver(MERGE_TAG, re.compile(r"^<<$"), ["<"])
_StrictLoader.add_constructor(_YAML_TAG + "null", _construct_null)
_StrictLoader.add_constructor(_YAML_TAG + "bool", _construct_bool)
_StrictLoader.add_constructor(_YAML_TAG + "int", _construct_int)
_StrictLoader.add_constructor(_YAML_TAG + "float", _construct_float)
_StrictLoader.add_constructor(_YAML_TAG + "timestamp", _construct_timestamp)
for _name in _NO_JSON_FORM:
    _StrictLoader.add_constructor(_YAML_TAG + _name, _construct_no_json_form)
_StrictLoader.add_multi_constructor("", _construct_other_tag)  # every tag not named above


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


_AS_TEXT_TAGS = frozenset(_YAML_TAG + t for t in ("str", "null", "bool", "int", "float", "timestamp"))
"""The tags a value directly under ``config:`` may carry to be passed on as its text."""


def _config_values_as_written(root: Node) -> None:
    """Read each plain value directly under ``config:`` as Pulumi passes it: the text as written.

    Pulumi reads such a value into a Go string first (pulumi/pulumi
    ``sdk/go/common/resource/config/value.go``, ``unmarshalValue``: "First, try to unmarshal as a
    string"), and yaml.v3 fills a string with the scalar's own text (``decode.go``,
    ``decoder.scalar``, ``out.SetString(n.Value)``), leaving it empty for a null. So
    ``crossmesh:kubernetesVersion: 1.30`` reaches the program as ``1.30``, not the number 1.3, and an
    unquoted date or ``0755`` as written. Values inside a mapping or list are read as typed YAML and
    passed as JSON. The ``config:`` mapping is replaced by a copy, as are the mappings merged into it
    (``<<``), so a node an alias shares elsewhere in the file keeps its typed reading there.
    """
    if not isinstance(root, MappingNode):
        return
    for index, (key_node, value_node) in enumerate(root.value):
        if (
            isinstance(key_node, ScalarNode)
            and key_node.value == "config"
            and isinstance(value_node, MappingNode)
        ):
            root.value[index] = (key_node, _mapping_as_written(value_node))


def _mapping_as_written(node: MappingNode) -> MappingNode:
    pairs: list[tuple[Node, Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag == MERGE_TAG:
            pairs.append((key_node, _merged_as_written(value_node)))
        elif isinstance(value_node, ScalarNode) and value_node.tag in _AS_TEXT_TAGS:
            text = "" if value_node.tag == _YAML_TAG + "null" else str(value_node.value)
            as_text = ScalarNode(_YAML_TAG + "str", text, value_node.start_mark, value_node.end_mark)
            pairs.append((key_node, as_text))
        else:
            pairs.append((key_node, value_node))
    return MappingNode(node.tag, pairs, node.start_mark, node.end_mark, flow_style=node.flow_style)


def _merged_as_written(node: Node) -> Node:
    if isinstance(node, MappingNode):
        return _mapping_as_written(node)
    if isinstance(node, SequenceNode):
        merged = [_mapping_as_written(n) if isinstance(n, MappingNode) else n for n in node.value]
        return SequenceNode(node.tag, merged, node.start_mark, node.end_mark, flow_style=node.flow_style)
    return node


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
        _config_values_as_written(node)
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
