"""The version header: colorapp names itself in it, front checks it and passes it on."""

from __future__ import annotations

import re

HEADER = "x-crossmesh-version"
SYNTAX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
"""A version is colorapp's ``COLOR``: 1-63 letters, digits, ``.``, ``_`` or ``-``, starting with a
letter or digit, so it goes into a header as it is."""
