"""SigV4 signing of front's calls to colorapp, for a VPC Lattice service network with IAM auth.

Lattice authenticates a request signed for the service ``vpc-lattice-svcs`` and does not support
payload signing: the request carries ``x-amz-content-sha256: UNSIGNED-PAYLOAD``
(https://docs.aws.amazon.com/vpc-lattice/latest/ug/sigv4-authenticated-requests.html). botocore's
``SigV4Auth`` signs; with that header present it puts the literal in the canonical request instead of
a hash of the body.

Credentials come from botocore's default chain (in a pod: the IRSA web-identity token or Pod
Identity). Those are refreshable; botocore refreshes them when fewer than 15 minutes are left, which
can mean a call to STS. That call never runs on the event loop: ``Credentials.refresh`` runs in a
thread every minute and the signer uses the frozen copy it leaves, always minutes from expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import cast

import botocore.session
from botocore.auth import UNSIGNED_PAYLOAD, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.credentials import ReadOnlyCredentials

from workloads.runtime.common.web import CACHED_ACCEPT_CHARS

log = logging.getLogger("app")

CONTENT_SHA256 = "x-amz-content-sha256"
REFRESH_EVERY_SECONDS = 60.0


class Credentials:
    """Frozen credentials for the signer, refreshed off the event loop before they expire."""

    def __init__(self, source: BotoCredentials) -> None:
        self._source = source
        self.current: ReadOnlyCredentials = source.get_frozen_credentials()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def from_default_chain(cls) -> Credentials:
        # Resolving the chain may read files or call STS: in a thread, at start-up.
        source = await asyncio.to_thread(_default_chain)
        if source is None:
            raise RuntimeError("UPSTREAM_AUTH=sigv4 but botocore's default chain found no credentials")
        return await asyncio.to_thread(cls, source)

    async def refresh(self) -> None:
        """Take a fresh frozen copy; botocore renews the underlying ones when they near expiry."""
        self.current = await asyncio.to_thread(self._source.get_frozen_credentials)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_EVERY_SECONDS)
            try:
                await self.refresh()
            except Exception:  # keep the last good copy; the next round tries again
                log.exception("refreshing AWS credentials failed")


def _default_chain() -> BotoCredentials | None:
    found: object = botocore.session.get_session().get_credentials()  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return found if isinstance(found, BotoCredentials) else None


class Signer:
    """Signs with botocore's SigV4Auth; a signature is reused for a minute for identical signed content.

    What is signed is the method, the URL, ``Host``, ``Accept``, the date, the session token and the
    content-hash header; the trace headers are added after signing, unsigned (SigV4 checks only the
    headers it lists, and botocore never signs ``X-Amzn-Trace-Id`` either). So every call to colorapp
    carries a valid signature over exactly its signed headers, and the HMAC work, about a fifth of a
    millisecond, is done once a minute per Accept value rather than on every call. AWS accepts a
    signature for five minutes after its date; a minute leaves room for clock skew.
    """

    REUSE_SECONDS = 60.0
    CACHE_SIZE = 64

    def __init__(self, credentials: Credentials, service: str, region: str) -> None:
        self.credentials = credentials
        self.service = service
        self.region = region
        self._cache: dict[tuple[str, str, str, str | None], tuple[float, dict[str, str]]] = {}

    def sign(self, method: str, url: str, headers: Mapping[str, str]) -> dict[str, str]:
        """The headers to send: ``headers`` plus the content hash, date, token and Authorization."""
        frozen = self.credentials.current
        access_key = cast(str, frozen.access_key)  # pyright: ignore[reportUnknownMemberType] # botocore's namedtuple is untyped
        accept = headers.get("Accept")
        key = (method, url, access_key, accept)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.REUSE_SECONDS:
            return dict(cached[1])
        request = AWSRequest(method=method, url=url, headers={**headers, CONTENT_SHA256: UNSIGNED_PAYLOAD})
        SigV4Auth(frozen, self.service, self.region).add_auth(request)
        signed = dict(request.headers.items())
        if accept is not None and len(accept) > CACHED_ACCEPT_CHARS:
            # Signed, not kept: long distinct values from clients would push out the usual ones.
            return signed
        if len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = (now, signed)
        return dict(signed)
