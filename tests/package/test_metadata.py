"""The package's metadata: LICENSE, CITATION.cff, CHANGELOG.md, pyproject."""

from __future__ import annotations

import re
import tomllib

import yaml

from tests.conftest import REPO


def _paper_title() -> str:
    """The seed paper's title as its text gives it: the line after the journal's section."""
    text = sorted((REPO.parent / "shared/paper").glob("*.txt"))[0].read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[0] == "Structural bioinformatics"
    return lines[1]


def test_citation_cff_parses_and_names_the_project_and_the_paper() -> None:
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    assert citation["title"].startswith("cryosse")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert citation["version"] == project["version"]
    assert citation["license"] == project["license"] == "MIT"
    (paper,) = [r for r in citation["references"] if r["type"] == "article"]
    assert paper["title"] == _paper_title()
    assert [a["family-names"] for a in paper["authors"]][:1] == ["Mu"]
    assert paper["journal"] == "Bioinformatics Advances" and paper["year"] == 2024
    assert "DeepSSETracer 1.1" in paper["notes"]


def test_license_changelog_and_pyproject_metadata() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    license_text = (REPO / "LICENSE").read_text()
    assert license_text.startswith("MIT License") and "cryosse developers" in license_text
    assert project["license-files"] == ["LICENSE"]
    assert project["authors"] == [{"name": "cryosse developers"}]
    assert any(c.startswith("Topic :: Scientific/Engineering") for c in project["classifiers"])
    # an SPDX licence excludes the old licence classifiers (setuptools refuses both)
    assert not any(c.startswith("License ::") for c in project["classifiers"])
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog") and re.search(
        r"^## \d{4}-\d\d-\d\d", changelog, re.M
    )


def test_version_is_typed_once_in_pyproject() -> None:
    from cryosse import __version__

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert __version__ == project["version"]
    init = (REPO / "src" / "cryosse" / "__init__.py").read_text()
    assert project["version"] not in init  # read from the metadata, not typed again
