"""How the HTTP check through front is run and judged: one settings object instead of five arguments.

The command line builds one :class:`HttpCheckSettings` from ``--requests``, ``--timeout`` and
``--concurrency``; the verification entry points and :func:`automation.verify.httpcheck.check_http`
take it whole, so adding a knob means one field here, not a parameter in every signature between the
CLI and the burst. Standard library only: the ``--front-url`` path imports this.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_REQUESTS = 200
DEFAULT_CONCURRENCY = 20
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_ALPHA = 0.001
DEFAULT_MAX_ERROR_RATE = 0.01
DEFAULT_DEADLINE_S = 600.0
"""The time budget of a full verification (mesh, Cloud Map, pods, front reachable), in seconds."""


@dataclass(frozen=True)
class HttpCheckSettings:
    """The burst of ``GET /color`` through front and the verdict over it (see httpcheck's docstring)."""

    requests: int = DEFAULT_REQUESTS
    """How many requests to send."""
    concurrency: int = DEFAULT_CONCURRENCY
    """How many requests are in flight at once."""
    timeout_s: float = DEFAULT_TIMEOUT_S
    """Per-request timeout, end to end."""
    alpha: float = DEFAULT_ALPHA
    """Significance level of the binomial test of each color's share against its weight."""
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    """Errors allowed, as a share of the requests (1% allows 2 in 200)."""

    def __post_init__(self) -> None:
        if self.requests < 1 or self.concurrency < 1 or self.timeout_s <= 0:
            raise ValueError("requests and concurrency must be >= 1 and timeout_s > 0")
        if not 0 <= self.max_error_rate <= 1:
            raise ValueError(f"max_error_rate must be in [0, 1], got {self.max_error_rate}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")


DEFAULT_HTTP_CHECK = HttpCheckSettings()
