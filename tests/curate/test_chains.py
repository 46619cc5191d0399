import pytest

from cryosse.core.reasons import Reason
from cryosse.curate.chains import ChainCandidate, choose_chains, sequence_identity

SEQ = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ"


def test_identity_definition() -> None:
    assert sequence_identity(SEQ, SEQ) == 1.0
    # A fragment is identical over the shorter sequence (end gaps are free).
    assert sequence_identity(SEQ, SEQ[10:50]) == pytest.approx(1.0)
    # Six point mutations in 66 residues: 60/66 identical.
    mutated = list(SEQ)
    for i in (3, 13, 23, 33, 43, 53):
        mutated[i] = "W" if mutated[i] != "W" else "A"
    assert sequence_identity(SEQ, "".join(mutated)) == pytest.approx(60 / 66)
    assert sequence_identity(SEQ, SEQ[::-1]) < 0.3
    assert sequence_identity(SEQ, "") == 0.0
    assert sequence_identity("ACDXU", "ACDXU") == 1.0  # letters outside BLOSUM62 are tolerated


def _chain(name: str, seq: str = SEQ, n_helix: int = 10, inside: float = 1.0) -> ChainCandidate:
    return ChainCandidate(name, seq, len(seq), round(inside * len(seq)), n_helix)


def test_choose_chains_rules_and_order() -> None:
    other = "".join(reversed(SEQ))
    candidates = [
        _chain("A", n_helix=0),  # no helix: excluded, so it cannot make B redundant
        _chain("B"),
        _chain("C"),  # duplicate of B
        _chain("D", seq=other),
        _chain("E", seq=SEQ[:10]),  # too short
        _chain("F", seq=other[::-1][:40] + "W" * 26, inside=0.5),
    ]
    decisions = {d.name: d for d in choose_chains(candidates, 20, 0.95, 0.7, True)}
    assert decisions["A"].reason == Reason.CHAIN_NO_HELIX
    assert decisions["B"].kept
    assert decisions["C"].reason == Reason.CHAIN_REDUNDANT and "B" in decisions["C"].message
    assert decisions["D"].kept
    assert decisions["E"].reason == Reason.CHAIN_TOO_SHORT
    assert decisions["F"].reason == Reason.CHAIN_OUTSIDE_MAP
    relaxed = {d.name: d for d in choose_chains(candidates, 20, 0.95, 0.7, False)}
    assert relaxed["A"].kept and relaxed["B"].reason == Reason.CHAIN_REDUNDANT


def test_identity_threshold_is_strictly_greater() -> None:
    seq_b = SEQ[:49] + "W" * 17  # 49/66 ≈ 74 % identical
    decisions = choose_chains([_chain("A"), _chain("B", seq=seq_b)], 20, 0.9, 0.75, True)
    assert all(d.kept for d in decisions)
    decisions = choose_chains([_chain("A"), _chain("B", seq=seq_b)], 20, 0.9, 0.70, True)
    assert decisions[1].reason == Reason.CHAIN_REDUNDANT
