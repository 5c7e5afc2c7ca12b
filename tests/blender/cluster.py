# SPDX-License-Identifier: GPL-3.0-or-later
"""A real Ray cluster for the farm tests, on loopback inside a private network namespace.

``unshare -n`` makes a namespace that has only ``lo``; every process of the cluster,
the driver and the worker Blenders run in it through ``nsenter``, so no traffic can
leave the machine (Ray rewrites 127.0.0.1 to the outward address and probes a
cloud-metadata address on start). Teardown kills every process in the namespace.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
HEAD = "127.0.0.2"
PORT = 6380


class Namespace:
    """A private network namespace with ``lo`` up, held open by a sleeping process.

    ``lo`` also gets 127.0.0.2: glibc's ``getaddrinfo`` with ``AI_ADDRCONFIG`` (which
    SLURM uses) finds no IPv4 address at all when 127.0.0.1 is the only one.
    """

    def __init__(self):
        setup = "ip link set lo up && ip addr add 127.0.0.2/8 dev lo && exec sleep 3600"
        self.holder = subprocess.Popen(["unshare", "-n", "--", "bash", "-c", setup], start_new_session=True)
        self.path = f"/proc/{self.holder.pid}/ns/net"
        deadline = time.monotonic() + 10
        while "127.0.0.2/8" not in self.run(["ip", "-o", "addr", "show", "lo"]).stdout:
            assert time.monotonic() < deadline, "lo did not come up in the namespace"
            time.sleep(0.05)

    def command(self, argv: list[str]) -> list[str]:
        return ["nsenter", f"--net={self.path}", "--", *map(str, argv)]

    def run(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(argv), capture_output=True, text=True, **kwargs)

    def start(self, argv: list[str], **kwargs) -> subprocess.Popen:
        """A process in the namespace, in its own process group."""
        return subprocess.Popen(self.command(argv), start_new_session=True, **kwargs)

    def processes(self) -> list[int]:
        """Every process inside the namespace (the holder too)."""
        inside = os.readlink(self.path)
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.readlink(f"/proc/{entry}/ns/net") == inside:
                        found.append(int(entry))
                except OSError:
                    pass
        return found

    def descendants(self, root: int) -> list[int]:
        """``root`` and every process below it."""
        parents = {}
        for pid in self.processes():
            try:
                parents[pid] = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                pass
        found, grew = {root}, True
        while grew:
            more = {pid for pid, parent in parents.items() if parent in found} - found
            found |= more
            grew = bool(more)
        return sorted(found)

    def close(self) -> None:
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.holder.wait(timeout=10)


class RayCluster:
    """``ray start --head`` with no CPUs, and ``nodes`` worker nodes of one CPU each,
    with their own loopback addresses (127.0.0.3, 127.0.0.4, ...)."""

    def __init__(self, nodes: int = 2):
        self.namespace = Namespace()
        self.temp = tempfile.mkdtemp(prefix="gtray", dir="/tmp")  # short: Ray's socket paths
        self.env = {
            **os.environ,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(16),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        self.address = f"{HEAD}:{PORT}"
        try:
            self.head = self._ray_start(
                "head",
                "--head",
                "--num-cpus=0",
                f"--node-ip-address={HEAD}",
                f"--port={PORT}",
                f"--temp-dir={self.temp}",
                "--include-dashboard=false",
            )
            self.wait_for_nodes(1)  # one at a time: nodes that start together may not both join
            self.nodes = []
            for i in range(nodes):
                self.nodes.append(self.start_node(i))
                self.wait_for_nodes(i + 2)
        except BaseException:
            self.close()
            raise

    def _ray_start(self, name: str, *flags: str) -> subprocess.Popen:
        log = open(Path(self.temp) / f"{name}.log", "ab")
        flags = (*flags, "--block", "--disable-usage-stats")
        return self.namespace.start([RAY, "start", *flags], env=self.env, stdout=log, stderr=log)

    def start_node(self, i: int) -> subprocess.Popen:
        return self._ray_start(
            f"node{i}", f"--address={self.address}", "--num-cpus=1", f"--node-ip-address=127.0.0.{3 + i}"
        )

    def alive_nodes(self) -> int:
        code = (
            f"import ray; ray.init(address={self.address!r}, logging_level='ERROR', log_to_driver=False);"
            "print(sum(n['Alive'] for n in ray.nodes()))"
        )
        done = self.namespace.run([sys.executable, "-c", code], env=self.env, timeout=120)
        return int(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 and done.stdout.strip() else 0

    def wait_for_nodes(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.alive_nodes() != count:
            assert time.monotonic() < deadline, f"the Ray cluster did not reach {count} nodes"
            time.sleep(1)

    def kill_node(self, i: int) -> None:
        """SIGKILL every process of a worker node at once, as when its machine dies: the
        ``ray start`` process and all below it (raylet, Ray workers in their own process
        groups, the worker Blenders they started)."""
        doomed = self.namespace.descendants(self.nodes[i].pid)
        for sig in (signal.SIGSTOP, signal.SIGKILL):  # stopped first: none reacts to the others' deaths
            for pid in doomed:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        self.nodes[i].wait()

    def close(self) -> None:
        self.namespace.close()
        shutil.rmtree(self.temp, ignore_errors=True)


SLURM_CONF = """\
ClusterName=gt
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket={temp}/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={temp}/state
SlurmdSpoolDir={temp}/spool/%n
SlurmctldPidFile={temp}/slurmctld.pid
SlurmdPidFile={temp}/slurmd.%n.pid
SlurmctldLogFile={temp}/slurmctld.log
SlurmdLogFile={temp}/slurmd.%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=n1 NodeHostname=localhost NodeAddr=127.0.0.1 Port=17001 CPUs=1 RealMemory=2000 State=UNKNOWN
NodeName=n2 NodeHostname=localhost NodeAddr=127.0.0.1 Port=17002 CPUs=1 RealMemory=2000 State=UNKNOWN
PartitionName=main Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
MaxArraySize={max_array}
"""


class SlurmCluster:
    """Debian's SLURM on one host: munged, slurmctld and two ``slurmd -N`` nodes (n1, n2)
    of one CPU each, on loopback in a private network namespace; ``env`` points SLURM's
    commands at it (``SLURM_CONF``). A job array's indices run below ``max_array``."""

    def __init__(self, max_array: int = 1001):
        self.namespace = Namespace()
        self.temp = tempfile.mkdtemp(prefix="gtslurm", dir="/tmp")
        self.env = {**os.environ, "SLURM_CONF": f"{self.temp}/slurm.conf"}
        try:
            for folder in ("state", "spool"):
                os.mkdir(f"{self.temp}/{folder}")
            Path(self.env["SLURM_CONF"]).write_text(SLURM_CONF.format(temp=self.temp, max_array=max_array))
            subprocess.run(["mungekey", "-c", "-k", f"{self.temp}/munge.key"], check=True, capture_output=True)
            os.chmod(f"{self.temp}/munge.key", 0o600)
            munge = [f"--{name}={self.temp}/munge{suffix}" for name, suffix in (
                ("key-file", ".key"), ("socket", ".sock"), ("pid-file", "d.pid"),
                ("log-file", "d.log"), ("seed-file", "d.seed"),
            )]  # fmt: skip
            self._daemon("munged", ["munged", "-F", "-f", *munge])
            self._daemon("slurmctld", ["slurmctld", "-D", "-i"])
            for node in ("n1", "n2"):
                self._daemon(f"slurmd.{node}", ["slurmd", "-D", "-N", node])
            deadline = time.monotonic() + 120
            while self.idle_nodes() < 2:
                assert time.monotonic() < deadline, "the SLURM nodes did not come up"
                time.sleep(0.5)
        except BaseException:
            self.close()
            raise

    def _daemon(self, name: str, argv: list[str]) -> None:
        log = open(Path(self.temp) / f"{name}.out", "ab")
        self.namespace.start(argv, env=self.env, stdout=log, stderr=log)
        time.sleep(0.3)  # munged before slurmctld before the nodes

    def idle_nodes(self) -> int:
        done = self.namespace.run(["sinfo", "-h", "-N", "-o", "%N %t"], env=self.env, timeout=60)
        return sum(line.split()[-1] == "idle" for line in done.stdout.splitlines())

    def queue(self) -> list[str]:
        return self.namespace.run(["squeue", "-h", "-o", "%i %T"], env=self.env, timeout=60).stdout.splitlines()

    def close(self) -> None:
        self.namespace.close()
        shutil.rmtree(self.temp, ignore_errors=True)
