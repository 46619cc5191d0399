"""Conda environments (cannot be solved here: no conda channel is reachable) must parse, be
used by the rules, and pin the same versions as pyproject.toml."""

import re
import tomllib

import yaml

from tests.conftest import REPO

# pyproject name -> conda package name, where they differ
CONDA_NAMES = {
    "snakemake": "snakemake-minimal",
    "PyYAML": "pyyaml",
    "matplotlib": "matplotlib-base",
}
# not needed by the curation rules (training / reports / cluster)
NOT_IN_CONDA_ENVS = {
    "torch",
    "matplotlib",
    "snakemake-executor-plugin-slurm",
    "snakemake-executor-plugin-slurm-jobstep",
}


def pinned_requirements() -> dict[str, str]:
    """The core's and the pipeline extra's pins (the conda envs run the pipeline)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for requirement in project["dependencies"] + project["optional-dependencies"]["pipeline"]:
        name, version = requirement.split("==")
        pins[name] = version
    return pins


def env_pins(path) -> dict[str, str]:
    env = yaml.safe_load(path.read_text())
    assert "conda-forge" in env["channels"]
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str) and "=" in dep:
            name, version = (part.strip() for part in dep.split("=", 1))
            pins[name] = version.lstrip("=")
    return pins


def test_every_rule_has_an_existing_conda_env() -> None:
    used = set()
    for rule_file in (REPO / "rules").glob("*.smk"):
        text = rule_file.read_text()
        n_rules = len(re.findall(r"^(?:rule|checkpoint) \w+:", text, flags=re.M))
        envs = re.findall(r'conda:\s*\n\s*"\.\./(envs/[\w.-]+\.yaml)"', text)
        assert len(envs) == n_rules, f"{rule_file.name}: a rule without conda:"
        used.update(envs)
    assert used
    for env in used:
        assert (REPO / env).is_file(), env


def test_env_pins_match_pyproject() -> None:
    pins = pinned_requirements()
    conda_to_pip = {CONDA_NAMES.get(n, n.lower()): n for n in pins} | {"pytorch": "torch"}
    for env_file in (REPO / "envs").glob("*.yaml"):
        env = env_pins(env_file)
        assert env["python"] == "3.11"
        for conda_name, version in env.items():
            if conda_name in conda_to_pip:
                pip_name = conda_to_pip[conda_name]
                assert version == pins[pip_name], (
                    f"{env_file.name}: {conda_name} != {pins[pip_name]}"
                )
    curation = env_pins(REPO / "envs/curation.yaml")
    for name, version in pins.items():
        if name not in NOT_IN_CONDA_ENVS:
            assert curation.get(CONDA_NAMES.get(name, name.lower())) == version, name
    assert curation["dssp"].startswith("4.")
    training = env_pins(REPO / "envs/training.yaml")
    assert training["pytorch"] == pins["torch"]
    assert training["matplotlib-base"] == pins["matplotlib"]
