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
from collections.abc import Mapping

import botocore.session
from botocore.auth import UNSIGNED_PAYLOAD, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.credentials import ReadOnlyCredentials

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
    def __init__(self, credentials: Credentials, service: str, region: str) -> None:
        self.credentials = credentials
        self.service = service
        self.region = region

    def sign(self, method: str, url: str, headers: Mapping[str, str]) -> dict[str, str]:
        """The headers to send: ``headers`` plus the content hash, date, token and Authorization."""
        request = AWSRequest(method=method, url=url, headers={**headers, CONTENT_SHA256: UNSIGNED_PAYLOAD})
        SigV4Auth(self.credentials.current, self.service, self.region).add_auth(request)
        return dict(request.headers.items())
