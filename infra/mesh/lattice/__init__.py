"""The VPC Lattice backend: the AWS Gateway API controller per cluster, one service network."""

from infra.mesh.lattice.backend import LatticeBackend

BACKEND = LatticeBackend

__all__ = ["BACKEND", "LatticeBackend"]
