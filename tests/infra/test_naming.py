"""The physical-name rule: no two different (stack, cluster) pairs ever produce the same name.

A property test without a property library: every pair of short names over an alphabet that holds
'-' (the separator) is enumerated, so a counterexample of that size cannot hide.
"""

from __future__ import annotations

import itertools

import pytest

from infra.naming import (
    NameTooLongError,
    cluster_key_problem,
    cluster_prefix,
    ecr_repository,
    eks_cluster_name,
    physical,
    service_network,
)


def _words(alphabet: str, max_length: int) -> list[str]:
    return [
        "".join(chars)
        for length in range(1, max_length + 1)
        for chars in itertools.product(alphabet, repeat=length)
    ]


# Stacks may hold '-' (Pulumi allows it); cluster keys may not (cluster_key_problem).
STACKS = [s for s in _words("ab-", 4) if not s.startswith("-") and not s.endswith("-")]
CLUSTERS = [c for c in _words("ab1", 3) if cluster_key_problem(c) is None]

KINDS = {
    "eks cluster": eks_cluster_name,
    "cluster prefix (IAM roles, KMS aliases, launch templates)": cluster_prefix,
    "node role": lambda s, c: physical(s, c, "nodes"),
    "vpc-cni role": lambda s, c: physical(s, c, "vpc-cni"),
    "mesh controller role": lambda s, c: physical(s, c, "appmesh-controller"),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_no_two_stack_cluster_pairs_share_a_physical_name(kind: str) -> None:
    make = KINDS[kind]
    seen: dict[str, tuple[str, str]] = {}
    for stack, cluster in itertools.product(STACKS, CLUSTERS):
        name = make(stack, cluster)
        assert seen.setdefault(name, (stack, cluster)) == (stack, cluster), (
            f"{kind}: {name!r} from both {seen[name]} and {(stack, cluster)}"
        )
    assert len(seen) == len(STACKS) * len(CLUSTERS)


def test_the_rule_would_collide_if_cluster_keys_could_hold_a_hyphen() -> None:
    # Why cluster keys have no '-': (stack "b-c", cluster "a") and (stack "c", cluster "a-b").
    assert eks_cluster_name("b-c", "a") == eks_cluster_name("c", "a-b")
    assert cluster_key_problem("a-b") is not None


def test_stack_level_names_differ_per_stack() -> None:
    for make in (
        service_network,
        lambda s: ecr_repository(s, "front"),
        lambda s: physical(s, "vpc-flow-logs"),
    ):
        names = [make(stack) for stack in STACKS]
        assert len(set(names)) == len(names)


def test_names_over_their_limit_are_refused_not_cut() -> None:
    with pytest.raises(NameTooLongError):
        physical("x" * 70, "eksc1", "nodes")
    with pytest.raises(NameTooLongError):
        eks_cluster_name("s" * 120, "eksc1")
    assert service_network("dev") == "crossmesh-dev"
    assert eks_cluster_name("dev", "eksc1") == "eksc1-dev"
