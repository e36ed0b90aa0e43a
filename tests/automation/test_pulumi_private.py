"""The recorder's private Pulumi SDK names still exist and still mean what the recorder assumes.

When a ``pulumi`` upgrade moves or changes one of them this fails loudly, naming the module and the
name, instead of the recorder silently mis-reading the wire format.
"""

from __future__ import annotations

import asyncio
import importlib
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

from automation import pulumi_private

# The wire-format signatures are part of Pulumi's protocol (they are the same in every SDK language);
# a change here means the recorder would no longer recognise secrets, resources or outputs.
EXPECTED_SIGNATURES = {
    "SIG_KEY": "4dabf18193072939515e22adb298388d",
    "SIG_SECRET": "1b47061264138c4ac30d75fd1eb44270",
    "SIG_RESOURCE": "5cf8f73096256a8f31e491e813e4eb8e",
    "SIG_OUTPUT": "d0e6a833031e9bbcd3f4e8bde6ca49a4",
    "SIG_ASSET": "c44067f5952c0a294b673a41bacd8c17",
    "SIG_ARCHIVE": "0def7320c3a5731c473e5ecbe6d01bc7",
}


@pytest.mark.parametrize(
    ("module", "name"),
    [(module, name) for module, names in pulumi_private.PRIVATE_NAMES.items() for name in names],
)
def test_private_name_still_exists(module: str, name: str) -> None:
    found = getattr(importlib.import_module(module), name, None)
    assert found is not None, (
        f"pulumi {version('pulumi')} no longer has {module}.{name}, which the recorder uses "
        "(automation/pulumi_private.py): update that module and the pin in pyproject.toml"
    )


@pytest.mark.parametrize(("attribute", "expected"), sorted(EXPECTED_SIGNATURES.items()))
def test_wire_format_signatures_are_unchanged(attribute: str, expected: str) -> None:
    assert getattr(pulumi_private, attribute) == expected, (
        f"pulumi {version('pulumi')} changed the wire-format marker behind {attribute}"
    )


def test_every_private_name_is_guarded() -> None:
    source = Path(pulumi_private.__file__).read_text(encoding="utf-8")
    used = {name for names in pulumi_private.PRIVATE_NAMES.values() for name in names}
    for token in source.split():
        bare = token.strip("(),:")
        if bare.startswith("_special_") or bare in {"_ensure_event_loop", "_sync_await"}:
            assert bare in used


def test_sync_await_drives_a_coroutine_from_a_plain_thread() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    loop = pulumi_private.ensure_event_loop()
    assert isinstance(loop, asyncio.AbstractEventLoop)
    assert pulumi_private.sync_await(answer()) == 42


def test_the_installed_pulumi_is_inside_the_pinned_range() -> None:
    from packaging.requirements import Requirement

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    pins = [Requirement(d) for d in pyproject["project"]["dependencies"] if d.startswith("pulumi>")]
    assert len(pins) == 1
    assert pins[0].specifier.contains(version("pulumi")), f"pulumi {version('pulumi')} outside {pins[0]}"
