"""colorapp: answers with the color it was configured with.

    COLOR=blue python -m workloads.runtime.colorapp

``GET /color`` and ``GET /`` answer the color as text, or as ``{"color": ...}`` when the Accept header
ranks application/json above text/plain, with ``x-crossmesh-version: <color>``. ``/ping``, ``/healthz``
and ``POST /drain`` as every app (``workloads.runtime.common.web``).

Settings: ``COLOR`` (required), plus ``workloads.runtime.common.settings.ServerSettings``.
"""
