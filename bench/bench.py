#!/usr/bin/env python3
"""husk / runc / crun side by side: CPU, wall time, memory and syscalls.

Normally started by bench/bench.sh (which installs the packages, builds husk
and makes the busybox rootfs); see bench/README.md.  Standard library only.

How a figure is taken: every runtime command is started with posix_spawn and
reaped with wait4(2) by a reaper thread of this process, which is also a
child subreaper (PR_SET_CHILD_SUBREAPER), like containerd's shim.  So

  * CPU  = ru_utime + ru_stime of that runtime process, including every
           child it waited for itself;
  * wall = from just before posix_spawn to the moment wait4 returned;
  * the container's init, orphaned when `create` exits, is reparented to us
    and reaped by us: its own rusage (the setup done in the child before
    exec, plus /bin/true) is the "init" figure, and the lifecycle is
    create + start + init + delete;
  * maxrss = ru_maxrss of the runtime process (and its waited children).

Runtimes are interleaved: in every iteration each scenario runs once per
runtime, in an order that rotates from one iteration to the next, so load
from other processes on the machine hits all runtimes alike.  Medians are
reported, with min and max.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

NS = 1_000_000  # ns per ms
STRACE = shutil.which("strace") or "/usr/bin/strace"

# ---------------------------------------------------------------- reaping


class Reaper:
    """Reaps every child of this process (spawned or reparented) with wait4
    and keeps (status, rusage, time) per pid until someone asks for it."""

    def __init__(self):
        self.cv = threading.Condition()
        self.done = {}  # pid -> (t_ns, status, rusage)
        self.gen = 0  # bumped after each spawn
        self.orphans = []  # (pid, t_ns, cpu_ms) reaped but never asked for
        self.expect = set()
        self.context = ""  # what was running, for orphans
        t = threading.Thread(target=self._loop, daemon=True)
        t.start()

    def spawned(self, pid):
        with self.cv:
            self.expect.add(pid)
            self.gen += 1
            self.cv.notify_all()

    def _loop(self):
        while True:
            with self.cv:
                gen = self.gen
            try:
                pid, status, ru = os.wait4(-1, 0)
            except ChildProcessError:
                with self.cv:
                    while self.gen == gen:
                        self.cv.wait()
                continue
            except InterruptedError:
                continue
            t = time.perf_counter_ns()
            with self.cv:
                self.done[pid] = (t, status, ru)
                self.cv.notify_all()

    def wait(self, pid, after_ns, timeout):
        """(t_ns, status, rusage) of pid, reaped after after_ns; None on timeout."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                e = self.done.get(pid)
                if e is not None and e[0] >= after_ns:
                    del self.done[pid]
                    self.expect.discard(pid)
                    return e
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def is_reaped(self, pid, after_ns):
        with self.cv:
            e = self.done.get(pid)
            return e is not None and e[0] >= after_ns

    def sweep(self, before_ns):
        """Forget entries nobody asked for (orphaned helper processes)."""
        with self.cv:
            for pid, (t, _st, ru) in list(self.done.items()):
                if t < before_ns and pid not in self.expect:
                    self.orphans.append((pid, t, cpu_ms(ru), self.context))
                    del self.done[pid]


def cpu_ms(ru):
    return (ru.ru_utime + ru.ru_stime) * 1000.0


def exit_code(status):
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return -1


class Result:
    """One command, as reported by the spawn helper."""

    def __init__(self, argv, line, errfile):
        self.argv = argv
        self.ok = False
        self.timeout = False
        self.cpu = self.wall = self.maxrss = self.code = None
        self.t0 = self.t1 = 0
        f = line.split()
        if len(f) == 7:
            status, ut, st, rss, t0, t1, _pid = (int(x) for x in f)
            self.code = exit_code(status)
            self.ok = self.code == 0
            self.timeout = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            self.cpu = (ut + st) / 1000.0
            self.maxrss = rss  # KiB
            self.t0, self.t1 = t0, t1
            self.wall = (t1 - t0) / NS
        self.err = ""
        if not self.ok:
            try:
                with open(errfile, errors="replace") as fh:
                    self.err = fh.read().strip()[-400:]
            except OSError:
                pass
            if not f:
                self.err = ("the spawn helper failed; " + self.err).strip()

    def why(self):
        cmd = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(self.argv))
        return f"{cmd}: exit {self.code}: {self.err}"


ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}


class Runner:
    """Runs commands through the spawn helper (see spawn.c): the helper
    forks, execs and wait4s the command and reports its rusage and times."""

    def __init__(self, reaper, workdir, helper):
        self.reaper = reaper
        self.helper = helper
        self.errfile = os.path.join(workdir, "stderr.txt")
        self.outfile = os.path.join(workdir, "stdout.txt")
        self.resfile = os.path.join(workdir, "result.txt")

    def spawn(self, argv, stdout=None, result=None, stderr=None):
        fa = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, stdout or "/dev/null", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
            (os.POSIX_SPAWN_OPEN, 2, stderr or self.errfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        ]
        if result:
            fa.append((os.POSIX_SPAWN_OPEN, 3, result, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, ENV, file_actions=fa)
        self.reaper.spawned(pid)
        return pid, t0

    def run(self, argv, timeout=60, stdout=None, stderr=None):
        self.reaper.context = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv))
        pid, t0 = self.spawn([self.helper, str(timeout), *argv], stdout, self.resfile, stderr)
        e = self.reaper.wait(pid, t0, timeout + 30)
        if e is None:
            try:  # ours: we started it
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.reaper.wait(pid, t0, 10)
        try:
            with open(self.resfile) as f:
                line = f.read()
        except OSError:
            line = ""
        return Result(argv, line, stderr or self.errfile)

    def output(self, argv, timeout=60):
        r = self.run(argv, timeout, stdout=self.outfile)
        with open(self.outfile, errors="replace") as f:
            return r, f.read()


# ---------------------------------------------------------------- runtimes


class Runtime:
    def __init__(self, name, path, root):
        self.name = name
        self.path = path
        self.root = root

    def argv(self, *args):
        return [self.path, "--root", self.root, *args]


def read_pid(path, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                s = f.read().strip()
            if s:
                return int(s)
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            return None
        time.sleep(0.002)


def vm_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def is_our_child(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("PPid:"):
                    return int(line.split()[1]) == os.getpid()
    except OSError:
        pass
    return False


class Failed(Exception):
    pass


# ---------------------------------------------------------------- seccomp


def docker_to_oci(profile, caps, arch="amd64"):
    """Docker/containers-common seccomp profile -> OCI linux.seccomp, with
    the conditions evaluated as moby does (profiles/seccomp: caps from the
    bounding set, architecture, minimum kernel)."""

    def kver(s):
        return tuple(int(x) for x in re.findall(r"\d+", s)[:2])

    kernel = kver(platform.release())
    goarch = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64"}[arch]
    arches = []
    for m in profile.get("archMap") or []:
        if m["architecture"] == goarch:
            arches = [m["architecture"], *m.get("subArchitectures", [])]
    if not arches:
        arches = profile.get("architectures") or [goarch]
    out = {"defaultAction": profile["defaultAction"], "architectures": arches, "syscalls": []}
    if "defaultErrnoRet" in profile:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    for call in profile.get("syscalls") or []:
        inc = call.get("includes") or {}
        exc = call.get("excludes") or {}
        if arch in (exc.get("arches") or []):
            continue
        if any(c in caps for c in exc.get("caps") or []):
            continue
        if exc.get("minKernel") and kernel >= kver(exc["minKernel"]):
            continue
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if inc.get("caps") and not all(c in caps for c in inc["caps"]):
            continue
        if inc.get("minKernel") and kernel < kver(inc["minKernel"]):
            continue
        names = call.get("names") or ([call["name"]] if call.get("name") else [])
        if not names:
            continue
        s = {"names": names, "action": call["action"]}
        if call.get("args"):
            s["args"] = [
                {k: a[k] for k in ("index", "value", "valueTwo", "op") if k in a} for a in call["args"]
            ]
        if call.get("errnoRet") is not None:
            s["errnoRet"] = call["errnoRet"]
        out["syscalls"].append(s)
    return out


def load_seccomp(path, caps):
    with open(path) as f:
        p = json.load(f)
    if isinstance(p.get("linux"), dict) and "seccomp" in p["linux"]:
        p = p["linux"]["seccomp"]
    if "archMap" in p or any("includes" in s or "excludes" in s for s in p.get("syscalls") or []):
        return docker_to_oci(p, caps), "Docker-format profile converted to OCI"
    return p, "OCI linux.seccomp"


# ---------------------------------------------------------------- the benchmark


def median(xs):
    return statistics.median(xs) if xs else None


class Bench:
    def __init__(self, args):
        self.a = args
        self.work = args.workdir
        self.reaper = Reaper()
        self.r = Runner(self.reaper, self.work, args.spawn)
        self.samples = {}  # key -> rt -> [values]
        self.na = {}  # (key-prefix, rt) -> reason
        self.fails = {}  # (scenario, rt) -> count
        self.notes = []
        self.live = {}  # rt -> set of container ids that may exist
        self.cg_prefix = "/husk-bench"
        self.runtimes = []
        for spec in args.runtimes:
            name, path = spec.split("=", 1)
            root = os.path.join(self.work, "root-" + name)
            os.makedirs(root, exist_ok=True)
            self.runtimes.append(Runtime(name, path, root))
            self.live[name] = set()
        with open(os.path.join(self.work, "runtimes.txt"), "w") as f:
            for rt in self.runtimes:
                f.write(f"{rt.name} {rt.path} {rt.root}\n")
        with open(args.config) as f:
            self.base = json.load(f)
        self.base["process"]["terminal"] = False
        self.base["root"]["path"] = os.path.abspath(args.rootfs)
        self.seccomp = None
        self.seccomp_note = None
        self.bundles = {}

    # -- bookkeeping

    def add(self, key, rt, value):
        if value is None:
            return
        self.samples.setdefault(key, {}).setdefault(rt.name, []).append(value)

    def disabled(self, scen, rt):
        return (scen, rt.name) in self.na

    def failed(self, scen, rt, why, first):
        n = self.fails.get((scen, rt.name), 0) + 1
        self.fails[(scen, rt.name)] = n
        msg = why.replace("\n", " ")[:300]
        print(f"  ! {rt.name} {scen}: {msg}", file=sys.stderr)
        if first or n >= 3:
            self.na[(scen, rt.name)] = msg

    # -- bundles

    def bundle(self, rt, name, args, resources=None, seccomp=False):
        key = (rt.name, name)
        if key in self.bundles:
            return self.bundles[key]
        cfg = json.loads(json.dumps(self.base))
        cfg["process"]["args"] = args
        cfg["linux"]["cgroupsPath"] = f"{self.cg_prefix}/{rt.name}-{name}"
        if resources:
            cfg["linux"].setdefault("resources", {}).update(resources)
        if seccomp:
            cfg["linux"]["seccomp"] = self.seccomp
        d = os.path.join(self.work, "bundles", f"{rt.name}-{name}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        self.bundles[key] = d
        return d

    RESOURCES = {
        "memory": {"limit": 256 * 1024 * 1024},
        "pids": {"limit": 1024},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000},
    }

    def variant_bundle(self, rt, variant, args=("/bin/true",)):
        args = list(args)
        tag = "true" if args == ["/bin/true"] else "sleep"
        if variant == "plain":
            return self.bundle(rt, f"plain-{tag}", args)
        if variant == "cgroup":
            return self.bundle(rt, f"cgroup-{tag}", args, resources=self.RESOURCES)
        if variant == "seccomp":
            return self.bundle(rt, f"seccomp-{tag}", args, seccomp=True)
        raise ValueError(variant)

    # -- container primitives

    def pidfile(self, rt, cid):
        return os.path.join(self.work, f"pid-{rt.name}-{cid}")

    def create(self, rt, bundle, cid, stderr=None):
        pf = self.pidfile(rt, cid)
        try:
            os.unlink(pf)
        except FileNotFoundError:
            pass
        self.live[rt.name].add(cid)
        r = self.r.run(rt.argv("create", "--bundle", bundle, "--pid-file", pf, cid), stderr=stderr)
        if not r.ok:
            raise Failed(r.why())
        pid = read_pid(pf)
        if pid is None:
            raise Failed(f"create {cid}: no pid file")
        return r, pid

    def start(self, rt, cid):
        r = self.r.run(rt.argv("start", cid))
        if not r.ok:
            raise Failed(r.why())
        return r

    def delete(self, rt, cid, force=False, check=True):
        r = self.r.run(rt.argv("delete", *(["--force"] if force else []), cid))
        if r.ok:
            self.live[rt.name].discard(cid)
        elif check:
            raise Failed(r.why())
        return r

    def wait_init(self, pid, after, timeout=20):
        e = self.reaper.wait(pid, after, timeout)
        if e is None:
            raise Failed(f"init {pid} did not exit within {timeout}s")
        return e

    def up(self, rt, bundle, cid):
        """create + start a long-running container, unmeasured."""
        r, pid = self.create(rt, bundle, cid)
        self.start(rt, cid)
        return pid, r.t0

    def cleanup_container(self, rt, cid, pid=None, after=0):
        """delete --force, then reap its init (pid) if we have not yet."""
        self.delete(rt, cid, force=True, check=False)
        if not pid:
            return
        deadline = time.monotonic() + 5
        killed = False
        while True:
            if self.reaper.is_reaped(pid, after):
                self.reaper.wait(pid, after, 0)
                return
            if not is_our_child(pid):
                return  # reaped and accounted for already, or never ours
            if time.monotonic() > deadline and not killed:
                # The runtime left it behind; it is our (reparented) child.
                print(f"  ! {rt.name}: init {pid} of {cid} survived delete --force; killing it", file=sys.stderr)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                killed = True
            time.sleep(0.002)

    # -- scenarios (one sample per call)

    def sc_lifecycle(self, rt, it, variant):
        scen = f"{variant}"
        if self.disabled(scen, rt):
            return
        cid = f"{variant}-{it}"
        b = self.variant_bundle(rt, variant)
        pid = None
        t0 = 0
        # The init inherits create's stderr: keep it apart, to say why the
        # container failed if it does.
        errf = os.path.join(self.work, "init-stderr.txt")
        try:
            c, pid = self.create(rt, b, cid, stderr=errf)
            t0 = c.t0
            rss = vm_rss_kib(pid)
            s = self.start(rt, cid)
            t_exit, st, ru = self.wait_init(pid, c.t0)
            code = exit_code(st)
            if code != 0:
                with open(errf, errors="replace") as f:
                    msg = f.read().strip()[-300:]
                raise Failed(f"the container's /bin/true exited {code}: {msg}")
            d = self.delete(rt, cid)
        except Failed as e:
            self.failed(scen, rt, str(e), first=(it == 0))
            self.cleanup_container(rt, cid, pid, t0)
            return
        p = f"{variant}."
        self.add(p + "create.cpu", rt, c.cpu)
        self.add(p + "create.wall", rt, c.wall)
        self.add(p + "start.cpu", rt, s.cpu)
        self.add(p + "start.wall", rt, s.wall)
        self.add(p + "init.cpu", rt, cpu_ms(ru))
        self.add(p + "delete.cpu", rt, d.cpu)
        self.add(p + "delete.wall", rt, d.wall)
        self.add(p + "lifecycle.cpu", rt, c.cpu + s.cpu + cpu_ms(ru) + d.cpu)
        self.add(p + "lifecycle.rtcpu", rt, c.cpu + s.cpu + d.cpu)
        self.add(p + "lifecycle.wall", rt, (d.t1 - c.t0) / NS)
        self.add(p + "create.maxrss", rt, c.maxrss / 1024.0)
        if rss is not None:
            self.add(p + "init.rss", rt, rss / 1024.0)

    def sc_run(self, rt, it):
        scen = "run"
        if self.disabled(scen, rt):
            return
        cid = f"run-{it}"
        b = self.variant_bundle(rt, "plain")
        self.live[rt.name].add(cid)
        r = self.r.run(rt.argv("run", "--bundle", b, cid))
        if not r.ok:
            self.failed(scen, rt, r.why(), first=(it == 0))
            self.cleanup_container(rt, cid)
            return
        self.live[rt.name].discard(cid)
        self.add("run.cpu", rt, r.cpu)
        self.add("run.wall", rt, r.wall)

    def sc_on_running(self, rt, it):
        """exec and state against the long-running container of rt."""
        cid = self.persist.get(rt.name)
        if cid is None:
            return
        if not self.disabled("exec", rt):
            r = self.r.run(rt.argv("exec", cid, "/bin/true"))
            if r.ok:
                self.add("exec.cpu", rt, r.cpu)
                self.add("exec.wall", rt, r.wall)
            else:
                self.failed("exec", rt, r.why(), first=(it == 0))
        if not self.disabled("state", rt):
            r = self.r.run(rt.argv("state", cid))
            if r.ok:
                self.add("state.cpu", rt, r.cpu)
                self.add("state.wall", rt, r.wall)
            else:
                self.failed("state", rt, r.why(), first=(it == 0))

    def sc_kill(self, rt, it):
        scen = "kill"
        if self.disabled(scen, rt):
            return
        cid = f"kill-{it}"
        b = self.variant_bundle(rt, "plain", ["sleep", "1000000"])
        pid = None
        t0 = 0
        try:
            pid, t0 = self.up(rt, b, cid)
            k = self.r.run(rt.argv("kill", cid, "KILL"))
            if not k.ok:
                raise Failed(k.why())
            self.wait_init(pid, t0)
            self.delete(rt, cid)
        except Failed as e:
            self.failed(scen, rt, str(e), first=(it == 0))
            self.cleanup_container(rt, cid, pid, t0)
            return
        self.add("kill.cpu", rt, k.cpu)
        self.add("kill.wall", rt, k.wall)

    def sc_delete_force(self, rt, it):
        scen = "delete-force"
        if self.disabled(scen, rt):
            return
        cid = f"force-{it}"
        b = self.variant_bundle(rt, "plain", ["sleep", "1000000"])
        pid = None
        t0 = 0
        try:
            pid, t0 = self.up(rt, b, cid)
            d = self.delete(rt, cid, force=True)
            self.wait_init(pid, t0, timeout=10)
        except Failed as e:
            self.failed(scen, rt, str(e), first=(it == 0))
            self.cleanup_container(rt, cid, pid, t0)
            return
        self.add("delete-force.cpu", rt, d.cpu)
        self.add("delete-force.wall", rt, d.wall)

    # -- phases

    def order(self, it):
        k = it % len(self.runtimes)
        return self.runtimes[k:] + self.runtimes[:k]

    def probe(self):
        """Run one container per runtime; give crun its hugetlb hierarchy
        if (and only if) it refuses the hybrid layout otherwise."""
        for rt in self.runtimes:
            b = self.variant_bundle(rt, "plain")
            for attempt in (1, 2):
                r = self.r.run(rt.argv("run", "--bundle", b, "probe"))
                if r.ok:
                    break
                self.cleanup_container(rt, "probe")
                if attempt == 1 and "hybrid mode not supported" in r.err and self.hugetlb_trick():
                    continue
                sys.exit(f"bench: {rt.name} cannot run a plain busybox container: {r.why()}")

    def hugetlb_trick(self):
        with open("/proc/self/mounts") as f:
            if any(" /sys/fs/cgroup/hugetlb cgroup " in l for l in f):
                return False
        os.makedirs("/sys/fs/cgroup/hugetlb", exist_ok=True)
        subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", "/sys/fs/cgroup/hugetlb"], check=True)
        note = ("crun refused the hybrid layout (hugetlb on the cgroup2 mount), so the bench mounted a v1 "
                "hugetlb hierarchy at /sys/fs/cgroup/hugetlb (see ../shared/README.md); it is left mounted (harmless).")
        self.notes.append(note)
        print("bench: " + note, file=sys.stderr)
        return True

    def hugetlb_note(self):
        if self.notes:
            return
        with open("/proc/self/mounts") as f:
            if any(" /sys/fs/cgroup/hugetlb cgroup " in l for l in f):
                self.notes.append("hugetlb already had a v1 hierarchy at /sys/fs/cgroup/hugetlb (crun needs it on this "
                                  "hybrid host; see ../shared/README.md); the bench did not mount anything.")

    def seccomp_setup(self):
        caps = self.base["process"].get("capabilities", {}).get("bounding", [])
        self.seccomp, how = load_seccomp(self.a.seccomp, caps)
        n = sum(len(s["names"]) for s in self.seccomp["syscalls"])
        top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        shown = os.path.relpath(self.a.seccomp, top) if self.a.seccomp.startswith(top + "/") else self.a.seccomp
        self.seccomp_note = (f"{shown} ({how}): defaultAction {self.seccomp['defaultAction']}, "
                             f"{len(self.seccomp['syscalls'])} rules naming {n} syscalls")

    def main_phase(self):
        n = self.a.n
        self.persist = {}
        self.persist_pid = {}
        for rt in self.runtimes:
            b = self.variant_bundle(rt, "plain", ["sleep", "1000000"])
            b = self.bundle(rt, "persist", ["sleep", "1000000"])
            try:
                pid, t0 = self.up(rt, b, "persist")
                self.persist[rt.name] = "persist"
                self.persist_pid[rt.name] = (pid, t0)
            except Failed as e:
                for s in ("exec", "state"):
                    self.na[(s, rt.name)] = str(e)[:300]
                self.cleanup_container(rt, "persist")
        for it in range(n):
            print(f"bench: iteration {it + 1}/{n}", file=sys.stderr)
            t = time.perf_counter_ns()
            for rt in self.order(it):
                for v in ("plain", "cgroup", "seccomp"):
                    self.sc_lifecycle(rt, it, v)
            for rt in self.order(it):
                self.sc_run(rt, it)
            for rt in self.order(it):
                self.sc_on_running(rt, it)
            for rt in self.order(it):
                self.sc_kill(rt, it)
            for rt in self.order(it):
                self.sc_delete_force(rt, it)
            self.reaper.sweep(t)
        for rt in self.runtimes:
            if rt.name in self.persist:
                self.cleanup_container(rt, "persist", *self.persist_pid[rt.name])

    def scale_phase(self):
        n = self.a.n
        pop = {rt.name: [] for rt in self.runtimes}
        for k in (1, 10, 100):
            print(f"bench: {k} existing containers per runtime", file=sys.stderr)
            # Grow the population, interleaved.
            for j in range(max(len(v) for v in pop.values()), k):
                for rt in self.runtimes:
                    if self.disabled(f"create@{k}", rt):
                        continue
                    cid = f"pop-{j}"
                    try:
                        pid, t0 = self.up(rt, self.bundle(rt, f"pop{j}", ["sleep", "1000000"]), cid)
                        pop[rt.name].append((cid, pid, t0))
                    except Failed as e:
                        self.cleanup_container(rt, cid)
                        for kk in (10, 100):
                            if kk >= k:
                                self.na[(f"create@{kk}", rt.name)] = f"could not start {j + 1} containers: {e}"[:300]
                                self.na[(f"list@{kk}", rt.name)] = self.na[(f"create@{kk}", rt.name)]
            for it in range(n):
                t = time.perf_counter_ns()
                for rt in self.order(it):
                    if not self.disabled(f"create@{k}", rt):
                        cid = f"probe-{k}-{it}"
                        b = self.bundle(rt, "probe", ["sleep", "1000000"])
                        pid = None
                        try:
                            c, pid = self.create(rt, b, cid)
                            self.add(f"create@{k}.cpu", rt, c.cpu)
                            self.add(f"create@{k}.wall", rt, c.wall)
                            d = self.delete(rt, cid, force=True)
                            self.wait_init(pid, c.t0, timeout=10)
                        except Failed as e:
                            self.failed(f"create@{k}", rt, str(e), first=(it == 0))
                            self.cleanup_container(rt, cid, pid)
                    if not self.disabled(f"list@{k}", rt):
                        r = self.r.run(rt.argv("list"))
                        if r.ok:
                            self.add(f"list@{k}.cpu", rt, r.cpu)
                            self.add(f"list@{k}.wall", rt, r.wall)
                        else:
                            self.failed(f"list@{k}", rt, r.why(), first=(it == 0))
                self.reaper.sweep(t)
            if k == 100:
                for rt in self.runtimes:
                    if not self.disabled("list@100", rt):
                        calls, _ = self.strace(rt, f"list100", rt.argv("list"))
                        self.add("syscalls.list100", rt, calls)
        print("bench: removing the containers", file=sys.stderr)
        for rt in self.runtimes:
            for cid, pid, t0 in pop[rt.name]:
                self.cleanup_container(rt, cid, pid, t0)

    # -- strace

    def strace_file(self, rt, what):
        d = os.path.join(self.a.results_stem + "-strace")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, f"{rt.name}-{what}.txt")

    @staticmethod
    def strace_calls(path):
        try:
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if parts and parts[-1] == "total":
                        return int(parts[3])
        except (OSError, ValueError, IndexError):
            pass
        return None

    def strace(self, rt, what, argv):
        out = self.strace_file(rt, what)
        r = self.r.run([STRACE, "-f", "-c", "-w", "-o", out, *argv], timeout=120)
        return (self.strace_calls(out) if r.ok else None), r

    def strace_create_start(self, rt, rep, variant="plain"):
        """syscalls of create (with the init it forks, until that init's
        process exits) + start."""
        cid = f"strace-{variant}-{rep}"
        b = self.variant_bundle(rt, variant)
        pf = self.pidfile(rt, cid)
        try:
            os.unlink(pf)
        except FileNotFoundError:
            pass
        sfx = "" if variant == "plain" else "-" + variant
        f1 = self.strace_file(rt, "create" + sfx)
        f2 = self.strace_file(rt, "start" + sfx)
        self.live[rt.name].add(cid)
        spid, t0 = self.r.spawn([STRACE, "-f", "-c", "-w", "-o", f1,
                                 *rt.argv("create", "--bundle", b, "--pid-file", pf, cid)])
        # create is done when the pid file is there and strace has no child
        # left (the init was reparented to us).
        deadline = time.monotonic() + 30
        ipid = None
        while time.monotonic() < deadline:
            if self.reaper.is_reaped(spid, t0):
                break
            if ipid is None:
                ipid = read_pid(pf, timeout=0)
            if ipid is not None:
                try:
                    with open(f"/proc/{spid}/task/{spid}/children") as f:
                        if not f.read().split():
                            break
                except OSError:
                    break
            time.sleep(0.005)
        ok = ipid is not None
        calls = None
        if ok:
            _, s = self.strace(rt, "start" + sfx, rt.argv("start", cid))
            e = self.reaper.wait(spid, t0, 30)
            c1 = self.strace_calls(f1) if e else None
            c2 = self.strace_calls(f2)
            if c1 is not None and c2 is not None:
                calls = c1 + c2
        else:
            self.reaper.wait(spid, t0, 30)
        self.cleanup_container(rt, cid, ipid, t0)
        return calls

    def strace_phase(self):
        reps = self.a.strace_reps
        print("bench: counting syscalls (strace -f -c)", file=sys.stderr)
        for rep in range(reps):
            for rt in self.order(rep):
                c = self.strace_create_start(rt, rep)
                self.add("syscalls.create_start", rt, c)
                # delete --force of a running container, exec into one
                cid = f"strace-run-{rep}"
                b = self.variant_bundle(rt, "plain", ["sleep", "1000000"])
                pid = None
                t0 = 0
                try:
                    pid, t0 = self.up(rt, b, cid)
                    calls, _ = self.strace(rt, "exec", rt.argv("exec", cid, "/bin/true"))
                    self.add("syscalls.exec", rt, calls)
                    calls, _ = self.strace(rt, "delete-force", rt.argv("delete", "--force", cid))
                    self.add("syscalls.delete_force", rt, calls)
                    self.wait_init(pid, t0, 10)
                    self.live[rt.name].discard(cid)
                except Failed as e:
                    print(f"  ! {rt.name} strace: {e}", file=sys.stderr)
                self.cleanup_container(rt, cid, pid, t0)
                if not self.disabled("seccomp", rt):
                    c = self.strace_create_start(rt, rep, "seccomp")
                    self.add("syscalls.create_start_seccomp", rt, c)

    def static_figures(self):
        for rt in self.runtimes:
            self.add("binary.size", rt, os.stat(rt.path).st_size / 1e6)

    # -- cleanup

    def cleanup_all(self):
        for rt in self.runtimes:
            ids = set(self.live[rt.name])
            try:
                r, out = self.r.output(rt.argv("list", "-q"), timeout=30)
                if r.ok:
                    ids |= set(out.split())
            except OSError:
                pass
            for cid in ids:
                self.r.run(rt.argv("delete", "--force", cid), timeout=30)
        remove_cgroups(self.cg_prefix)


def remove_cgroups(prefix):
    base = "/sys/fs/cgroup"
    for h in sorted(os.listdir(base)):
        top = os.path.join(base, h, prefix.lstrip("/"))
        if not os.path.isdir(top):
            continue
        for dirpath, dirnames, _ in sorted(os.walk(top, topdown=False), key=lambda x: -len(x[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


# ---------------------------------------------------------------- reporting

# key, label, unit, target (max ratio to crun, or absolute max), kind
ROWS = []
for v, vl in (("plain", "plain"), ("cgroup", "cgroup limits"), ("seccomp", "seccomp profile")):
    ROWS += [
        (f"{v}.lifecycle.cpu", f"{vl}: lifecycle CPU (create+start+init+delete)", "ms",
         ("ratio", 0.8) if v in ("plain", "seccomp") else None),
        (f"{v}.lifecycle.rtcpu", f"{vl}: lifecycle CPU, runtime processes only", "ms", None),
        (f"{v}.lifecycle.wall", f"{vl}: lifecycle wall (incl. waiting for exit)", "ms", None),
        (f"{v}.create.cpu", f"{vl}: create CPU", "ms", None),
        (f"{v}.create.wall", f"{vl}: create wall", "ms", None),
        (f"{v}.init.cpu", f"{vl}: init CPU (setup in the child + /bin/true)", "ms", None),
        (f"{v}.start.cpu", f"{vl}: start CPU", "ms", None),
        (f"{v}.start.wall", f"{vl}: start wall", "ms", None),
        (f"{v}.delete.cpu", f"{vl}: delete (stopped) CPU", "ms", None),
        (f"{v}.delete.wall", f"{vl}: delete (stopped) wall", "ms", None),
    ]
ROWS += [
    ("run.cpu", "run (foreground /bin/true) CPU", "ms", None),
    ("run.wall", "run (foreground /bin/true) wall", "ms", None),
    ("exec.cpu", "exec ID /bin/true CPU", "ms", ("ratio", 1.0)),
    ("exec.wall", "exec ID /bin/true wall", "ms", None),
    ("state.cpu", "state CPU", "ms", None),
    ("state.wall", "state wall", "ms", None),
    ("kill.cpu", "kill ID KILL CPU", "ms", None),
    ("kill.wall", "kill ID KILL wall", "ms", None),
    ("delete-force.cpu", "delete --force (running) CPU", "ms", ("ratio", 1.0)),
    ("delete-force.wall", "delete --force (running) wall", "ms", None),
]
for k in (1, 10, 100):
    ROWS += [
        (f"list@{k}.cpu", f"list, {k} containers, CPU", "ms", ("ratio", 1.0) if k == 100 else None),
        (f"list@{k}.wall", f"list, {k} containers, wall", "ms", None),
    ]
for k in (1, 10, 100):
    ROWS += [
        (f"create@{k}.cpu", f"create with {k} existing, CPU", "ms", None),
        (f"create@{k}.wall", f"create with {k} existing, wall", "ms", None),
    ]
ROWS += [
    ("plain.create.maxrss", "peak RSS of create (maxrss)", "MiB", ("ratio", 1.0)),
    ("cgroup.create.maxrss", "peak RSS of create, cgroup limits", "MiB", None),
    ("seccomp.create.maxrss", "peak RSS of create, seccomp", "MiB", None),
    ("plain.init.rss", "RSS of the waiting init (VmRSS)", "MiB", None),
    ("binary.size", "binary size", "MB", ("abs", 3.0)),
    ("syscalls.create_start", "syscalls of create+start (strace -f)", "calls", ("abs", 1000)),
    ("syscalls.create_start_seccomp", "syscalls of create+start, seccomp (strace -f)", "calls", None),
    ("syscalls.exec", "syscalls of exec (strace -f)", "calls", None),
    ("syscalls.delete_force", "syscalls of delete --force (strace -f)", "calls", None),
    ("syscalls.list100", "syscalls of list, 100 containers", "calls", None),
]


def fmt(x, unit):
    if x is None:
        return "n/a"
    if unit == "calls":
        return f"{x:.0f}"
    if unit in ("MiB", "MB"):
        return f"{x:.2f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def summarize(bench):
    names = [rt.name for rt in bench.runtimes]
    rows = []
    for key, label, unit, target in ROWS:
        scen = key.split(".")[0]
        if scen in ("plain", "cgroup", "seccomp"):
            scen_name = scen
        elif scen.startswith("syscalls") or scen == "binary":
            scen_name = None
        else:
            scen_name = scen
        row = {"key": key, "label": label, "unit": unit, "runtimes": {}}
        s = bench.samples.get(key, {})
        for n in names:
            xs = s.get(n, [])
            reason = bench.na.get((scen_name, n)) if scen_name else None
            row["runtimes"][n] = {
                "median": median(xs),
                "min": min(xs) if xs else None,
                "max": max(xs) if xs else None,
                "n": len(xs),
                "samples": [round(x, 4) for x in xs],
                **({"na": reason} if reason and not xs else {}),
            }
        h = row["runtimes"].get("husk", {}).get("median")
        c = row["runtimes"].get("crun", {}).get("median")
        row["ratio"] = (h / c) if (h is not None and c) else None
        if "husk_base" in names:
            hb = row["runtimes"]["husk_base"]["median"]
            row["ratio_base"] = (h / hb) if (h is not None and hb) else None
        if target:
            kind, lim = target
            row["target"] = f"≤ {lim}× crun" if kind == "ratio" else f"≤ {lim:g} {unit}"
            if kind == "ratio":
                row["pass"] = None if row["ratio"] is None else row["ratio"] <= lim
            else:
                row["pass"] = None if h is None else h <= lim
        rows.append(row)
    return rows


def cell(r, unit, with_range=True):
    if r["median"] is None:
        return "n/a"
    if not with_range or r["n"] < 2:
        return fmt(r["median"], unit)
    return f"{fmt(r['median'], unit)} ({fmt(r['min'], unit)}–{fmt(r['max'], unit)})"


def ratio_cells(row, names):
    out = ["n/a" if row["ratio"] is None else f"{row['ratio']:.2f}"]
    if "husk_base" in names:
        out.append("n/a" if row.get("ratio_base") is None else f"{row['ratio_base']:.2f}")
    return out


def ratio_heads(names):
    return ["husk/crun"] + (["husk/base"] if "husk_base" in names else [])


def render_text(rows, names):
    hdr = ["figure", "unit"] + names + ratio_heads(names) + ["target", ""]
    lines = []
    for row in rows:
        t = row.get("target", "")
        p = row.get("pass")
        lines.append([row["label"], row["unit"]] + [cell(row["runtimes"][n], row["unit"]) for n in names] +
                     ratio_cells(row, names) + [t,
                      "" if not t else ("PASS" if p else ("n/a" if p is None else "FAIL"))])
    w = [max(len(x[i]) for x in [hdr] + lines) for i in range(len(hdr))]
    out = ["  ".join(h.ljust(w[i]) for i, h in enumerate(hdr)), "  ".join("-" * x for x in w)]
    for l in lines:
        out.append("  ".join(c.ljust(w[i]) if i in (0, 1) else c.rjust(w[i]) if i < len(hdr) - 2 else c.ljust(w[i])
                             for i, c in enumerate(l)).rstrip())
    return "\n".join(out)


# The rows of the README's short table (bench/latest.md has them all).
SUMMARY = [
    "plain.lifecycle.cpu", "plain.lifecycle.wall", "cgroup.lifecycle.cpu", "seccomp.lifecycle.cpu",
    "plain.create.cpu", "plain.init.cpu", "plain.start.cpu", "plain.delete.cpu", "run.cpu", "exec.cpu",
    "state.cpu", "kill.cpu", "delete-force.cpu", "delete-force.wall", "list@100.cpu", "create@100.cpu",
    "plain.create.maxrss", "plain.init.rss", "binary.size", "syscalls.create_start",
]


def render_md(rows, names, keys=None):
    if keys is not None:
        rows = [r for k in keys for r in rows if r["key"] == k]
    heads = ratio_heads(names)
    out = ["| figure | " + " | ".join(names + heads) + " | target |",
           "|---|" + "---:|" * (len(names) + len(heads)) + "---|"]
    for row in rows:
        t = row.get("target", "")
        p = row.get("pass")
        mark = "" if not t else (": ✅ pass" if p else (": n/a" if p is None else ": ❌ FAIL"))
        cells = [cell(row["runtimes"][n], row["unit"]) for n in names]
        out.append(f"| {row['label']}, {row['unit']} | " + " | ".join(cells + ratio_cells(row, names)) +
                   f" | {t}{mark} |")
    return "\n".join(out)


def na_notes(rows, names):
    seen = {}
    for row in rows:
        for n in names:
            r = row["runtimes"][n]
            if r.get("na"):
                seen.setdefault((n, r["na"]), []).append(row["key"].split(".")[0])
    return [f"{n}: {', '.join(sorted(set(ks)))} n/a: {why}" for (n, why), ks in seen.items()]


def machine_info(bench, t_start, load_start):
    def sh(*a):
        try:
            return subprocess.run(a, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return ""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for l in f:
                if l.startswith("model name"):
                    cpu = l.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) // 1024} MiB"
    except OSError:
        pass
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if bench.a.husk_label:
        husk = bench.a.husk_label
    else:
        rev = sh("git", "-C", top, "rev-parse", "--short", "HEAD")
        dirty = sh("git", "-C", top, "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock")
        husk = rev + ("+dirty" if dirty else "")
    vers = {}
    for rt in bench.runtimes:
        vers[rt.name] = (sh(rt.path, "--version").splitlines() or [""])[0]
    cg = "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else (
        "v1 hybrid" if os.path.isdir("/sys/fs/cgroup/unified") else "v1")
    with open("/proc/loadavg") as f:
        load_end = f.read().split()[:3]
    return {
        "date": t_start.strftime("%Y-%m-%d %H:%M:%S"),
        "kernel": platform.release(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory": mem,
        "cgroups": cg,
        "os": (sh("sh", "-c", ". /etc/os-release && echo $PRETTY_NAME")),
        "husk": husk,
        "versions": vers,
        "paths": {rt.name: rt.path for rt in bench.runtimes},
        "iterations": bench.a.n,
        "strace_reps": bench.a.strace_reps,
        "loadavg_start": load_start,
        "loadavg_end": load_end,
        "seccomp": bench.seccomp_note,
        "notes": bench.notes,
        "orphans_reaped": len(bench.reaper.orphans),
        "orphans_cpu_ms": round(sum(o[2] for o in bench.reaper.orphans), 3),
        "orphans": [{"pid": o[0], "cpu_ms": round(o[2], 3), "during": o[3]} for o in bench.reaper.orphans][:50],
    }


def header_lines(m):
    return [
        f"{m['date']}, husk {m['husk']}, {m['iterations']} iterations (medians, min–max in brackets), "
        f"runtimes interleaved",
        f"{m['os']}, kernel {m['kernel']}, cgroup {m['cgroups']}, {m['cpus']} × {m['cpu']}, {m['memory']}; "
        f"load average {' '.join(m['loadavg_start'])} at the start, {' '.join(m['loadavg_end'])} at the end",
        "; ".join(f"{k}: {v}" for k, v in m["versions"].items()),
        f"seccomp profile: {m['seccomp']}",
    ] + m["notes"]


def update_readme(path, section):
    """Replace the '## Performance' section (up to the next '## ' heading or
    the end), or append it; the rest of the file is left as it is."""
    with open(path) as f:
        text = f.read()
    section = section.rstrip("\n") + "\n"
    start = text.find("\n## Performance\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + 1)
        text = text[:start + 1] + section + ("\n" + text[nxt + 1:] if nxt >= 0 else "")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=20, help="iterations (default 20)")
    ap.add_argument("-q", "--quick", action="store_true", help="quick mode: 5 iterations, 1 strace run")
    ap.add_argument("--runtime", dest="runtimes", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--rootfs", required=True)
    ap.add_argument("--config", required=True, help="base config.json")
    ap.add_argument("--seccomp", required=True, help="seccomp profile (OCI or Docker format)")
    ap.add_argument("--results", required=True, help="results directory")
    ap.add_argument("--spawn", required=True, help="the spawn helper (bench/spawn.c, compiled)")
    ap.add_argument("--latest", help="markdown file to overwrite with the latest table")
    ap.add_argument("--readme", help="README whose '## Performance' section to replace (or append)")
    ap.add_argument("--strace-reps", type=int, default=None)
    ap.add_argument("--husk-label", help="what husk binary this is (default: the checkout's git revision)")
    ap.add_argument("--skip-scale", action="store_true", help="skip list/create with 1/10/100 containers")
    a = ap.parse_args()
    if a.quick:
        a.n = 5
    if a.strace_reps is None:
        a.strace_reps = 1 if a.quick else 3
    if os.geteuid() != 0:
        sys.exit("bench: run me as root")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        sys.exit("bench: prctl(PR_SET_CHILD_SUBREAPER) failed")
    t_start = datetime.datetime.now()
    stamp = t_start.strftime("%Y-%m-%dT%H%M%S")
    os.makedirs(a.results, exist_ok=True)
    a.results_stem = os.path.join(a.results, stamp)
    with open("/proc/loadavg") as f:
        load_start = f.read().split()[:3]

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    b = Bench(a)
    interrupted = False
    try:
        remove_cgroups(b.cg_prefix)  # leftovers of an earlier, killed run
        b.seccomp_setup()
        b.probe()
        b.hugetlb_note()
        b.static_figures()
        b.main_phase()
        if not a.skip_scale:
            b.scale_phase()
        b.strace_phase()
    except KeyboardInterrupt:
        interrupted = True
        print("bench: interrupted; cleaning up", file=sys.stderr)
    finally:
        b.cleanup_all()
    time.sleep(0.2)
    b.reaper.sweep(time.perf_counter_ns())

    names = [rt.name for rt in b.runtimes]
    rows = summarize(b)
    meta = machine_info(b, t_start, load_start)
    meta["interrupted"] = interrupted
    head = header_lines(meta)
    if interrupted:
        head.insert(0, "INTERRUPTED: partial results")
    notes = na_notes(rows, names)
    text = "\n".join(head) + "\n\n" + render_text(rows, names) + "\n"
    if notes:
        text += "\n" + "\n".join(notes) + "\n"
    if meta["orphans_reaped"]:
        text += (f"\n{meta['orphans_reaped']} orphaned helper processes were reaped by the bench "
                 f"({meta['orphans_cpu_ms']} ms CPU, not counted in any figure)\n")
    print(text)
    with open(a.results_stem + ".txt", "w") as f:
        f.write(text)
    with open(a.results_stem + ".json", "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    print(f"bench: wrote {a.results_stem}.txt and .json", file=sys.stderr)
    if interrupted:
        sys.exit(130)
    md = ("\n".join(f"{l}  " for l in head) + "\n\n" + render_md(rows, names) + "\n" +
          ("\n" + "\n".join(f"- {n}" for n in notes) + "\n" if notes else ""))
    md_short = ("\n".join(f"{l}  " for l in head) + "\n\n" + render_md(rows, names, SUMMARY) + "\n" +
                ("\n" + "\n".join(f"- {n}" for n in notes) + "\n" if notes else ""))
    if a.latest:
        with open(a.latest, "w") as f:
            f.write("# Latest benchmark\n\nWritten by `bench/bench.sh` (see `bench/README.md`): CPU is user+sys "
                    "of the runtime process and the children it waited for (wait4); the init's own CPU is "
                    "counted in the lifecycle.\n\n" + md)
        print(f"bench: wrote {a.latest}", file=sys.stderr)
    if a.readme:
        section = ("## Performance\n\n"
                   "Rerun with `bench/bench.sh` (as root, about 4 minutes; `-q` for a quick run; how it\n"
                   "measures and what each figure means: `bench/README.md`). It runs husk, runc and crun\n"
                   "interleaved on the same busybox bundles; CPU = user+sys of the runtime process and its\n"
                   "waited-for children, and the lifecycle also counts the container init's own CPU. Targets\n"
                   "are those of issue 8. The main rows of the latest run are below, with the machine it ran\n"
                   "on; [`bench/latest.md`](bench/latest.md) has all of them, `bench/FINDINGS.md` what lies\n"
                   "behind them. The husk measured is the one `.ci/build-release` makes (release profile,\n"
                   "linked statically); `husk bundle` and `husk network` live in a second binary,\n"
                   "`husk-tools`, which the runtime path never loads. Compiled seccomp programs are cached\n"
                   "in `/run/husk-cache/seccomp` (`HUSK_SECCOMP_CACHE=0` turns that off).\n\n" + md_short)
        update_readme(a.readme, section)
        print(f"bench: updated the Performance section of {a.readme}", file=sys.stderr)


if __name__ == "__main__":
    main()
