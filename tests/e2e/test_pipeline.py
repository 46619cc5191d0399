"""The real Snakemake workflow on the demo archive, with broken entries mixed in."""

import csv
import gzip
import hashlib
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from tests.conftest import DEMO_MIRROR, REPO
from tests.support.browser import headless_chromium
from tests.support.snakemake import SNAKEMAKE, run_snakemake

DEMO_ENTRIES = ["EMD-3488", "EMD-5168", "EMD-8518", "EMD-6149", "EMD-21457"]


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.mark.slow
def test_demo_pipeline_survives_broken_entries(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(DEMO_MIRROR, mirror)
    # A broken entry: a copy of EMD-8518 whose map is a truncated gzip.
    broken = mirror / "emdb/structures/EMD-90010"
    shutil.copytree(mirror / "emdb/structures/EMD-8518", broken)
    header = broken / "header/emd-8518-v30.xml"
    header.rename(broken / "header/emd-90010-v30.xml")
    text = (broken / "header/emd-90010-v30.xml").read_text()
    (broken / "header/emd-90010-v30.xml").write_text(
        text.replace("EMD-8518", "EMD-90010").replace("emd_8518", "emd_90010")
    )
    data = (broken / "map/emd_8518.map.gz").read_bytes()
    (broken / "map/emd_8518.map.gz").unlink()
    (broken / "map/emd_90010.map.gz").write_bytes(data[: len(data) // 3])

    demo = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    demo["entries"] = [*DEMO_ENTRIES, "EMD-90010", "EMD-12", "EMD-99999"]
    demo["entries_file"] = None  # demo/entries.tsv lists the five again, relative to the repo
    demo["training"]["losses"] = ["CE", "FL_DL"]  # two of the five keep the test short
    demo["archive"]["mirror"] = str(mirror)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(demo))

    result = run_snakemake(tmp_path, config)
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "results" / "demo"

    log = read_tsv(results / "curation_log.tsv")
    entries = {r["emdb_id"]: r for r in log if r["level"] == "entry"}
    assert set(entries) == {*DEMO_ENTRIES, "EMD-90010", "'EMD-12'", "EMD-99999"}
    assert entries["EMD-90010"]["reason"] == "map_unreadable"
    assert entries["'EMD-12'"]["reason"] == "invalid_id"
    assert entries["EMD-99999"]["reason"] == "header_missing"
    assert entries["EMD-21457"]["reason"] == "chain_no_helix"  # a β-only domain
    for emdb in ("EMD-3488", "EMD-5168", "EMD-8518", "EMD-6149"):
        assert entries[emdb]["status"] == "kept"

    manifest = read_tsv(results / "manifest.tsv")
    assert [r["sample_id"] for r in manifest] == [
        "EMD-3488_5me2_A",
        "EMD-3488_5me2_B",
        "EMD-5168_3mfp_A",
        "EMD-6149_3j8g_X",
        "EMD-8518_5u8s_A",
    ]
    for row in manifest:
        sample = results / row["path"]
        assert {p.name for p in sample.iterdir()} == {
            "density.mrc",
            "labels.mrc",
            "residues.tsv",
            "sample.json",
        }
        assert int(row["helix_voxels"]) > 0
        assert int(row["central_nx"]) == int(row["nx"]) - 34
    assert not list(results.rglob(".tmp-*")), "temporary files left behind"
    # Tables and the self-contained HTML report render from this tiny run.
    assert "| FL_DL |" in (results / "tables/table1.md").read_text()
    tags: list[str] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list) -> None:
            tags.append(tag)

    report_html = (results / "report.html").read_text()
    Tags().feed(report_html)
    assert tags.count("table") >= 4 and tags.count("img") >= 4
    # a few demo steps: the report says at once that its figures prove the plumbing only
    assert report_html.index("only prove the plumbing") < report_html.index("<h2>Dataset")
    # beside them, marked as not the demo's: the study record and the shipped model at work
    assert "<h2>What a real run gives: the loss study</h2>" in report_html
    shipped = read_tsv(results / "shipped_model/scores.tsv")
    assert [r["predictor"] for r in shipped][:2] == ["shipped model", "threshold"]
    assert "shipped model (cryosse default)" in report_html and "helix residue F1" in report_html
    assert (results / "plots/f1_per_loss.png").read_bytes().startswith(b"\x89PNG")
    assert list((results / "evaluation/FL_DL/seed_0/predictions").glob("*/pred_labels.mrc"))
    look_at_the_report(results / "report.html", tmp_path / "report.png")
    # Snakemake's own report, with the outputs annotated by their captions
    built = run_snakemake(tmp_path, config, "--report", str(tmp_path / "snakemake_report.html"))
    assert built.returncode == 0, built.stderr[-2000:]
    text = (tmp_path / "snakemake_report.html").read_text()
    assert "curation_log.tsv" in text and "table1.md" in text
    assert "weighted-average voxel F1 of helix" in text  # report/table1.rst, the caption

    for rule in ("acquire_entry", "curate_entry"):
        assert len(list((results / "benchmarks" / rule).glob("*.tsv"))) == 7

    # Re-running is a no-op: Snakemake sees everything up to date.
    again = run_snakemake(tmp_path, config, "--dry-run")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr

    assert_the_grid_grows_without_retraining(tmp_path, config, demo)

    # Adding an entry runs only that entry (and the gather step); existing samples are untouched.
    before = checksums(results / "entries")
    splits_before = (results / "splits/main.tsv").read_bytes()
    demo["entries"].append("EMD-90011")
    shutil.copytree(mirror / "emdb/structures/EMD-6149", mirror / "emdb/structures/EMD-90011")
    entry = mirror / "emdb/structures/EMD-90011"
    text = (entry / "header/emd-6149-v30.xml").read_text()
    (entry / "header/emd-6149-v30.xml").unlink()
    (entry / "header/emd-90011-v30.xml").write_text(
        text.replace("EMD-6149", "EMD-90011").replace("emd_6149", "emd_90011")
    )
    (entry / "map/emd_6149.map.gz").rename(entry / "map/emd_90011.map.gz")
    config.write_text(yaml.safe_dump(demo))
    plan = run_snakemake(tmp_path, config, "--dry-run")
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", plan.stdout, flags=re.M))
    assert counts.get("acquire_entry") == "1" and counts.get("curate_entry") == "1", plan.stdout
    assert run_snakemake(tmp_path, config).returncode == 0
    assert_only_added(results, before, splits_before, "EMD-90011", ["EMD-90011_3j8g_X"])


def planned_runs(
    workdir: Path, config: Path, demo: dict, sort_keys: bool = True
) -> tuple[set[str], str]:
    """The train_model run ids a dry run plans with `demo` as the config, and its output."""
    config.write_text(yaml.safe_dump(demo, sort_keys=sort_keys))
    plan = run_snakemake(workdir, config, "--dry-run")
    assert plan.returncode == 0, plan.stderr[-2000:]
    jobs = plan.stdout.split("rule ")
    runs = {
        m
        for job in jobs
        if job.startswith("train_model:")
        for m in re.findall(r"run_id=(\S+)", job)
    }
    return runs, plan.stdout + plan.stderr


def assert_the_grid_grows_without_retraining(workdir: Path, config: Path, demo: dict) -> None:
    """Resources never re-run a finished run; a new seed, loss, γ or learning rate trains only
    the runs it adds (a dry run on the finished demo)."""
    finished = {"CE_lr0.001_s0", "FL_DL_g2_lr0.001_s0"}
    training = demo["training"]
    resources = {"mem_mb": 4321, "runtime": 99, "threads": 2, "device": "cpu", "gpu": True}
    runs, text = planned_runs(workdir, config, {**demo, "training": {**training, **resources}})
    assert not runs and "Nothing to be done" in text, text[-3000:]

    def reversed_keys(value: object) -> object:
        if isinstance(value, dict):
            return {k: reversed_keys(value[k]) for k in sorted(value, key=str, reverse=True)}
        return value

    # the same settings written in another key order (a tool that rewrites the file)
    runs, text = planned_runs(workdir, config, reversed_keys(demo), sort_keys=False)  # type: ignore[arg-type]
    assert not runs and "Nothing to be done" in text, text[-3000:]

    runs, text = planned_runs(workdir, config, {**demo, "training": {**training, "seeds": [0, 1]}})
    assert runs == {"CE_lr0.001_s1", "FL_DL_g2_lr0.001_s1"}, text[-3000:]  # the chosen settings

    grown = {
        **training,
        "losses": ["CE", "FL_DL", "DL"],
        "gammas": [2, 5],
        "learning_rates": [0.001, 0.0001],
    }
    runs, text = planned_runs(workdir, config, {**demo, "training": grown})
    assert not runs & finished, text[-3000:]
    assert runs == {
        "CE_lr0.0001_s0",
        "DL_lr0.001_s0",
        "DL_lr0.0001_s0",
        "FL_DL_g5_lr0.001_s0",
        "FL_DL_g2_lr0.0001_s0",
        "FL_DL_g5_lr0.0001_s0",
    }, text[-3000:]
    config.write_text(yaml.safe_dump(demo))


def checksums(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_gzip_fixture_really_is_truncated() -> None:
    data = (DEMO_MIRROR / "emdb/structures/EMD-8518/map/emd_8518.map.gz").read_bytes()
    with pytest.raises(EOFError):
        gzip.decompress(data[: len(data) // 3])


@pytest.mark.slow
def test_http_pipeline_search_then_add(tmp_path: Path) -> None:
    """The whole workflow against the loopback archive: the search checkpoint writes the entry
    list, entries are downloaded and curated like the mirror's; `cryosse add` then processes
    only the new entry and leaves every existing output byte-identical."""
    from cryosse.acquire.search import SearchQuery
    from tests.acquire.test_search import SEARCH_CSV
    from tests.support.archive_server import start_server, stop_server

    state, httpd = start_server()
    try:
        state.serve_mirror(DEMO_MIRROR)
        state.publish_search(SearchQuery(3.0, 10.0).to_solr(), SEARCH_CSV)
        entries = tmp_path / "entries.tsv"
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "run": "web",
                    "entries_file": str(entries),
                    "search": {"enabled": True},
                    "archive": {**state.config(), "cache": str(tmp_path / "cache")},
                    "download": {"retries": 1, "timeout": 10, "host_interval": 0.0},
                    "resolution": {"min": 3.0, "max": 10.0},
                    "model": {"base": 4},
                    "training": {
                        "losses": ["CE"],
                        "learning_rates": [0.001],
                        "epochs": 1,
                        "steps_per_epoch": 1,
                        "crop_size": 16,
                        "threads": 1,
                        "gpu": False,
                    },
                }
            )
        )
        result = run_snakemake(tmp_path, config)
        assert result.returncode == 0, result.stderr[-3000:]
        assert [r["emdb_id"] for r in read_tsv(entries)] == [
            "EMD-8518",
            "EMD-6149",
            "EMD-5168",
            "EMD-21457",
        ]
        web = tmp_path / "results" / "web"
        manifest = read_tsv(web / "manifest.tsv")
        assert [r["sample_id"] for r in manifest] == [
            "EMD-5168_3mfp_A",
            "EMD-6149_3j8g_X",
            "EMD-8518_5u8s_A",
        ]
        # The same samples as curating the mirror directly.
        mirror_run = tmp_path / "mirror_run"
        mirror_run.mkdir()
        demo = yaml.safe_load((REPO / "config/demo.yaml").read_text())
        demo["entries"] = ["EMD-8518", "EMD-6149", "EMD-5168"]
        demo["entries_file"] = None  # these three only, not demo/entries.tsv's five
        demo["archive"]["mirror"] = str(DEMO_MIRROR)
        (mirror_run / "config.yaml").write_text(yaml.safe_dump(demo))
        assert run_snakemake(mirror_run, mirror_run / "config.yaml").returncode == 0
        for row in manifest:
            for name in ("density.mrc", "labels.mrc", "residues.tsv"):
                web_file = web / row["path"] / name
                local = mirror_run / "results" / "demo" / row["path"] / name
                assert web_file.read_bytes() == local.read_bytes(), (row["sample_id"], name)
        search_log = (web / "logs" / "search_emdb.log").read_text()
        assert "4 entries found, 4 added" in search_log and "downloaded" in search_log
        acquire_log = (web / "logs" / "acquire_entry" / "EMD-8518.log").read_text()
        assert "downloaded" in acquire_log

        # Add an entry: only it is acquired and curated; nothing existing changes.
        before = checksums(web / "entries")
        splits_before = (web / "splits/main.tsv").read_bytes()
        before_entries = entries.read_bytes()
        add = subprocess.run(
            [str(SNAKEMAKE.with_name("cryosse")), "add", "EMD-3488", "--entries", str(entries)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert add.returncode == 0, add.stderr
        assert entries.read_bytes().startswith(before_entries)
        plan = run_snakemake(tmp_path, config, "--dry-run")
        counts = dict(re.findall(r"^(\w+)\s+(\d+)$", plan.stdout, flags=re.M))
        assert counts.get("acquire_entry") == "1" and counts.get("curate_entry") == "1"
        assert "search_emdb" not in counts
        assert run_snakemake(tmp_path, config).returncode == 0
        assert_only_added(
            web, before, splits_before, "EMD-3488", ["EMD-3488_5me2_A", "EMD-3488_5me2_B"]
        )
    finally:
        stop_server(state, httpd)


def look_at_the_report(report: Path, png: Path) -> None:
    """Render the report in a real headless browser and check the screenshot shows a page."""
    import matplotlib.image

    done = headless_chromium(report, "1200,2400", f"--screenshot={png}")
    assert done.returncode == 0 and png.is_file(), done.stderr[-2000:]
    pixels = matplotlib.image.imread(png)[..., :3]
    assert pixels.shape[:2] == (2400, 1200)
    assert pixels.std() > 0.05  # not a blank page
    title_band = pixels[:80].mean(axis=2)
    assert (title_band < 0.3).mean() > 0.005  # dark text of the title is there


def assert_only_added(
    results: Path, before: dict[str, str], splits_before: bytes, entry: str, new_samples: list[str]
) -> None:
    """After adding `entry`: every existing entry output is byte-identical, the new entry has
    samples, and the split table only grew by the new samples' rows."""
    after = checksums(results / "entries")
    assert {k: v for k, v in after.items() if not k.startswith(entry)} == before
    assert any(k.startswith(f"{entry}/samples/") for k in after)
    splits_after = (results / "splits/main.tsv").read_bytes()
    assert splits_after.startswith(splits_before)
    added = splits_after[len(splits_before) :].decode().splitlines()
    assert [line.split("\t")[0] for line in added] == new_samples
