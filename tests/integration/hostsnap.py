"""What the local cluster may change on the host, captured so ``down`` can be checked against ``up``.

``python -m tests.integration.hostsnap save FILE`` before ``podlife cluster up`` and
``... compare FILE`` after ``podlife cluster down`` (``.ci/run`` does both); the lifecycle test
uses the same functions around a down/up/down cycle.

Captured: iptables and ip6tables rules (counters dropped), every sysctl except those the kernel
changes by itself, the cgroup directories of every hierarchy (the sandbox's own per-process
cgroups, which come and go with every command run on this machine, excepted), the named network
namespaces, the network links and the routes of the host.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

#: Sysctls that move on their own (entropy, counters, last pid, per-boot ids, live tables).
VOLATILE_SYSCTL = re.compile(
    r"^(kernel/random/|kernel/ns_last_pid|kernel/pty/nr|fs/(dentry-state|inode-|file-nr|quota/)|"
    r"net/netfilter/nf_conntrack_count|kernel/tainted|net/ipv4/route/|net/ipv6/route/|"
    r"kernel/sched_|fs/binfmt_misc/|vm/stat_|kernel/perf_event_max)"
)
#: cgroups the machine's own process runner creates per command.
SANDBOX_CGROUP = "process_api"


def _rules(save: str) -> list[str]:
    """The rules, counters dropped; a table holding only built-in chains that accept counts as absent,
    since the first ``iptables`` call of any program brings it into being. A fresh machine has no
    iptables until ``up`` installs it: no rules."""
    if shutil.which(save) is None:
        return []
    out = subprocess.run([save], capture_output=True, text=True).stdout
    kept: list[str] = []
    for table in re.split(r"^(?=\*)", out, flags=re.M):
        lines = [re.sub(r"\[\d+:\d+\]", "", line).strip() for line in table.splitlines() if not line.startswith("#")]
        empty = all(line.startswith("*") or line == "COMMIT" or re.fullmatch(r":[A-Z]+ ACCEPT ?", line) for line in lines)
        kept += [] if empty else lines
    return kept


def _sysctls() -> dict[str, str]:
    values = {}
    for top, _, files in os.walk("/proc/sys"):
        for name in files:
            key = os.path.relpath(os.path.join(top, name), "/proc/sys")
            if VOLATILE_SYSCTL.match(key):
                continue
            try:
                values[key] = Path("/proc/sys", key).read_text().strip()
            except OSError:
                continue
    return values


def _cgroups() -> list[str]:
    found = []
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        dirs[:] = [d for d in dirs if d != SANDBOX_CGROUP]
        found += [os.path.join(top, d) for d in dirs]
    return sorted(found)


def _lines(*cmd: str) -> list[str]:
    """The lines a host command prints, sorted (none where the tool is not installed yet)."""
    if shutil.which(cmd[0]) is None:
        return []
    return sorted(subprocess.run(list(cmd), capture_output=True, text=True).stdout.splitlines())


def _links() -> list[str]:
    """Each link's name and kind (its index and state change with every link made or removed)."""
    return sorted(line.split(":")[1].strip().split("@")[0] for line in _lines("ip", "-o", "link", "show"))


def snapshot() -> dict[str, object]:
    return {"iptables": _rules("iptables-save"), "ip6tables": _rules("ip6tables-save"),
            "sysctls": _sysctls(), "cgroups": _cgroups(),
            "netns": sorted(p.name for p in Path("/run/netns").glob("*")) if Path("/run/netns").exists() else [],
            "links": _links(), "routes": _lines("ip", "route", "show")}


def differences(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """Human-readable differences between two snapshots; empty when the host is as it was."""
    found = []
    for key in ("iptables", "ip6tables", "cgroups", "netns", "links", "routes"):
        old, new = set(before.get(key, [])), set(after.get(key, []))  # type: ignore[call-overload, attr-defined]
        found += [f"{key}: gone: {x}" for x in sorted(old - new)] + [f"{key}: new: {x}" for x in sorted(new - old)]
    old_s, new_s = before["sysctls"], after["sysctls"]
    assert isinstance(old_s, dict) and isinstance(new_s, dict)
    found += [f"sysctl {k}: {old_s.get(k)!r} -> {new_s.get(k)!r}" for k in sorted(set(old_s) | set(new_s))
              if old_s.get(k) != new_s.get(k)]
    return found


def main(argv: list[str]) -> int:
    action, path = argv
    if action == "save":
        Path(path).write_text(json.dumps(snapshot()))
        return 0
    found = differences(json.loads(Path(path).read_text()), snapshot())
    for line in found:
        print(f"host changed: {line}")
    print(f"host after down: {len(found)} difference(s) from before up")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
