"""front: asks colorapp for its color and passes the answer on.

    COLOR_HOST=127.0.0.1:8081 python -m workloads.runtime.front

``GET /color`` calls ``http://$COLOR_HOST/color`` with the caller's Accept and X-Amzn-Trace-Id
headers and returns the body and content type it gets; a refused connection, a timeout or a non-2xx
answer becomes a 502 with ``{"error": ..., "upstream": ...}``. ``/ping`` and ``/healthz`` as in colorapp.

Environment:
    COLOR_HOST                        host:port of colorapp
                                      (default colorapp.appmesh-demo.pvt.aws.local:8080)
    UPSTREAM_CONNECT_TIMEOUT_SECONDS  connect timeout, including waiting for a pooled connection (1)
    UPSTREAM_READ_TIMEOUT_SECONDS     longest wait for data from colorapp (2)
    UPSTREAM_MAX_CONNECTIONS          size of the connection pool to colorapp (100)
plus the settings every service reads, documented in ``workloads.runtime.common.config``.
"""
