"""front: asks colorapp for its color and passes the answer on.

    COLOR_HOST=127.0.0.1:8081 python -m workloads.runtime.front

``GET /color`` calls ``http://$COLOR_HOST/color`` with the caller's Accept header and the trace
context, and returns the body and content type it gets, with ``x-crossmesh-version`` (the version
that answered) and ``x-crossmesh-attempts``. Failures (refused, timed out, non-2xx, too large, no
free connection) become a 502 with ``{"error": ..., "upstream": ..., "attempts": n}``.

Settings: ``workloads.runtime.front.app.FrontSettings``.
"""
