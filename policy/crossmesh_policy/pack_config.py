"""The pack's policy config: how the few :class:`Settings` reach the rules at deploy time.

Pulumi-free, so the deploy path can write the config file without pulumi-policy installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import DEFAULT_APP_PORT, Rule, Settings

# Settings field -> (policy config property, its JSON schema).
CONFIG_PROPERTIES: Mapping[str, tuple[str, dict[str, Any]]] = {
    "app_port": (
        "appPort",
        {
            "type": "integer",
            "minimum": 1,
            "maximum": 65535,
            "default": DEFAULT_APP_PORT,
            "description": "The port the apps serve on (crossmesh:workloads.port)",
        },
    ),
}


def settings_from(config: Mapping[str, Any]) -> Settings:
    """Settings from one policy's config (missing properties take their defaults)."""
    port = config.get("appPort", DEFAULT_APP_PORT)
    if isinstance(port, bool) or not isinstance(port, int | float):
        port = DEFAULT_APP_PORT
    return Settings(app_port=int(port))


def schema_for(rule: Rule) -> dict[str, dict[str, Any]]:
    return dict(CONFIG_PROPERTIES[name] for name in sorted(rule.settings))


def pack_config(rules: tuple[Rule, ...], settings: Settings) -> dict[str, dict[str, Any]]:
    """``--policy-pack-config`` content: each settings-reading rule's properties for this environment."""
    return {
        rule.id: {CONFIG_PROPERTIES[name][0]: getattr(settings, name) for name in sorted(rule.settings)}
        for rule in rules
        if rule.settings
    }
