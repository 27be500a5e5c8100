"""Several hosts on one machine: network namespaces on a bridge, made with iproute2 as root.

The root namespace is the server host: it owns the bridge and its first address, and the server's processes
(API, Prefect server, object store, and a relay to PostgreSQL, which listens on 127.0.0.1 only) listen there.
Each worker host is a namespace with one veth pair: its inner end carries the host's address, its outer end is
the host's port on the bridge. Cutting a host's link sets that port down, as pulling the cable at the switch
would: the host's processes keep running, their connections hang, nothing is told.

Names carry the creating process's id (`cmh<pid>-…`), so leftovers of a run killed outright can be told from
the namespaces of a run still going and removed by the next run (`sweep_leftovers`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field

PREFIX = "cmh"


def run(*args: str, check: bool = True) -> str:
    """An `ip`/`bridge` command; its output, or CalledProcessError with its stderr."""
    done = subprocess.run(list(args), capture_output=True, text=True, check=False, timeout=30)
    if check and done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, list(args), done.stdout, done.stderr)
    return done.stdout


TOOLS = {"ip": "iproute2", "socat": "socat"}  # command → Debian package


def missing_tools() -> str | None:
    """Why hosts cannot be made here (not root), or None; installs iproute2 and socat from Debian's packages when
    they are missing (apt-get, as the CI user may, like tests/ui/conftest.py does for chromium)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    missing = [package for tool, package in TOOLS.items() if shutil.which(tool) is None]
    if missing:
        apt = shutil.which("apt-get")
        if apt is None:
            raise RuntimeError(f"{', '.join(missing)} missing and apt-get is not available to install them")
        install = [apt, "install", "-y", "-q", "--no-install-recommends", *missing]
        if subprocess.run(install, capture_output=True, timeout=600, check=False).returncode != 0:
            subprocess.run([apt, "update", "-q"], check=True, capture_output=True, timeout=600)  # stale lists
            subprocess.run(install, check=True, capture_output=True, timeout=600)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def namespaces() -> list[str]:
    return [line.split()[0] for line in run("ip", "netns", "list").splitlines() if line.strip()]


def sweep_leftovers() -> list[str]:
    """Remove the namespaces and bridges of earlier runs whose process is gone; returns their names."""
    removed = []
    for name in namespaces():
        found = re.fullmatch(rf"{PREFIX}(\d+)-\w+", name)
        if found and not _alive(int(found.group(1))):
            kill_namespace_processes(name)
            run("ip", "netns", "del", name, check=False)
            removed.append(name)
    for line in run("ip", "-o", "link", "show", "type", "bridge").splitlines():
        found = re.search(rf" ({PREFIX}b(\d+)):", line)
        if found and not _alive(int(found.group(2))):
            run("ip", "link", "del", found.group(1), check=False)
            removed.append(found.group(1))
    return removed


def kill_namespace_processes(name: str) -> None:
    """SIGKILL every process left in namespace `name` (all of them were started by the test that made it)."""
    for _ in range(3):
        pids = [int(pid) for pid in run("ip", "netns", "pids", name, check=False).split()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 under 10.213.0.0/16 that no address or route of this machine uses."""
    used = run("ip", "-4", "route", "show", "table", "all") + run("ip", "-4", "-o", "addr")
    start = os.getpid() % 250
    for step in range(250):
        subnet = ipaddress.IPv4Network(f"10.213.{(start + step) % 250}.0/24")
        if str(subnet.network_address).rsplit(".", 1)[0] + "." not in used:
            return subnet
    raise RuntimeError("no free /24 under 10.213.0.0/16 for the test hosts")


@dataclass
class Host:
    label: str
    namespace: str
    address: str
    port: str  # the veth end on the bridge: the host's link

    def command(self, *argv: str) -> list[str]:
        """`argv` run inside this host's network namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]


@dataclass
class Network:
    """A bridge in the root namespace (the server host) and worker hosts added with `add_host`."""

    tag: str = field(default_factory=lambda: f"{PREFIX}{os.getpid()}")
    hosts: list[Host] = field(default_factory=list)
    subnet: ipaddress.IPv4Network = field(default_factory=_free_subnet)

    @property
    def bridge(self) -> str:
        return f"{PREFIX}b{os.getpid()}"

    @property
    def server_address(self) -> str:
        return str(self.subnet.network_address + 1)

    def start(self) -> None:
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{self.server_address}/{self.subnet.prefixlen}", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")

    def add_host(self, label: str) -> Host:
        index = len(self.hosts) + 1
        namespace = f"{self.tag}-{label}"
        port, inner = f"{PREFIX}{os.getpid()}p{index}", f"{PREFIX}{os.getpid()}i{index}"
        address = str(self.subnet.network_address + 10 + index)
        run("ip", "netns", "add", namespace)
        host = Host(label=label, namespace=namespace, address=address, port=port)
        self.hosts.append(host)  # from here on, close() removes it
        run("ip", "link", "add", port, "type", "veth", "peer", "name", inner)
        run("ip", "link", "set", inner, "netns", namespace)
        run("ip", "link", "set", port, "master", self.bridge)
        run("ip", "link", "set", port, "up")
        inside = ["ip", "netns", "exec", namespace]
        run(*inside, "ip", "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", inner)
        run(*inside, "ip", "link", "set", inner, "up")
        run(*inside, "ip", "link", "set", "lo", "up")
        run(*inside, "ip", "route", "add", "default", "via", self.server_address)
        return host

    def cut(self, host: Host) -> None:
        """Pull the host's cable: its port on the bridge goes down."""
        run("ip", "link", "set", host.port, "down")

    def restore(self, host: Host) -> None:
        run("ip", "link", "set", host.port, "up")

    def close(self) -> None:
        """Kill what still runs in the hosts, delete them (their veths go with them) and the bridge."""
        for host in self.hosts:
            kill_namespace_processes(host.namespace)
            run("ip", "netns", "del", host.namespace, check=False)
        self.hosts.clear()
        run("ip", "link", "del", self.bridge, check=False)
