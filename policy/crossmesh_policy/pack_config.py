"""The pack's policy config: how the few :class:`Settings` reach the rules at deploy time.

Pulumi-free, so the deploy path can write the config file without pulumi-policy installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

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
    "pod_security_exceptions": (
        "podSecurityExceptions",
        {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "level": {"type": "string", "enum": ["privileged", "baseline"]},
                    "reason": {"type": "string"},
                },
                "required": ["level", "reason"],
            },
            "default": {},
            "description": "Namespaces that may enforce a laxer Pod Security level, decided by the mesh "
            "backend: namespace -> {level, reason}",
        },
    ),
}


def settings_from(config: Mapping[str, Any]) -> Settings:
    """Settings from one policy's config (missing properties take their defaults)."""
    port = config.get("appPort", DEFAULT_APP_PORT)
    if isinstance(port, bool) or not isinstance(port, int | float):
        port = DEFAULT_APP_PORT
    return Settings(
        app_port=int(port), pod_security_exceptions=_exceptions(config.get("podSecurityExceptions"))
    )


def _exceptions(value: object) -> dict[str, Mapping[str, str]]:
    """Only well-formed entries count: a malformed one grants nothing (the namespace stays restricted)."""
    if not isinstance(value, Mapping):
        return {}
    found: dict[str, Mapping[str, str]] = {}
    for namespace, entry in cast("Mapping[object, object]", value).items():
        if not isinstance(entry, Mapping):
            continue
        fields = cast("Mapping[object, object]", entry)
        level, reason = fields.get("level"), fields.get("reason")
        if isinstance(namespace, str) and level in ("privileged", "baseline") and isinstance(reason, str):
            found[namespace] = {"level": str(level), "reason": reason}
    return found


def schema_for(rule: Rule) -> dict[str, dict[str, Any]]:
    return dict(CONFIG_PROPERTIES[name] for name in sorted(rule.settings))


def pack_config(rules: tuple[Rule, ...], settings: Settings) -> dict[str, dict[str, Any]]:
    """``--policy-pack-config`` content: each settings-reading rule's properties for this environment."""
    return {
        rule.id: {CONFIG_PROPERTIES[name][0]: getattr(settings, name) for name in sorted(rule.settings)}
        for rule in rules
        if rule.settings
    }
