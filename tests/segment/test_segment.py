"""`cryosse segment`: tiling independence, the input's frame, --box, the input grid, bad input.

Real maps from ../shared/realdata, read in place: EMD-8518 (chain A component, 1 Å voxels) and
EMD-5168 (the deposited monomer map: 1.742 Å voxels, non-zero origin). The network is a narrow
UNet3D (base 4) with seeded random weights whose head is scaled up, so the predicted classes
vary from voxel to voxel (checked) and tiling errors would show in the argmax.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import mrcfile
import numpy as np
import pytest
import torch

from cryosse.cli import main
from cryosse.cli.common import UsageError
from cryosse.cli.segment import parse_memory
from cryosse.core.config import ModelSettings
from cryosse.core.output_folder import LOCK_NAME
from cryosse.io.density import read_map
from cryosse.learn.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from cryosse.learn.device import choose_device
from cryosse.learn.ensemble import SeedEnsemble
from cryosse.learn.network_input import normalize_density
from cryosse.learn.predict import predict_box
from cryosse.learn.slab_forward import inference_network
from cryosse.learn.unet import UNet3D, receptive_field
from cryosse.segment.checks import Region
from cryosse.segment.empty_space import density_support
from cryosse.segment.errors import SegmentError
from cryosse.segment.execution import SegmentOptions, select_device, tile_budget
from cryosse.segment.naming import map_stem, output_names
from cryosse.segment.predict import segment_map
from cryosse.segment.tiling import (
    WINDOW_FLOOR,
    AxisPlan,
    ZSlabs,
    labels_from,
    plan_axis,
    plan_tiles,
)
from tests.conftest import REALDATA, REPO

MAP_1A = REALDATA / "EMD-8518" / "A-1.0APIX.mrc"
MAP_5168 = REALDATA / "EMD-5168" / "emd_5168_monomer.mrc"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    net = UNet3D(base=4).eval()
    # Standardise each class's logit over a real map (head weights and bias rescaled): the
    # argmax then follows the density instead of a constant bias, and all three classes occur.
    density, _ = normalize_density(read_map(MAP_1A).data[:88, :80, :52])
    with torch.no_grad():
        logits = net(torch.from_numpy(density)[None, None])[0].flatten(1)
        mean, std = logits.mean(dim=1), logits.std(dim=1)
        net.head.weight.copy_(net.head.weight / std[:, None, None, None, None] * 3)
        net.head.bias.copy_((net.head.bias - mean) / std * 3)
    path = tmp_path_factory.mktemp("model") / "best.pt"
    save_checkpoint(
        make_checkpoint(net.state_dict(), ModelSettings(base=4), {"epoch": 1, "metric": 0.5}),
        path,
    )
    return path


def _header(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """(origin xyz, voxel size xyz, shape zyx) of an MRC file as ChimeraX reads it."""
    density = read_map(path)
    return density.origin, density.voxel_size, density.data.shape


def test_tiled_prediction_matches_the_whole_map(model_path: Path) -> None:
    checkpoint = load_checkpoint(model_path)
    # 55 x 76 x 80 voxels + an empty border of 24 on each side: 2 x 2 x 2 tiles of side <= 96
    box = [0, 0, 8, 54, 75, 87]
    whole = segment_map(
        MAP_1A, None, checkpoint, SegmentOptions(device="cpu", tile_size=1024), box=box
    )
    tiled = segment_map(
        MAP_1A, None, checkpoint, SegmentOptions(device="cpu", tile_size=96), box=box
    )
    assert whole.summary["tiling"]["tiles"] == 1
    assert tiled.summary["tiling"]["tiles"] == 8 and tiled.summary["tiling"]["overlap"] == 44
    counts = np.bincount(whole.labels.ravel(), minlength=3)
    assert (counts > 0.02 * whole.labels.size).all(), counts  # not a constant prediction
    assert float(whole.helix.std()) > 0.05
    agreement = float((whole.labels == tiled.labels).mean())
    assert agreement >= 0.999, agreement
    difference = np.abs(whole.helix - tiled.helix)
    print(
        f"agreement {agreement:.6f}, |Δp helix| mean {difference.mean():.2e} "
        f"max {difference.max():.3f}"
    )
    assert float(difference.mean()) < 1e-4

    # The whole-map path is the training/evaluation prediction (predict_box) of the same box,
    # except that voxels with no density within 3 Å are background (density_support).
    density = read_map(MAP_1A).data[8:88, 0:76, 0:55]
    normalised, zero = normalize_density(density)
    box_obj = type("B", (), {"density": normalised, "zero_level": zero})()
    fp32 = choose_device("cpu", cpu_bf16=False)  # segment_map's default
    probs = predict_box(checkpoint.model, box_obj, fp32)
    support = density_support(density)
    assert 0.2 < support.mean() < 0.9
    assert np.abs(probs[1] - whole.helix)[support].max() < 1e-3
    assert whole.helix[~support].max() == 0.0 and whole.sheet[~support].max() == 0.0
    voted = probs.argmax(axis=0)
    assert float((voted == whole.labels)[support].mean()) > 0.9999


def test_test_time_flips_are_the_mirror_mean_evaluation_measures(model_path: Path) -> None:
    """`--flips` tiles compute what predict_box(flips=True) computes for the validation figures
    (benchmarks/model_options.py), and differ from a single pass."""
    checkpoint = load_checkpoint(model_path)
    box = [0, 0, 8, 54, 75, 87]
    tiles = [1024, 96]  # one tile, then 2 x 2 x 2 tiles
    plain = segment_map(MAP_1A, None, checkpoint, SegmentOptions(device="cpu"), box=box)
    flipped = [
        segment_map(
            MAP_1A, None, checkpoint, SegmentOptions(device="cpu", tile_size=t, flips=True), box=box
        )
        for t in tiles
    ]
    assert flipped[0].summary["device"]["test_time_flips"] is True
    assert plain.summary["device"]["test_time_flips"] is False
    density = read_map(MAP_1A).data[8:88, 0:76, 0:55]
    normalised, zero = normalize_density(density)
    box_obj = type("B", (), {"density": normalised, "zero_level": zero})()
    probs = predict_box(checkpoint.model, box_obj, choose_device("cpu", cpu_bf16=False), flips=True)
    support = density_support(density)
    for result in flipped:
        assert np.abs(probs[1] - result.helix)[support].max() < 1e-3
        assert np.abs(probs[2] - result.sheet)[support].max() < 1e-3
    assert np.abs(plain.helix - flipped[0].helix)[support].max() > 1e-2


def test_several_models_are_a_seed_ensemble_of_mean_probabilities(
    model_path: Path, tmp_path: Path
) -> None:
    """`--model A B`: the mean of the members' probabilities, as the evaluation's SeedEnsemble
    gives it; one checkpoint twice is that checkpoint; another network plan is refused."""
    first = load_checkpoint(model_path)
    state = {k: v.clone() for k, v in first.model.state_dict().items()}
    torch.manual_seed(1)
    state["head.bias"] = state["head.bias"] + torch.randn_like(state["head.bias"])
    other_path = tmp_path / "other.pt"
    save_checkpoint(make_checkpoint(state, ModelSettings(base=4), {"epoch": 1}), other_path)
    box = [0, 0, 8, 54, 75, 87]
    cpu = SegmentOptions(device="cpu")
    one = segment_map(MAP_1A, None, model_path, cpu, box=box)
    twice = segment_map(MAP_1A, None, [model_path, model_path], cpu, box=box)
    assert np.abs(one.helix - twice.helix).max() < 1e-6
    pair = segment_map(MAP_1A, None, [model_path, other_path], cpu, box=box)
    assert [m["path"] for m in pair.summary["ensemble"]] == [str(model_path), str(other_path)]
    assert "ensemble" not in one.summary
    density = read_map(MAP_1A).data[8:88, 0:76, 0:55]
    normalised, zero = normalize_density(density)
    box_obj = type("B", (), {"density": normalised, "zero_level": zero})()
    members = [first.model, load_checkpoint(other_path).model]
    probs = predict_box(SeedEnsemble(members), box_obj, choose_device("cpu", cpu_bf16=False))
    support = density_support(density)
    assert np.abs(probs[1] - pair.helix)[support].max() < 1e-3
    assert np.abs(probs[2] - pair.sheet)[support].max() < 1e-3
    assert np.abs(one.helix - pair.helix)[support].max() > 1e-2
    wider = tmp_path / "wider.pt"
    net = UNet3D(base=8)
    save_checkpoint(make_checkpoint(net.state_dict(), ModelSettings(base=8), {"epoch": 1}), wider)
    with pytest.raises(SegmentError, match="an ensemble averages networks of one setting"):
        segment_map(MAP_1A, None, [model_path, wider], cpu, box=box)
    out = tmp_path / "cli"
    models = ["--model", str(model_path), "--model", str(other_path)]
    args = ["segment", *models, str(MAP_1A), "--box", "0", "0", "8", "54", "75", "87"]
    assert main([*args, "--out", str(out), "--device", "cpu"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [m["sha256"] for m in summary["ensemble"]] == [
        first.sha256,
        pair.summary["ensemble"][1]["sha256"],
    ]


def _write_permuted(source: Path, target: Path) -> None:
    """The same map with MAPC/MAPR/MAPS = 3, 1, 2 (columns along z, rows x, sections y)."""
    density = read_map(source)
    data = np.ascontiguousarray(density.data.transpose(1, 2, 0))  # [y, x, z] = (sec, row, col)
    with mrcfile.new(target) as mrc:
        mrc.set_data(data)
        mrc.voxel_size = float(density.voxel_size[0])
        mrc.header.mapc, mrc.header.mapr, mrc.header.maps = 3, 1, 2
        mrc.header.origin.x, mrc.header.origin.y, mrc.header.origin.z = density.origin


def test_outputs_lie_in_the_input_frame(model_path: Path, tmp_path: Path) -> None:
    origin, voxel, shape_zyx = _header(MAP_5168)
    assert not np.allclose(voxel, 1.0) and np.any(origin != 0)
    rc = main(
        [
            "segment",
            str(MAP_5168),
            "--model",
            str(model_path),
            "--out",
            str(tmp_path / "std"),
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    expected_xyz = np.floor((np.array(shape_zyx[::-1]) - 1) * voxel + 1e-6).astype(int) + 1
    names = output_names("emd_5168_monomer")  # named after the input
    for name in names.values():
        out_origin, out_voxel, out_shape = _header(tmp_path / "std" / name)
        assert np.allclose(out_origin, origin, atol=1e-4)  # the first 1 Å voxel is voxel 0
        assert np.allclose(out_voxel, 1.0)
        assert out_shape == tuple(expected_xyz[::-1])
    labels = read_map(tmp_path / "std" / names["labels"]).data
    helix = read_map(tmp_path / "std" / names["helix_mask"]).data
    assert set(np.unique(labels)) <= {0, 1, 2}
    assert np.array_equal(helix == 1, labels == 1)
    summary = json.loads((tmp_path / "std/summary.json").read_text())
    assert summary["helix"]["voxels"] == int((labels == 1).sum())
    assert summary["helix"]["volume_A3"] == pytest.approx(summary["helix"]["voxels"])
    assert summary["model"]["sha256"] == load_checkpoint(model_path).sha256
    assert summary["model"]["classes"] == ["background", "helix", "sheet"]
    assert summary["grid"]["origin_xyz"] == pytest.approx(origin.tolist())
    assert set(summary["timings_s"]) >= {"read", "resample", "normalise", "predict", "total"}
    assert not list((tmp_path / "std").glob(".tmp-*"))

    # A non-standard axis order gives the same maps in the same place.
    _write_permuted(MAP_5168, tmp_path / "permuted.mrc")
    assert np.allclose(read_map(tmp_path / "permuted.mrc").data, read_map(MAP_5168).data)
    assert (
        main(
            [
                "segment",
                str(tmp_path / "permuted.mrc"),
                "--model",
                str(model_path),
                "--out",
                str(tmp_path / "perm"),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    for kind, name in output_names("permuted").items():
        a, b = read_map(tmp_path / "std" / names[kind]), read_map(tmp_path / "perm" / name)
        assert np.allclose(a.origin, b.origin) and np.array_equal(a.data, b.data)

    # Back on the input grid: the input's shape, origin and voxel size.
    assert (
        main(
            [
                "segment",
                str(MAP_5168),
                "--model",
                str(model_path),
                "--out",
                str(tmp_path / "ongrid"),
                "--device",
                "cpu",
                "--on-input-grid",
            ]
        )
        == 0
    )
    for name in names.values():
        out_origin, out_voxel, out_shape = _header(tmp_path / "ongrid" / name)
        assert np.allclose(out_origin, origin) and np.allclose(out_voxel, voxel)
        assert out_shape == shape_zyx
    back = read_map(tmp_path / "ongrid" / names["helix_prob"]).data
    fine = read_map(tmp_path / "std" / names["helix_prob"]).data
    # an input voxel that is also a 1 Å lattice point (index 0) keeps its probability
    assert back[0, 0, 0] == pytest.approx(fine[0, 0, 0], abs=1e-6)
    assert abs(float(back.mean()) - float(fine.mean())) < 0.02


def test_anisotropic_voxels_and_box(model_path: Path, tmp_path: Path) -> None:
    density = read_map(MAP_1A)
    voxel = np.array([1.3, 0.8, 1.1])
    origin = np.array([12.5, -40.0, 3.25])
    path = tmp_path / "aniso.mrc.gz"
    import gzip

    with mrcfile.new(tmp_path / "aniso.mrc") as mrc:
        mrc.set_data(density.data[::2, ::2, ::2].copy())
        mrc.voxel_size = tuple(voxel)
        mrc.header.origin.x, mrc.header.origin.y, mrc.header.origin.z = origin
    path.write_bytes(gzip.compress((tmp_path / "aniso.mrc").read_bytes()))
    box = [2, 3, 4, 20, 30, 40]
    result = segment_map(path, tmp_path / "out", model_path, SegmentOptions(device="cpu"), box=box)
    # x: 2.6..26 Å → lattice points 3..26; y: 2.4..24 Å → 3..24; z: 4.4..44 Å → 5..44
    k0 = np.array([3, 3, 5])
    assert np.allclose(result.origin, origin + k0, atol=1e-4)
    assert result.helix.shape == (40, 22, 24)
    out_origin, out_voxel, _ = _header(tmp_path / "out/aniso_labels.mrc")
    assert np.allclose(out_origin, origin + k0, atol=1e-4) and np.allclose(out_voxel, 1.0)
    assert result.summary["box"]["first_xyz"] == box[:3]

    on_grid = segment_map(
        path,
        tmp_path / "grid",
        model_path,
        SegmentOptions(device="cpu"),
        box=box,
        on_input_grid=True,
    )
    out_origin, out_voxel, out_shape = _header(tmp_path / "grid/aniso_sheet_prob.mrc")
    assert np.allclose(out_origin, origin + np.array(box[:3]) * voxel)
    assert np.allclose(out_voxel, voxel)
    assert out_shape == (box[5] - box[2] + 1, box[4] - box[1] + 1, box[3] - box[0] + 1)
    assert on_grid.summary["outputs_on"] == "input grid"


def test_box_validation() -> None:
    shape = (10, 20, 30)
    assert Region.from_box([0, 0, 0, 9, 19, 29], shape) == Region.whole(shape)
    for bad, message in (
        ([0, 0, 0, 10, 19, 29], "outside the map"),
        ([-1, 0, 0, 5, 5, 5], "outside the map"),
        ([5, 0, 0, 4, 5, 5], "first index 5 > last index 4"),
        ([0, 0, 0, 1], "6 grid indices"),
    ):
        with pytest.raises(SegmentError, match=message):
            Region.from_box(bad, shape)


@pytest.mark.parametrize("slab_voxels", [1, 700, 2**17])
def test_slab_forward_equals_the_whole_volume_pass(model_path: Path, slab_voxels: int) -> None:
    """The z-slab forward (SlabForward) gives the probabilities of one pass of the network over
    the whole tile, on real density: the test network, a depth-3 one with a batch of two, and
    the shipped base-16 model, with slabs of 2 planes up to a few slabs per tile."""
    density, _ = normalize_density(read_map(MAP_1A).data[8:88, 0:76, 0:55])
    tile = torch.from_numpy(np.ascontiguousarray(density[:40, :32, :48]))[None, None]
    torch.manual_seed(1)
    deeper = UNet3D(base=4, depth=3).eval()
    shipped = REPO / "src/cryosse/models/default.pt"
    networks = [
        (load_checkpoint(model_path).model, tile),
        (deeper, torch.cat([tile, tile.flip(2)])),
    ]
    if shipped.exists():
        networks.append((load_checkpoint(shipped).model, tile))
    for net, x in networks:
        lean = inference_network(net)
        lean.slab_voxels = slab_voxels
        with torch.inference_mode():
            whole = torch.softmax(lean.net(x), dim=1)[:, 1:3]
            slabs = lean(x)
        assert slabs.shape == whole.shape and slabs.dtype == torch.float32
        assert float(whole.std()) > 0.01  # not a constant prediction
        assert float((slabs - whole).abs().max()) < 1e-4  # float rounding (oneDNN blocking)


def test_tile_plans() -> None:
    assert receptive_field(2) == 44
    for length in (17, 64, 91, 128, 255, 400):
        for max_side in (64, 96, 128):
            axis = plan_axis(length, 4, max_side, 44)
            count = len(axis.starts)
            assert axis.side <= max_side and axis.side % 4 == 0
            # the fewest tiles: one less of the largest side could not cover the axis
            assert count == 1 or (count - 1) * max_side - (count - 2) * 44 < axis.padded
            assert all(s % 4 == 0 for s in axis.starts) and axis.starts[0] == 0
            assert axis.starts[-1] + axis.side == axis.padded >= length
            for a, b in zip(axis.starts, axis.starts[1:], strict=False):
                assert axis.side - (b - a) >= 44  # neighbours share the overlap
            weights = axis.weight_sum(44)
            assert weights.shape == (length,) and weights.min() > 0
            for i in range(len(axis.starts)):
                assert axis.window(i, 44).min() >= WINDOW_FLOOR > 0
    # 400 voxels, tiles <= 160: 3 would cover 392, so 4, shrunk to side 136 (less waste)
    assert plan_axis(400, 4, 160, 44) == AxisPlan(400, 400, 136, (0, 88, 176, 264))
    assert plan_tiles((91, 81, 55), 4, None, 44).n_tiles == 1
    with pytest.raises(ValueError, match="no room beside the overlap"):
        plan_axis(200, 4, 44, 44)


def test_zslabs_read_like_the_array_and_free_what_the_tiles_passed() -> None:
    from cryosse.learn.network_input import apply_normalization, normalization_params

    rng = np.random.default_rng(2)
    raw = rng.normal(size=(37, 11, 13)).astype(np.float32)
    params = normalization_params(raw)
    # slab by slab with the whole map's parameters: exactly normalize_density's values
    slabs = ZSlabs([apply_normalization(raw[z : z + 8], params) for z in range(0, 37, 8)])
    whole, _ = normalize_density(raw)
    assert slabs.shape == whole.shape
    for z0, y0, x0 in ((0, 0, 0), (5, 3, 2), (30, 6, 10), (36, 10, 12)):
        out = np.full((9, 7, 6), -5.0, dtype=np.float32)
        slabs.copy_into(out, z0, y0, x0)
        block = whole[z0 : z0 + 9, y0 : y0 + 7, x0 : x0 + 6]
        assert np.array_equal(out[: block.shape[0], : block.shape[1], : block.shape[2]], block)
        assert (out[block.shape[0] :] == -5.0).all()  # beyond the map: left as it was
    slabs.release_below(17)  # frees the slabs 0-7 and 8-15, keeps 16-23
    slabs.copy_into(np.empty((4, 11, 13), dtype=np.float32), 16, 0, 0)
    with pytest.raises(ValueError, match="already released"):
        slabs.copy_into(np.empty((4, 11, 13), dtype=np.float32), 14, 0, 0)


def test_bordered_zslabs_read_empty_map_around_the_volume() -> None:
    rng = np.random.default_rng(3)
    inner = rng.normal(size=(10, 6, 7)).astype(np.float32)
    slabs = ZSlabs([inner[:4], inner[4:]], border=3)
    assert slabs.shape == (16, 12, 13) and slabs.inner_shape == inner.shape
    reference = np.pad(inner, 3, constant_values=0.0)
    for z0, y0, x0 in ((0, 0, 0), (2, 1, 5), (9, 8, 9), (15, 11, 12)):
        out = np.zeros((5, 4, 6), dtype=np.float32)
        slabs.copy_into(out, z0, y0, x0)
        block = reference[z0 : z0 + 5, y0 : y0 + 4, x0 : x0 + 6]
        assert np.array_equal(out[: block.shape[0], : block.shape[1], : block.shape[2]], block)


def _write(path: Path, data: np.ndarray, voxel: float = 1.0) -> Path:
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.ascontiguousarray(data, dtype=np.float32))
        mrc.voxel_size = voxel
    return path


@pytest.mark.parametrize("source", ["noise", "EMD-8518", "EMD-5168"])
def test_no_face_of_an_output_is_a_plane_of_one_class(
    model_path: Path, tmp_path: Path, source: str
) -> None:
    """No face is uniformly helix or sheet (the first default model put a plane of "sheet" on
    every y = 0 face), on noise and on real maps."""
    if source == "noise":
        data = np.abs(np.random.default_rng(5).normal(size=(40, 44, 36)))
        path = _write(tmp_path / "noise.mrc", data)
    else:
        path = MAP_1A if source == "EMD-8518" else MAP_5168
    labels = segment_map(path, None, model_path, SegmentOptions(device="cpu")).labels
    for axis in range(3):
        for face in (0, -1):
            plane = np.take(labels, face, axis=axis)
            assert (plane == 1).mean() < 0.98 and (plane == 2).mean() < 0.98, (axis, face)


def test_empty_space_around_a_map_changes_nothing(model_path: Path, tmp_path: Path) -> None:
    """Zero padding (a whole number of pooling cells, so the pooling grid stays) leaves every
    prediction of the map as it was: the network sees the map's faces through an empty border
    of half its receptive field, never through its own zero padding."""
    density = read_map(MAP_1A).data
    alone = segment_map(MAP_1A, None, model_path, SegmentOptions(device="cpu"))
    padded = segment_map(
        _write(tmp_path / "padded.mrc", np.pad(density, 12)),
        None,
        model_path,
        SegmentOptions(device="cpu"),
    )
    common = padded.labels[12:-12, 12:-12, 12:-12]
    assert common.shape == alone.labels.shape
    assert float((common == alone.labels).mean()) >= 0.999
    assert np.abs(padded.helix[12:-12, 12:-12, 12:-12] - alone.helix).max() < 1e-3


def test_labels_are_the_argmax() -> None:
    rng = np.random.default_rng(1)
    probs = rng.dirichlet([1, 1, 1], size=(20, 7, 9)).astype(np.float32)
    labels = labels_from(probs[..., 1], probs[..., 2])
    assert np.array_equal(labels, probs.argmax(axis=-1))


def test_the_tile_budget_honours_the_jobs_memory_limit(
    model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a CPU the tiles fit a quarter of what the process may use: under a SLURM allocation
    (as under a cgroup or RLIMIT_AS limit: cryosse.io.density.memory_budget), a quarter of the
    allocation, not of the machine's free RAM."""
    monkeypatch.setenv("SLURM_MEM_PER_NODE", "512")  # MiB
    budget = tile_budget(select_device("cpu"))
    assert budget <= 128 * 2**20
    result = segment_map(MAP_1A, None, model_path, SegmentOptions(device="cpu"))
    assert result.summary["tiling"]["memory_budget_bytes"] == budget


def test_parse_memory() -> None:
    assert parse_memory("4G") == 4 * 2**30 and parse_memory("512MiB") == 512 * 2**20
    assert parse_memory("2.5g") == int(2.5 * 2**30) and parse_memory("3000000") == 3000000
    for bad in ("lots", "10", "-4G"):
        with pytest.raises(UsageError):
            parse_memory(bad)


def _write_map(path: Path, data: np.ndarray, voxel: float = 1.0) -> Path:
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(data.astype(np.float32))
        mrc.voxel_size = voxel
    return path


def _bad_inputs(tmp: Path, model: Path) -> list[tuple[list[str], str]]:
    good = np.random.default_rng(0).random((20, 20, 20)).astype(np.float32)
    nan = good.copy()
    nan[3, 4, 5] = np.nan
    (tmp / "text.mrc").write_text("not a map\n")
    (tmp / "empty.mrc").write_bytes(b"")
    (tmp / "outfile").write_text("x")
    legacy = tmp / "legacy.pt"
    torch.save({"model": UNet3D(base=4).state_dict(), "model_config": {"base": 4}}, legacy)
    maps = {
        "nan": _write_map(tmp / "nan.mrc", nan),
        "zero": _write_map(tmp / "zero.mrc", np.zeros((20, 20, 20))),
        "negative": _write_map(tmp / "negative.mrc", -good),
        "tiny_voxel": _write_map(tmp / "tiny.mrc", good, voxel=0.01),
        "huge_voxel": _write_map(tmp / "huge.mrc", good, voxel=50.0),
        "flat": _write_map(tmp / "flat.mrc", good[:1]),
        "good": _write_map(tmp / "good.mrc", good),
    }
    m = ["--model", str(model)]
    return [
        ([str(tmp / "missing.mrc"), *m], "not found"),
        ([str(tmp / "text.mrc"), *m], "not a readable MRC map"),
        ([str(tmp / "empty.mrc"), *m], "empty.mrc"),
        ([str(maps["nan"]), *m], "NaN or infinite"),
        ([str(maps["zero"]), *m], "constant"),
        ([str(maps["negative"]), *m], "no positive density"),
        ([str(maps["tiny_voxel"]), *m], "implausible voxel size"),
        ([str(maps["huge_voxel"]), *m], "implausible voxel size"),
        ([str(maps["flat"]), *m], "expected a 3D volume"),
        ([str(maps["good"]), *m, "--box", "0", "0", "0", "20", "5", "5"], "outside the map"),
        ([str(maps["good"]), *m, "--box", "0", "0", "0", "0", "5", "5"], "too small"),
        ([str(maps["good"]), "--model", str(tmp / "nope.pt")], "not found"),
        ([str(maps["good"]), "--model", str(legacy)], "not a cryosse model checkpoint"),
        ([str(maps["good"]), "--model", str(tmp / "text.mrc")], "not a readable model"),
        ([str(maps["good"]), *m, "--out", str(tmp / "outfile")], "not a folder"),
        ([str(maps["good"]), *m, "--max-memory", "lots"], "--max-memory"),
        ([str(maps["good"]), *m, "--tile-size", "2"], "at least 4"),
        ([str(maps["good"]), *m, "--tile-size", "0"], "at least 4"),
        ([str(maps["good"]), *m, "--threads", "-1"], "--threads -1: at least 1"),
        ([str(maps["good"]), *m, "--batch-size", "0"], "--batch-size 0: at least 1"),
    ]


@pytest.mark.filterwarnings("ignore:Data array contains NaN")
def test_bad_input_gives_one_line_and_exit_1(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = _bad_inputs(tmp_path, model_path)
    if not torch.cuda.is_available():
        cases.append(
            (
                [str(tmp_path / "good.mrc"), "--model", str(model_path), "--device", "cuda"],
                "no CUDA device",
            )
        )
    from cryosse.learn.device import cpu_bf16_supported

    if not cpu_bf16_supported():
        cases.append(
            (
                [
                    str(tmp_path / "good.mrc"),
                    "--model",
                    str(model_path),
                    "--device",
                    "cpu",
                    "--cpu-bf16",
                ],
                "no oneDNN bf16",
            )
        )
    for args, message in cases:
        rc = main(
            ["segment", *args, "--out", str(tmp_path / "out")]
            if "--out" not in args
            else ["segment", *args]
        )
        err = capsys.readouterr().err
        assert rc == 1, (args, err)
        assert err.startswith("cryosse segment: ") and err.count("\n") == 1, err
        assert message in err, (message, err)
        assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing written for refused input


def test_default_model_missing_and_real_cli_process(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _write_map(tmp_path / "good.mrc", np.random.default_rng(0).random((12, 12, 12)))
    out = tmp_path / "out"
    # A real process: the one-line message, no traceback, exit status 1.
    command = [sys.executable, "-m", "cryosse.cli", "segment", str(good), "--out", str(out)]
    if (REPO / "src/cryosse/models/default.pt").exists():  # issue 10 ships one
        command += ["--box", "0", "0", "0", "99", "99", "99"]
        expected = "outside the map"
    else:
        expected = "no default model is shipped"
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert expected in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert main(["segment", str(good), "--model", str(model_path), "--out", str(out)]) == 0
    assert "ChimeraX: open" in capsys.readouterr().out
    expected = [*output_names("good").values(), "good.cxc", "good.pml", "summary.json", LOCK_NAME]
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)


def test_a_map_whose_1A_grid_cannot_fit_is_refused_before_reading(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """100³ voxels of 20 Å: a 4 MB file whose 1 Å grid has 8·10⁹ voxels (~90 GB of work) is
    refused from its header with a reason, before the map is read or resampled."""
    from cryosse.core.reasons import DataError, Reason

    coarse = tmp_path / "coarse.mrc"
    with mrcfile.new(coarse) as mrc:
        mrc.set_data(np.random.default_rng(0).random((100, 100, 100), dtype=np.float32))
        mrc.voxel_size = 20.0
    with pytest.raises(DataError, match="8,000,000,000 voxels at 1 Å") as info:
        segment_map(coarse, None, model_path, SegmentOptions(device="cpu"))
    assert info.value.reason == Reason.MAP_TOO_LARGE
    code = main(
        [
            "segment",
            str(coarse),
            "--model",
            str(model_path),
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2 and "needs about" in capsys.readouterr().err
    assert not (tmp_path / "out" / "coarse_helix_prob.mrc").exists()


def _cxc_volumes(cxc: Path) -> dict[Path, tuple[float, str, bool]]:
    """{file opened by the .cxc (resolved in its folder, as ChimeraX does): (level, colour,
    hidden)}; models numbered #1, #2, ... in the order they are opened."""
    opened: list[Path] = []
    shown: dict[int, tuple[float, str]] = {}
    hidden: set[int] = set()
    for line in cxc.read_text().splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "open":
            opened.append((cxc.parent / line.split('"')[1]).resolve())
        elif words[0] == "volume":
            model = int(words[1].lstrip("#"))
            shown[model] = (float(words[words.index("level") + 1]), words[words.index("color") + 1])
        elif words[0] == "hide":
            hidden.add(int(words[1].lstrip("#")))
    assert sorted(shown) == list(range(1, len(opened) + 1)), "a level for every opened map"
    return {path: (*shown[i + 1], i + 1 in hidden) for i, path in enumerate(opened)}


def _no_sheet_model(model_path: Path, tmp_path: Path) -> Path:
    """The test network with its sheet logit pushed far down: no voxel is ever sheet."""
    checkpoint = load_checkpoint(model_path)
    weights = {k: v.clone() for k, v in checkpoint.model.state_dict().items()}
    weights["head.bias"][2] -= 100.0
    path = tmp_path / "no_sheet.pt"
    save_checkpoint(
        make_checkpoint(weights, ModelSettings(base=4), {"epoch": 1, "metric": 0.5}), path
    )
    return path


def test_chimerax_file_opens_existing_files_at_levels_inside_their_values(
    model_path: Path, tmp_path: Path
) -> None:
    box = ["--box", "0", "0", "8", "54", "75", "87"]
    runs = {"all": model_path, "no_sheet": _no_sheet_model(model_path, tmp_path)}
    for run, model in runs.items():
        out = tmp_path / run
        assert (
            main(
                [
                    "segment",
                    str(MAP_1A),
                    "--model",
                    str(model),
                    "--out",
                    str(out),
                    "--device",
                    "cpu",
                    *box,
                ]
            )
            == 0
        )
        names = output_names(map_stem(MAP_1A))
        cxc = out / f"{map_stem(MAP_1A)}.cxc"
        volumes = _cxc_volumes(cxc)
        assert next(iter(volumes)) == MAP_1A.resolve()  # the map first, as #1
        for path, (level, _, _) in volumes.items():
            assert path.is_file(), path
            data = read_map(path, allow_constant=True).data
            assert float(data.min()) < level < float(data.max()), (path.name, level)
        labels = read_map(out / names["labels"], allow_constant=True).data
        sheet_mask = (out / names["sheet_mask"]).resolve()
        helix_mask = (out / names["helix_mask"]).resolve()
        assert volumes[MAP_1A.resolve()][1] != volumes[helix_mask][1] == "red"
        assert not volumes[helix_mask][2]  # shown
        if run == "all":
            assert (labels == 2).any()
            assert volumes[sheet_mask][1] == "yellow" and not volumes[sheet_mask][2]
        else:
            assert not (labels == 2).any() and sheet_mask not in volumes
        summary = json.loads((out / "summary.json").read_text())
        assert summary["chimerax"]["file"] == cxc.name
        assert cxc.name in summary["files"]


def _emdb_header(path: Path, resolution: float, contour: float) -> Path:
    path.write_text(
        '<emd emdb_id="EMD-8518"><structure_determination_list><structure_determination>'
        "<method>singleParticle</method><singleparticle_processing><final_reconstruction>"
        f"<resolution>{resolution}</resolution></final_reconstruction>"
        "</singleparticle_processing></structure_determination></structure_determination_list>"
        f'<map><contour_list><contour primary="true"><level>{contour}</level></contour>'
        "</contour_list></map></emd>"
    )
    return path


def test_resolution_outside_the_trained_range_warns_and_is_recorded(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = read_map(MAP_1A).data[8:48, 0:40, 0:40]
    path = _write(tmp_path / "small.mrc", small)
    expected = {3.2: True, 15.0: True, 7.0: False}  # the test checkpoint records no range
    for value, warns in expected.items():
        out = tmp_path / f"r{value}"
        assert (
            main(
                [
                    "segment",
                    str(path),
                    "--model",
                    str(model_path),
                    "--out",
                    str(out),
                    "--resolution",
                    str(value),
                    "--device",
                    "cpu",
                ]
            )
            == 0
        )
        captured = capsys.readouterr()
        assert ("warning: the map's resolution" in captured.err) is warns, captured.err
        record = json.loads((out / "summary.json").read_text())["resolution"]
        assert record["value_A"] == value and record["source"] == "--resolution"
        assert record["trained_range_A"] == [5.0, 10.0]
        assert "not recorded in the checkpoint" in record["trained_range_source"]
        assert record["inside_trained_range"] is (not warns)
        assert (record["warning"] is not None) is warns
        assert f"resolution: {value:g} Å" in captured.out

    # No --resolution: the EMDB header beside the map (its number taken from the map's name),
    # whose recommended contour becomes the map's level in the .cxc.
    emdb = tmp_path / "EMD-8518" / "map"
    emdb.mkdir(parents=True)
    header_dir = emdb.parent / "header"
    header_dir.mkdir()
    contour = float(np.percentile(small, 80))
    _emdb_header(header_dir / "emd-8518-v30.xml", 15.0, contour)
    mapped = _write(emdb / "emd_8518.map", small)
    with pytest.warns(UserWarning, match="15 Å .*EMDB header emd-8518-v30.xml"):
        result = segment_map(mapped, tmp_path / "hdr", model_path, SegmentOptions(device="cpu"))
    assert result.summary["resolution"]["value_A"] == 15.0
    assert result.summary["chimerax"]["levels"]["map"] == pytest.approx(contour)
    # no header, no --resolution: unknown, no warning
    plain = segment_map(path, None, model_path, SegmentOptions(device="cpu"))
    assert plain.summary["resolution"]["value_A"] is None
    assert plain.summary["resolution"]["warning"] is None

    # A checkpoint that records its training cases' range (3-4 Å here) is judged by it.
    checkpoint = load_checkpoint(model_path)
    recorded = tmp_path / "recorded.pt"
    save_checkpoint(
        make_checkpoint(
            checkpoint.model.state_dict(),
            ModelSettings(base=4),
            {"epoch": 1, "metric": 0.5, "train_resolution_A": [3.0, 4.0]},
        ),
        recorded,
    )
    inside = segment_map(path, None, recorded, SegmentOptions(device="cpu"), resolution=3.2)
    assert inside.summary["resolution"]["inside_trained_range"] is True
    assert inside.summary["resolution"]["trained_range_source"] == "the checkpoint's training cases"
    with pytest.raises(SegmentError, match="--resolution -1"):
        segment_map(path, None, model_path, SegmentOptions(device="cpu"), resolution=-1.0)


def test_training_summary_records_the_training_resolution_range(tmp_path: Path) -> None:
    from cryosse.learn.checkpoint import training_data_summary

    dirs = []
    for name, resolution in (("a", 5.5), ("b", 9.25), ("v", 12.0)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "sample.json").write_text(json.dumps({"resolution": resolution}))
        dirs.append(tmp_path / name)
    summary = training_data_summary(dirs[:2], dirs[2:])
    assert summary["train_resolution_A"] == [5.5, 9.25]  # validation cases not counted
    assert training_data_summary([], [])["train_resolution_A"] is None


def test_a_fitted_model_gets_a_per_residue_table(model_path: Path, tmp_path: Path) -> None:
    """--structure: one row per protein residue of the real EMD-8518 chain A model, the
    prediction beside the model's own DSSP; residues outside a --box are marked, not guessed;
    an unreadable model stops the run before the checkpoint is even looked for."""
    from cryosse.evaluate.residue_table import COLUMNS
    from cryosse.io.structure import protein_residues, read_model

    structure = REALDATA / "EMD-8518" / "A_fitted.pdb"
    out = tmp_path / "seg"
    box = ["--box", "0", "0", "0", "54", "40", "90"]  # the lower half of y only
    code = main(
        [
            "segment",
            str(MAP_1A),
            "--model",
            str(model_path),
            "--out",
            str(out),
            "--structure",
            str(structure),
            *box,
        ]
    )
    assert code == 0
    table = out / "A-1.0APIX_residues.tsv"
    rows = list(csv.DictReader(table.open(), delimiter="\t"))
    assert list(rows[0]) == COLUMNS
    residues = protein_residues(read_model(structure))
    assert [(r["chain"], r["residue"]) for r in rows] == [(r.chain, r.residue_id) for r in residues]
    inside = [r for r in rows if r["vote_3A"] != "outside"]
    outside = [r for r in rows if r["vote_3A"] == "outside"]
    assert inside and outside  # the box cuts the chain
    assert all(r["p_helix"] == "NA" and r["argmax_at_ca"] == "outside" for r in outside)
    # argmax_at_ca is the row's own probabilities' argmax (issue 25: `predicted`, the 3 Å vote,
    # contradicted them in 21 of 366 rows); vote_3A may differ, and the summary counts where
    names = ("background", "helix", "sheet")
    for r in inside:
        values = [float(r[f"p_{c}"]) for c in names]
        assert values[names.index(r["argmax_at_ca"])] == pytest.approx(max(values), abs=1e-3)
    differs = sum(r["vote_3A"] != r["argmax_at_ca"] for r in rows)
    guide = (out / "A-1.0APIX_residues_columns.txt").read_text()
    assert all(column in guide for column in ("vote_3A", "argmax_at_ca", "within 3 Å", "A_fitted"))
    assert all(float(r["ca_y"]) < 41 + read_map(MAP_1A).origin[1] for r in inside)
    for r in inside:
        probabilities = [float(r[f"p_{c}"]) for c in ("background", "helix", "sheet")]
        assert all(0.0 <= p <= 1.0 for p in probabilities)
        assert sum(probabilities) == pytest.approx(1.0, abs=2e-3)
    assert {r["dssp_class"] for r in rows} == {"helix", "sheet", "background"}  # real mkdssp
    assert sum(r["dssp"] == "H" for r in rows) > 50
    summary = json.loads((out / "summary.json").read_text())["residues"]
    assert summary["residues"] == len(rows) and summary["predicted"]["outside"] == len(outside)
    assert summary["predicted_by"] == "vote_3A" and summary["argmax_at_ca_differs"] == differs
    assert summary["dssp_residues"] == len(inside)
    bad = tmp_path / "bad.pdb"
    bad.write_text("not a model\n")
    code = main(
        [
            "segment",
            str(MAP_1A),
            "--model",
            "absent.pt",
            "--out",
            str(tmp_path / "b"),
            "--structure",
            str(bad),
        ]
    )
    assert code == 1 and not (tmp_path / "b").exists()
