"""colorapp: answers with the color it was configured with.

    COLOR=blue python -m workloads.runtime.colorapp

``GET /color`` and ``GET /`` answer the color as text, or as ``{"color": ...}`` when the Accept header
ranks application/json above text/plain. ``/ping`` answers ``pong``; ``/healthz`` answers 200, or 503
once the process is draining.

Environment: ``COLOR`` (required, non-empty), plus the settings every service reads, documented in
``workloads.runtime.common.config``.
"""
