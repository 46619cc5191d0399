"""Simulated medium-resolution (5–10 Å) cryo-EM maps from atomic models, as mirror entries.

Each simulated map is written as an entry of a local mirror (`mirror_entry.write_entry`: v3
header XML, `emd_XXXXX.map.gz`, the source model copied unchanged) so it passes through the
same curation, quality, crop and label steps as an EMDB entry. `recipe.py` draws and computes
the map; `batch.py` simulates many, in parallel processes.

**Ids.** Simulated entries get ids in `core.ids.SIMULATED_IDS` (`EMD-92000` … `EMD-99999`),
derived entries (`synthetic/derive.py`) ids in `DERIVED_IDS` (`EMD-91000` … `EMD-91999`). Every
simulated header's title starts with "SIMULATED", its comment says it is not an EMDB entry, and
`core.ids.entry_origin()` tells simulated / derived / emdb from the id alone. The fitted model id
is the real PDB id of the source structure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gemmi
import numpy as np

from cryosse.core.ids import SIMULATED_IDS, entry_rng, reserved_entry_id
from cryosse.synthetic.atoms import (
    SimulationError,
    atoms_from_structure,
    read_clean_structure,
    structure_pdb_id,
)
from cryosse.synthetic.mirror_entry import (
    HeaderInfo,
    model_suffix,
    mrc_bytes,
    read_plain_bytes,
    write_entry,
)
from cryosse.synthetic.parameters import RESOLUTION, Profile, profile_named
from cryosse.synthetic.recipe import SimulatedMap, simulate_atoms


def _summary(emdb_id: str, pdb_id: str, params: dict[str, Any]) -> str:
    missing = params["missing_density"]
    extra = ", ".join(e["kind"] for e in params["extra_density"]) or "none"
    return (
        f"SIMULATED map, not an EMDB entry: written by cryosse simulate from PDB {pdb_id} "
        f"(id {emdb_id} is from the reserved simulated range EMD-{SIMULATED_IDS[0]}.."
        f"{SIMULATED_IDS[1]}). Resolution {params['resolution']:.2f} Å (sigma 0.225*res + "
        f"B-factors, global B {params['b_global']:.0f}), voxel {params['voxel_size']:.3f} Å, "
        f"{params['origin_mode']} positioning, local resolution down to "
        f"{params['local_resolution']['worst_resolution']:.2f} Å, SNR "
        f"{params['noise']['snr']:.2f}, missing density: "
        f"{missing['kind'] if missing else 'none'}, extra density: {extra}, mask: "
        f"{'yes' if params['mask'] else 'no'}. All parameters: other/simulation.json."
    )


_ASSEMBLIES: dict[str, Any] = {}


def _assembly_of(key: str, structure: gemmi.Structure) -> Any:
    """The checked assembly model of a structure file, kept for its next map (a structure's
    maps are simulated one after another; one entry is kept, so memory stays bounded)."""
    from cryosse.synthetic.assembly import checked_assembly

    if key not in _ASSEMBLIES:
        _ASSEMBLIES.clear()
        _ASSEMBLIES[key] = checked_assembly(structure)
    return _ASSEMBLIES[key]


def _entry_model(
    model_path: Path, profile: Profile
) -> tuple[gemmi.Structure, tuple[bytes, str], dict[str, Any] | None]:
    """The structure to simulate, the model the entry ships (bytes, suffix), and the assembly
    record (None without an `assembly` profile)."""
    from cryosse.synthetic.assembly import model_bytes

    try:
        suffix = model_suffix(model_path)
    except ValueError as exc:
        raise SimulationError("model_unreadable", str(exc)) from exc
    structure = read_clean_structure(model_path)
    model = (read_plain_bytes(model_path), suffix)
    if not profile.assembly:
        return structure, model, None
    built = _assembly_of(str(model_path), structure)
    if built.record.get("used"):
        return built.structure, (model_bytes(built.structure), ".cif"), built.record
    return structure, model, built.record


def _header_info(emdb_id: str, pdb_id: str, sim: SimulatedMap) -> HeaderInfo:
    return HeaderInfo(
        emdb_id=emdb_id,
        pdb_ids=(pdb_id,),
        title=f"SIMULATED {sim.params['resolution']:.1f} A map of PDB {pdb_id.upper()} "
        "(cryosse simulate; not an EMDB entry)",
        method="singleParticle",
        resolution=round(sim.params["resolution"], 2),
        comment=_summary(emdb_id, pdb_id, sim.params),
        contour_level=sim.contour,
    )


def simulate_entry(
    model_path: Path,
    emdb_id: str,
    mirror_root: Path,
    seed: int,
    resolution: float | None = None,
    profile: Profile | str = "v1",
    resolution_range: tuple[float, float] = RESOLUTION,
) -> dict[str, Any]:
    """Simulate one map of one structure and write it as a mirror entry; return its record.
    With an `assembly` profile the entry's model is the assembly model (`assembly.py`,
    mmCIF), the same for every map of the structure; otherwise the file, copied unchanged."""
    profile = profile_named(profile)
    emdb_id = reserved_entry_id(emdb_id, "simulated")
    pdb_id = structure_pdb_id(model_path)
    structure, model, assembly_record = _entry_model(model_path, profile)
    atoms = atoms_from_structure(structure, model_path.name)
    rng = entry_rng(seed, emdb_id, pdb_id)
    sim = simulate_atoms(atoms, rng, resolution, profile, resolution_range)
    record = {
        "simulated": True,
        "emdb_id": emdb_id,
        "pdb_id": pdb_id,
        "source_model": model_path.name,
        "seed": seed,
        "b_source": atoms.b_source,
        "n_atoms": len(atoms.xyz),
        "n_protein_residues": len(atoms.residues),
        "n_chains": len(np.unique(atoms.chain_of_residue)),
        "assembly": assembly_record,
        "parameters": sim.params,
    }
    ox, oy, oz = (float(v) for v in sim.origin) if sim.origin_mode == "origin" else (0.0, 0.0, 0.0)
    data = mrc_bytes(
        sim.data,
        sim.voxel,
        origin_xyz=(ox, oy, oz),
        nstart_xyz=sim.nstart,
        label=f"cryosse SIMULATED from {pdb_id}",
    )
    info = _header_info(emdb_id, pdb_id, sim)
    write_entry(mirror_root, info, data, {pdb_id: model}, record, "simulation.json")
    return record
