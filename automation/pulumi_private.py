"""Every private name of the Pulumi SDK the recorder relies on, in one place.

The recording engine runs the program in-process against a mock monitor, which needs a few names the
SDK does not export: the markers of its wire format (``pulumi/runtime/rpc.py``) and the helpers that
drive its event loop from a plain thread (``pulumi/runtime/sync_await.py``). They were checked against
the ``pulumi`` range pinned in ``pyproject.toml``; ``tests/automation/test_pulumi_private.py`` fails
with a clear message when an SDK upgrade moves or changes any of them.
"""

from __future__ import annotations

from pulumi.runtime import rpc
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await  # pyright: ignore[reportPrivateUsage]

# Markers the Pulumi wire format uses inside structs.
SIG_KEY: str = rpc._special_sig_key  # pyright: ignore[reportPrivateUsage]
SIG_SECRET: str = rpc._special_secret_sig  # pyright: ignore[reportPrivateUsage]
SIG_RESOURCE: str = rpc._special_resource_sig  # pyright: ignore[reportPrivateUsage]
SIG_OUTPUT: str = rpc._special_output_value_sig  # pyright: ignore[reportPrivateUsage]
SIG_ASSET: str = rpc._special_asset_sig  # pyright: ignore[reportPrivateUsage]
SIG_ARCHIVE: str = rpc._special_archive_sig  # pyright: ignore[reportPrivateUsage]

ensure_event_loop = _ensure_event_loop
"""The calling thread's event loop, created when it has none (the SDK's own helper)."""
sync_await = _sync_await
"""Run an awaitable to completion on the SDK's loop from synchronous code."""

PRIVATE_NAMES: dict[str, tuple[str, ...]] = {
    "pulumi.runtime.rpc": (
        "_special_sig_key",
        "_special_secret_sig",
        "_special_resource_sig",
        "_special_output_value_sig",
        "_special_asset_sig",
        "_special_archive_sig",
    ),
    "pulumi.runtime.sync_await": ("_ensure_event_loop", "_sync_await"),
}
"""Module -> the private names taken from it (what the guard test checks)."""
