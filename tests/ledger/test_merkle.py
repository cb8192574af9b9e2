"""RFC 9162 hashing and proofs: the transparency-dev/merkle probes and a brute-force oracle."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from app.ledger.verify.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleTree,
    ProofError,
    hash_children,
    hash_leaf,
    verify_consistency,
    verify_inclusion,
)

PROBES = Path(__file__).parent / "data" / "merkle"


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _probes(kind: str) -> list[Path]:
    files = sorted((PROBES / kind).rglob("*.json"))
    assert files, f"no {kind} probes in {PROBES}"
    return files


@pytest.mark.parametrize("path", _probes("inclusion"), ids=lambda p: str(p.relative_to(PROBES)))
def test_inclusion_probe(path: Path) -> None:
    probe = json.loads(path.read_text())
    proof = [_b64(h) for h in probe["proof"] or []]
    args = (
        probe["leafIdx"],
        probe["treeSize"],
        _b64(probe["leafHash"]),
        proof,
        _b64(probe["root"]),
    )
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _probes("consistency"), ids=lambda p: str(p.relative_to(PROBES)))
def test_consistency_probe(path: Path) -> None:
    probe = json.loads(path.read_text())
    proof = [_b64(h) for h in probe["proof"] or []]
    args = (probe["size1"], probe["size2"], proof, _b64(probe["root1"]), _b64(probe["root2"]))
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_probe_counts() -> None:
    wanted = [json.loads(p.read_text())["wantErr"] for p in _probes("inclusion")]
    wanted += [json.loads(p.read_text())["wantErr"] for p in _probes("consistency")]
    assert len(wanted) == 98 + 98  # every inclusion and consistency probe of the vectors
    assert 0 < wanted.count(False) < wanted.count(True)


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1, written as the recursion."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return hash_leaf(leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return hash_children(_mth(leaves[:k]), _mth(leaves[k:]))


def test_rfc_test_tree_roots() -> None:
    # The eight leaves of the RFC 6962 test tree used by transparency-dev/merkle.
    leaves = [
        bytes.fromhex(h)
        for h in [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
    ]
    roots = {
        1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    }
    tree = MerkleTree()
    for leaf in leaves:
        tree.append(leaf)
    for size, want in roots.items():
        assert tree.root(size).hex() == want
        assert _mth(leaves[:size]).hex() == want
    assert tree.root(0) == EMPTY_ROOT


def test_tree_proofs_against_oracle() -> None:
    leaves = [i.to_bytes(4, "big") for i in range(70)]
    tree = MerkleTree()
    rng = CompactRange()
    for n, leaf in enumerate(leaves, start=1):
        tree.append(leaf)
        rng.append(hash_leaf(leaf))
        assert rng.root() == tree.root() == _mth(leaves[:n])
    for size in range(1, 71):
        root = tree.root(size)
        for index in range(size):
            verify_inclusion(
                index, size, tree.leaf_hash(index), tree.inclusion_proof(index, size), root
            )
        for size1 in range(1, size + 1):
            proof = tree.consistency_proof(size1, size)
            verify_consistency(size1, size, proof, tree.root(size1), root)
            if size1 < size:
                with pytest.raises(ProofError):
                    verify_consistency(size1, size, proof, tree.root(size1), tree.root(size - 1))


def test_bulk_build_equals_appends() -> None:
    for n in (0, 1, 2, 3, 5, 8, 13, 64, 100):
        hashes = [hash_leaf(b"%d" % i) for i in range(n)]
        bulk = MerkleTree.from_leaf_hashes(hashes)
        one_by_one = MerkleTree()
        for h in hashes:
            one_by_one.append_hash(h)
        assert bulk.size == n
        for size in range(n + 1):
            assert bulk.root(size) == one_by_one.root(size)
        for i in range(n):
            assert bulk.inclusion_proof(i) == one_by_one.inclusion_proof(i)
        bulk.append_hash(hash_leaf(b"more"))
        one_by_one.append_hash(hash_leaf(b"more"))
        assert bulk.root() == one_by_one.root()
