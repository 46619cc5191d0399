"""A real one-node SLURM cluster on this machine, for the opt-in `slurm` tests and benchmark.

Debian's `slurm-wlm` (22.05) and `munge` run as: our own munged on a private socket, slurmctld
and slurmd in the foreground (so the pids we hold are the daemons'), one node `NodeName=<host>`
with `cpus` CPUs (may exceed the real count: `SlurmdParameters=config_overrides` stops slurmd
from draining the node for it) and `gpus` fake GPUs, a GRES `gpu:fake` backed by character
devices such as /dev/null (a GRES without `File=` is dropped by slurmd and the node drains).
Everything lives in one temporary folder; the only system file touched is Slurm's default
config location (/etc/slurm/slurm.conf and gres.conf, symlinks into that folder), because
Snakemake's jobstep plugin strips SLURM_CONF before its inner `srun` (see
../shared/notes/toolchain.md §3, obstacles 1-11). Those links are removed on stop, and so is
/etc/slurm if we created it.

`stop()` cancels every job, then stops each daemon by the pid it was started with (SIGTERM,
then SIGKILL after a grace period). Nothing else on the machine is signalled.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SYSTEM_CONF_DIR = Path("/etc/slurm")
MUNGE_KEY = Path("/etc/munge/munge.key")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel", "srun", "sinfo")
# Character devices standing in for GPU device files (a regular file is refused by slurmd).
FAKE_GPU_FILES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom")
PARTITION = "debug"


def missing_reason() -> str | None:
    """Why a cluster cannot be started here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (SlurmUser=root and Slurm's default config under /etc/slurm)"
    absent = [name for name in (*DAEMONS, *CLIENTS) if shutil.which(name) is None]
    if absent:
        return f"SLURM/munge not installed (missing {', '.join(absent)}): make test-slurm"
    if not MUNGE_KEY.is_file():
        return f"{MUNGE_KEY} is missing (reinstall munge)"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no 'munge' user (reinstall munge)"
    for name in ("slurm.conf", "gres.conf"):
        path = SYSTEM_CONF_DIR / name
        if (path.exists() or path.is_symlink()) and not _is_stale_link(path):
            return f"{path} already exists: not replacing another SLURM setup"
    return None


def _is_stale_link(path: Path) -> bool:
    """A link left by a killed earlier run of ours (pointing into a folder that is gone)."""
    return (
        path.is_symlink() and "cryosse-slurm-" in os.readlink(path) and not path.resolve().exists()
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _mem_total_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("MemTotal not found in /proc/meminfo")


@dataclass
class Cluster:
    """A started cluster: its folder, node name, and the daemons' processes."""

    root: Path
    node: str
    cpus: int
    gpus: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    created: list[Path] = field(default_factory=list)  # system paths we made, newest last

    @property
    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.processes.items()}

    def log(self, daemon: str) -> str:
        path = self.root / "log" / f"{daemon}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def run(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)

    def node_state(self) -> str:
        done = self.run("sinfo", "-h", "-N", "-o", "%T")
        return done.stdout.strip() if done.returncode == 0 else ""

    def stop(self) -> list[str]:
        """Cancel all jobs, stop our daemons by pid, remove what we wrote. Returns problems."""
        problems: list[str] = []
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            self.run("scancel", "--quiet", "--user", "root", timeout=20)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                queue = self.run("squeue", "-h", "-t", "PD,R,CG", "-o", "%i", timeout=10)
                if queue.returncode != 0 or not queue.stdout.strip():
                    break
                time.sleep(0.5)
            else:
                problems.append("jobs still running after scancel")
        for name in ("slurmd", "slurmctld", "munged"):  # dependants first
            proc = self.processes.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                problems.append(f"{name} (pid {proc.pid}) ignored SIGTERM: killed")
                proc.kill()
                proc.wait(timeout=10)
        for path in reversed(self.created):
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.is_dir():
                path.rmdir()  # only if empty: never removes anything we did not make
        shutil.rmtree(self.root, ignore_errors=True)
        return problems


def write_config(root: Path, node: str, cpus: int, gpus: int, munge_socket: Path) -> Path:
    """slurm.conf + gres.conf in root/etc for a one-node cluster; returns slurm.conf."""
    etc = root / "etc"
    etc.mkdir(parents=True)
    for sub in ("state", "spool", "log"):
        (root / sub).mkdir()
    real_memory = max(1024, _mem_total_mb() - 1024)
    devices = ",".join(FAKE_GPU_FILES[:gpus])
    conf = f"""\
ClusterName=cryosse
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
SlurmdParameters=config_overrides
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ReturnToService=2
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
GresTypes=gpu
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={real_memory} \
Gres=gpu:fake:{gpus} State=UNKNOWN
PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
    (etc / "slurm.conf").write_text(conf)
    (etc / "gres.conf").write_text(f"NodeName={node} Name=gpu Type=fake File={devices}\n")
    return etc / "slurm.conf"


def start(cpus: int = 8, gpus: int = 2, timeout: float = 30) -> Cluster:
    """Start munged, slurmctld and slurmd; return once the node is idle. On any failure the
    daemons started so far are stopped and the error says what the logs said."""
    reason = missing_reason()
    if reason:
        raise RuntimeError(reason)
    if not 1 <= gpus <= len(FAKE_GPU_FILES):
        raise ValueError(f"gpus must be 1..{len(FAKE_GPU_FILES)}")
    root = Path(tempfile.mkdtemp(prefix="cryosse-slurm-"))
    root.chmod(0o755)  # munged runs as 'munge' and must reach its folder
    cluster = Cluster(root=root, node=socket.gethostname().split(".")[0], cpus=cpus, gpus=gpus)
    try:
        _start(cluster, timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _start(cluster: Cluster, timeout: float) -> None:
    root = cluster.root
    munge_dir = root / "munge"
    munge_dir.mkdir(mode=0o755)
    munge = pwd.getpwnam("munge")
    os.chown(munge_dir, munge.pw_uid, munge.pw_gid)
    munge_socket = munge_dir / "munge.socket"
    conf = write_config(root, cluster.node, cluster.cpus, cluster.gpus, munge_socket)
    # Slurm's default location: clients inside jobs lose SLURM_CONF (jobstep plugin).
    if not SYSTEM_CONF_DIR.exists():
        SYSTEM_CONF_DIR.mkdir(mode=0o755)
        cluster.created.append(SYSTEM_CONF_DIR)
    for name in ("slurm.conf", "gres.conf"):
        link = SYSTEM_CONF_DIR / name
        if _is_stale_link(link):
            link.unlink()
        link.symlink_to(conf.parent / name)
        cluster.created.append(link)

    def launch(name: str, command: list[str], **kwargs: object) -> None:
        log = open(root / "log" / f"{name}.out", "wb")  # noqa: SIM115 (the daemon owns it)
        cluster.processes[name] = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kwargs,  # type: ignore[arg-type]
        )
        log.close()

    launch(
        "munged",
        [
            "munged",
            "--foreground",
            f"--socket={munge_socket}",
            f"--pid-file={munge_dir}/munged.pid",
            f"--log-file={munge_dir}/munged.log",
            f"--seed-file={munge_dir}/munged.seed",
            f"--key-file={MUNGE_KEY}",
        ],
        user=munge.pw_uid,
        group=munge.pw_gid,
        extra_groups=[],
    )
    _wait(lambda: munge_socket.exists(), timeout, "munged socket", cluster)
    launch("slurmctld", ["slurmctld", "-D", "-i"])
    launch("slurmd", ["slurmd", "-D", "-N", cluster.node])
    _wait(lambda: cluster.node_state() == "idle", timeout, "node idle", cluster)


def _wait(ready: object, timeout: float, what: str, cluster: Cluster) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():  # type: ignore[operator]
            return
        dead = [n for n, p in cluster.processes.items() if p.poll() is not None]
        if dead:
            break
        time.sleep(0.1)
    logs = "\n".join(f"--- {d}\n{cluster.log(d)[-1500:]}" for d in ("slurmctld", "slurmd"))
    outs = "\n".join(
        f"--- {n}.out\n{(cluster.root / 'log' / f'{n}.out').read_text(errors='replace')[-800:]}"
        for n in cluster.processes
        if (cluster.root / "log" / f"{n}.out").exists()
    )
    raise RuntimeError(
        f"SLURM cluster: no {what} after {timeout} s (node state "
        f"{cluster.node_state()!r})\n{logs}\n{outs}"
    )
