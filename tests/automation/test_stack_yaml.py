"""The strict stack-file YAML reader (automation/stack_yaml.py): what it accepts, read the way Pulumi's
CLI reads it, and what it refuses, with the line, column, what was found and what was expected."""

from __future__ import annotations

import pytest

from automation.stack_yaml import StackYamlError, load_stack_yaml


def _refusal(text: str) -> StackYamlError:
    with pytest.raises(StackYamlError) as caught:
        load_stack_yaml(text)
    return caught.value


# Keys ---------------------------------------------------------------------------------------------------


def test_one_and_true_are_two_keys() -> None:
    # Python's 1 == True must not make them one key; the program gets JSON, where keys are text.
    assert load_stack_yaml("tags: {1: a, true: b}\n") == {"tags": {"1": "a", "true": "b"}}


def test_keys_written_alike_are_one_key() -> None:
    # Pulumi's YAML reader compares keys by how they are written: 1 and "1" collide there.
    refused = _refusal('tags:\n  1: a\n  "1": b\n')
    assert (refused.line, refused.column, refused.found) == (3, 3, "1")
    assert "key '1' is given twice (first on line 2)" in refused.expected
    assert "expected each key once" in refused.expected


def test_keys_read_alike_are_one_key() -> None:
    refused = _refusal("tags:\n  1: a\n  0x1: b\n")
    assert (refused.line, refused.column, refused.found) == (3, 3, "0x1")
    assert "key '1' is given twice (first on line 2, written 1)" in refused.expected


def test_merged_keys_are_keys_as_written_too() -> None:
    text = "base: &base {1: a, y: 2}\nother: {<<: *base, true: b, y: 3}\n"
    assert load_stack_yaml(text)["other"] == {"1": "a", "y": 3, "true": "b"}


@pytest.mark.parametrize(("key", "found"), [("~", "~"), ("1.5", "1.5"), ("[1]", "a sequence")])
def test_key_without_a_json_form(key: str, found: str) -> None:
    refused = _refusal(f"tags:\n  {key}: a\n")
    assert (refused.line, refused.column, refused.found) == (2, 3, found)
    assert refused.expected == "expected a key that is text, a whole number or true/false"
