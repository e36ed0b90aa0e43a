"""A shift in a process of its own (for Ctrl-C and two-shifts-at-once tests): the real CLI over the
fake `pulumi`, with the router's weights file as the weights observer. Paths come from the environment."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from automation import cli
from automation.interrupt import InterruptTiming
from automation.preflight import PreflightClients
from automation.session import Dependencies
from automation.shift.run import ShiftDeps
from tests.automation.shift.support import file_observer
from tests.automation.shift.test_shift_live import Lattice, Sts

ROUTE = "urn:pulumi:dev::crossmesh::crossmesh:infra:LatticeRouting$kubernetes:gateway.networking.k8s.io/v1:HTTPRoute::eksc1-httproute-colorapp"

if __name__ == "__main__":
    # A CI job started in the background inherits SIGINT ignored; this test sends it on purpose.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    tmp = Path(os.environ["SHIFT_TEST_DIR"])
    deps = ShiftDeps(
        session=Dependencies(
            preflight_clients=lambda region: PreflightClients(Sts(), None, Lattice()),
            log_dir=tmp / "logs",
            is_interactive=lambda: False,
            interrupt=InterruptTiming(grace_s=5, after_cancel_wait_s=1),
        ),
        targets=lambda project, env, flat: [ROUTE],
        observer_factory=lambda config, outputs: file_observer(Path(os.environ["FAKE_ROUTER_WEIGHTS"])),
        state_dir=tmp / "shift",
    )
    sys.exit(cli.app(obj=deps, args=sys.argv[1:], standalone_mode=True))
