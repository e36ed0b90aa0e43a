"""The guardrails policy pack (CrossGuard) and the rules it is made of.

``policy/`` is two things at once: a pulumi-policy pack directory (``PulumiPolicy.yaml``,
``__main__.py``, ``requirements.txt``), which ``pulumi up --policy-pack policy`` runs in its own
virtualenv, and this importable package, so the project can find the pack and reuse its rules
(``policy.crossmesh_policy``) without pulumi-policy installed.
"""

from __future__ import annotations

from pathlib import Path

POLICY_PACK_DIR = Path(__file__).resolve().parent
"""Absolute path of the pack: for ``pulumi up --policy-pack`` or ``Stack.up(policy_packs=[...])``."""
