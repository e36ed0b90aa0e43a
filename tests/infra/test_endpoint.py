"""The endpoint gate's probe, against real sockets on 127.0.0.1 (no cluster needed)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from infra.endpoint import Endpoint, EndpointGateArgs, _GateProvider, endpoint_of_kubeconfig, probe, wait_for
from tests.support import serve


class _Unauthorized(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)  # what an API server answers an anonymous caller it does not admit
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def api_server() -> Iterator[str]:
    with serve(_Unauthorized) as port:
        yield f"http://127.0.0.1:{port}"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.network
def test_an_endpoint_that_answers_any_status_is_reachable(api_server: str) -> None:
    assert probe(Endpoint(api_server), timeout=2) is None


@pytest.mark.network
def test_a_closed_port_is_not_reachable_and_says_so() -> None:
    problem = probe(Endpoint(f"http://127.0.0.1:{_closed_port()}"), timeout=2)
    assert problem is not None
    assert "refused or dropped" in problem


def test_wait_for_retries_until_the_deadline_then_returns_the_last_problem() -> None:
    now = [0.0]
    calls: list[float] = []

    def check(_: Endpoint) -> str | None:
        calls.append(now[0])
        return "not yet"

    problem = wait_for(
        Endpoint("https://x"),
        wait_seconds=30,
        interval=10,
        check=check,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    assert problem == "not yet"
    assert calls == [0.0, 10.0, 20.0, 30.0]
    assert (
        wait_for(Endpoint("https://x"), check=lambda _: None, clock=lambda: 0.0, sleep=lambda s: None) is None
    )


def test_the_endpoint_and_ca_come_from_the_kubeconfig() -> None:
    kubeconfig = {
        "clusters": [
            {
                "cluster": {
                    "server": "https://ABC.gr7.us-east-1.eks.amazonaws.com",
                    "certificate-authority-data": "LS0tCg==",
                }
            }
        ]
    }
    endpoint = endpoint_of_kubeconfig(json.dumps(kubeconfig))
    assert endpoint == Endpoint("https://ABC.gr7.us-east-1.eks.amazonaws.com", "---\n")


@pytest.mark.network
def test_the_gate_fails_with_what_to_do_when_the_endpoint_never_answers() -> None:
    kubeconfig = json.dumps({"clusters": [{"cluster": {"server": f"http://127.0.0.1:{_closed_port()}"}}]})
    with pytest.raises(RuntimeError) as caught:
        _GateProvider().create({"clusterName": "eksc1-prod", "kubeconfig": kubeconfig, "waitSeconds": 0})
    message = str(caught.value)
    assert "the API endpoint of EKS cluster eksc1-prod" in message
    assert "Nothing was applied to the cluster" in message
    assert "a CI runner inside the VPC or a VPN" in message


@pytest.mark.network
def test_the_gate_passes_and_only_a_new_endpoint_is_waited_for_again(api_server: str) -> None:
    kubeconfig = json.dumps({"clusters": [{"cluster": {"server": api_server}}]})
    created = _GateProvider().create({"clusterName": "eksc1-dev", "kubeconfig": kubeconfig, "waitSeconds": 5})
    assert created.outs == {"endpoint": api_server}
    same = _GateProvider().diff("eksc1-dev", {"endpoint": api_server}, {"kubeconfig": kubeconfig})
    assert same.changes is False
    moved = json.dumps({"clusters": [{"cluster": {"server": "https://new"}}]})
    assert _GateProvider().diff("eksc1-dev", {"endpoint": api_server}, {"kubeconfig": moved}).replaces == [
        "kubeconfig"
    ]
    assert EndpointGateArgs("x", "{}").wait_seconds == 300


def test_an_unusable_ca_is_a_problem_not_a_crash() -> None:
    problem = probe(Endpoint("https://127.0.0.1:1", ca_pem="not a certificate"))
    assert problem is not None
    assert problem.startswith("the cluster's CA certificate is unusable")
