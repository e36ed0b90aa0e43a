"""Retry policy of front's upstream client: which failures, how long to wait, and how many in total.

Where the mesh has no retry of its own (VPC Lattice), front retries; where Envoy retries (App Mesh),
``UPSTREAM_MAX_RETRIES=0`` and front does not, so retries never multiply.
"""

from __future__ import annotations

import random

RETRY_STATUSES = frozenset({502, 503, 504})
BACKOFF_BASE_SECONDS = 0.025
BACKOFF_CAP_SECONDS = 0.25


def backoff(retry: int, rng: random.Random) -> float:
    """Seconds before retry number ``retry`` (1-based): "full jitter" over a capped exponential."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (retry - 1))
    return rng.uniform(0, ceiling)


class RetryBudget:
    """Retries may be at most ``percent`` of requests, so a failing upstream is not hit N times harder.

    A token bucket: every request adds ``percent / 100`` tokens, every retry spends one. A small
    reserve lets a quiet service retry at all; the cap bounds a burst after a long healthy spell.
    """

    RESERVE = 10.0
    CAP = 100.0

    def __init__(self, percent: float) -> None:
        self.percent = percent
        self.tokens = self.RESERVE if percent > 0 else 0.0

    def record_request(self) -> None:
        self.tokens = min(self.CAP, self.tokens + self.percent / 100)

    def try_spend(self) -> bool:
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
