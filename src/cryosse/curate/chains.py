"""Choose the central chains of an entry: enough Cα in the map, at least one helix, and no
near-duplicate of a chain already kept.

Sequence identity (used for the within-entry redundancy filter) is defined as the number of
identical aligned residue pairs in an optimal global alignment, divided by the length of the
SHORTER sequence. The alignment is Needleman–Wunsch with BLOSUM62, gap open −10, gap extend
−0.5 and free end gaps (EMBOSS-needle-like), so a fragment of a longer chain counts as identical
to it. Sequences are the modelled residues (one-letter codes) of each chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from Bio.Align import PairwiseAligner, substitution_matrices

from cryosse.core.reasons import Reason


@lru_cache(maxsize=1)
def _aligner() -> PairwiseAligner:
    aligner = PairwiseAligner()
    aligner.mode = "global"
    aligner.substitution_matrix = substitution_matrices.load("BLOSUM62")
    aligner.open_gap_score = -10.0
    aligner.extend_gap_score = -0.5
    aligner.end_gap_score = 0.0
    return aligner


def sequence_identity(a: str, b: str) -> float:
    """Identity in [0, 1]: identical aligned pairs / length of the shorter sequence."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    # BLOSUM62 has no row for some letters (e.g. U, O); map them to X.
    allowed = set("ARNDCQEGHILKMFPSTWYVBZX")
    a = "".join(c if c in allowed else "X" for c in a)
    b = "".join(c if c in allowed else "X" for c in b)
    alignment = _aligner().align(a, b)[0]
    counts = alignment.counts()
    return counts.identities / min(len(a), len(b))


@dataclass(frozen=True)
class ChainCandidate:
    name: str
    sequence: str
    n_ca: int
    n_ca_inside: int
    n_helix: int


@dataclass(frozen=True)
class ChainDecision:
    name: str
    kept: bool
    reason: str  # a Reason value
    message: str


def choose_chains(
    candidates: list[ChainCandidate],
    min_ca: int,
    min_fraction_inside: float,
    max_identity: float,
    require_helix: bool,
) -> list[ChainDecision]:
    """Decide for every protein chain, in model order.

    Eligibility is checked first (size, inside the map, helix), then redundancy among the
    eligible chains only, so a chain is never dropped as a duplicate of a chain that was itself
    excluded.
    """
    decisions: list[ChainDecision] = []
    kept: list[ChainCandidate] = []
    for chain in candidates:
        fraction = chain.n_ca_inside / chain.n_ca if chain.n_ca else 0.0
        if chain.n_ca < min_ca:
            decisions.append(
                ChainDecision(
                    chain.name,
                    False,
                    Reason.CHAIN_TOO_SHORT,
                    f"chain {chain.name} has {chain.n_ca} Cα atoms, fewer than {min_ca}",
                )
            )
            continue
        if fraction < min_fraction_inside:
            decisions.append(
                ChainDecision(
                    chain.name,
                    False,
                    Reason.CHAIN_OUTSIDE_MAP,
                    f"only {fraction:.0%} of chain {chain.name}'s Cα atoms lie inside the map "
                    f"(minimum {min_fraction_inside:.0%})",
                )
            )
            continue
        if require_helix and chain.n_helix == 0:
            decisions.append(
                ChainDecision(
                    chain.name,
                    False,
                    Reason.CHAIN_NO_HELIX,
                    f"chain {chain.name} has no helix residue (DSSP H/G/I)",
                )
            )
            continue
        duplicate = None
        for other in kept:
            identity = sequence_identity(chain.sequence, other.sequence)
            if identity > max_identity:
                duplicate = (other.name, identity)
                break
        if duplicate is not None:
            decisions.append(
                ChainDecision(
                    chain.name,
                    False,
                    Reason.CHAIN_REDUNDANT,
                    f"chain {chain.name} shares {duplicate[1]:.0%} sequence identity with kept "
                    f"chain {duplicate[0]} (maximum {max_identity:.0%})",
                )
            )
            continue
        kept.append(chain)
        message = f"chain {chain.name} kept ({chain.n_ca} residues, {chain.n_helix} in helices)"
        decisions.append(ChainDecision(chain.name, True, Reason.KEPT, message))
    return decisions
