"""Runs the app the image was built for: ``APP=front python -m workloads.runtime``.

The one Dockerfile takes the app as a build argument and records it in APP, so every image starts
the same way.
"""

import importlib
import os
import sys

APPS = ("colorapp", "front")

app = os.environ.get("APP", "").strip()
if app not in APPS:
    print(f"APP must be one of {', '.join(APPS)}; got {app!r}", file=sys.stderr)
    raise SystemExit(2)
raise SystemExit(importlib.import_module(f"workloads.runtime.{app}.app").main())
