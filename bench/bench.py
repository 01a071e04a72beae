#!/usr/bin/env python3
"""parity against ninja on bench/gen.sh's graph: see bench/README.md (method and figures).

usage: bench.py PARITY V...
       (environment: BENCH_DIR, BENCH_RUNS, BENCH_QUICK_RUNS, BENCH_FULL_RUNS, BENCH_JOBS)

For each V, the same graph is built by both tools side by side, runs interleaved (parity, then
ninja, then parity...) so a noisy neighbour slows both alike, and each figure is the median:

  full     a first build of a fresh workspace (`parity build -jN` / `ninja -jN`)
  incr     `wrapper.json` changed: V reports and the index rerun
  status   after one source edited: `parity status` / `ninja -n` (what would run, nothing run)
  target   targeted no-op: `parity build report@0.1.0` / `ninja report/0.1.0.json`
  noop     `parity status` and `parity build` (the no-op memo) / `ninja`
  peak MB  the largest resident set of each command (the process and its children)

Workspaces live in BENCH_DIR (default: a temp dir) as vV/p (parity) and vV/n (ninja).
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
JOBS = os.environ.get("BENCH_JOBS", "2")


def run(cmd, cwd):
    """Wall seconds and peak RSS (MB) of one command, its output discarded."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed in {cwd}")
    return wall, usage.ru_maxrss / 1024


def gen(v, d):
    if os.path.exists(d):
        shutil.rmtree(d)
    subprocess.run(["bash", os.path.join(HERE, "gen.sh"), str(v), d], check=True,
                   stdout=subprocess.DEVNULL)


def pair(parity_cmd, ninja_cmd, p, n, runs, before=None):
    """Interleaved runs, each tool first in every other run; median wall time and peak RSS of
    both. `before(i)` prepares run i (not timed) and may return the two directories to use."""
    pt, pm, nt, nm = [], [], [], []
    for i in range(runs):
        dirs = before(i) if before else None
        pd, nd = dirs or (p, n)
        order = [(parity_cmd, pd, pt, pm), (ninja_cmd, nd, nt, nm)]
        for cmd, d, times, peaks in order if i % 2 == 0 else reversed(order):
            w, m = run(cmd, d)
            times.append(w)
            peaks.append(m)
    return statistics.median(pt), max(pm), statistics.median(nt), max(nm)


def fmt(sec):
    return f"{sec * 1000:.0f} ms" if sec < 10 else f"{sec:.1f} s"


def main():
    parity = os.path.abspath(sys.argv[1])
    sizes = [int(v) for v in sys.argv[2:]] or [200, 2000]
    work = os.environ.get("BENCH_DIR") or tempfile.mkdtemp(prefix="parity-bench-")
    build = [parity, "build", "-j", JOBS]
    ninja = ["ninja", "-j", JOBS]
    rows = []
    for v in sizes:
        base = os.path.join(work, f"v{v}")
        p, n = os.path.join(base, "p"), os.path.join(base, "n")
        load = lambda: os.getloadavg()[0]
        loads = [load()]

        # Full builds: fresh workspaces for each run, generated (not timed) in new directories
        # and deleted only once all are built: deleting thousands of files just before a timed
        # build slows down the file creations of whichever tool runs next (ext4 skips
        # recently freed inodes).
        full_runs = int(os.environ.get("BENCH_FULL_RUNS", "3" if v <= 2000 else "1"))
        # The commands of a few milliseconds (status after an edit, targeted no-op, no-op)
        # move by a millisecond from run to run: more runs, while they cost seconds.
        quick = int(os.environ.get("BENCH_QUICK_RUNS", str(max(RUNS, 21) if v <= 2000 else RUNS)))

        def fresh(i):
            dirs = (os.path.join(base, f"full{i}", "p"), os.path.join(base, f"full{i}", "n"))
            for d in dirs:
                gen(v, d)
            subprocess.run(["sync"], check=True)
            time.sleep(1)
            return dirs
        full = pair(build, ninja, p, n, full_runs, fresh)
        # The last ones are the workspaces of the other measures.
        for d, last in ((p, f"full{full_runs - 1}/p"), (n, f"full{full_runs - 1}/n")):
            if os.path.exists(d):
                shutil.rmtree(d)
            os.rename(os.path.join(base, last), d)
        loads.append(load())

        # Incremental: the shared wrapper.json changes (V reports + the index rerun).
        def wrapper(i):
            for d in (p, n):
                with open(os.path.join(d, "wrapper.json"), "w") as f:
                    f.write(f'{{"wrapper": {i + 2}}}\n')
        incr = pair(build, ninja, p, n, RUNS, wrapper)
        loads.append(load())

        # Status after one source edit, then both rebuilt (not timed).
        def edit(i):
            for d in (p, n):
                subprocess.run(build if d == p else ninja, cwd=d, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                with open(os.path.join(d, "src/0.1.0/x86_64-unknown-linux-musl.txt"), "w") as f:
                    f.write(f"edited {i}\n")
        status = pair([parity, "status"], ["ninja", "-n"], p, n, quick, edit)
        for d, cmd in ((p, build), (n, ninja)):
            subprocess.run(cmd, cwd=d, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        loads.append(load())

        # Targeted no-op (the memo answers only untargeted no-ops).
        target = pair([parity, "build", "report@0.1.0"], ["ninja", "report/0.1.0.json"], p, n,
                      quick)

        # Plain no-op: the memo (written by a status once the files are older than a second).
        time.sleep(1.1)
        run([parity, "status"], p)
        noop_s = pair([parity, "status"], ["ninja"], p, n, quick)
        noop_b = pair(build, ninja, p, n, quick)
        loads.append(load())
        for i in range(full_runs):
            shutil.rmtree(os.path.join(base, f"full{i}"), ignore_errors=True)
        rows.append((v, 5 * v + 1, full, incr, status, target, noop_s, noop_b,
                     sum(loads) / len(loads)))

    print(f"| V | nodes | full build | incremental | status after an edit (vs `ninja -n`) "
          f"| targeted no-op | no-op status / build (vs `ninja`) | peak MB parity / ninja "
          f"| load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for v, nodes, full, incr, status, target, noop_s, noop_b, load in rows:
        cell = lambda r: f"{fmt(r[0])} vs {fmt(r[2])} = {r[0] / r[2]:.2f}x"
        peak_p = max(r[1] for r in (full, incr, status, target, noop_s, noop_b))
        peak_n = max(r[3] for r in (full, incr, status, target, noop_s, noop_b))
        print(f"| {v} | {nodes:,} | {cell(full)} | {cell(incr)} | {cell(status)} | "
              f"{cell(target)} | {fmt(noop_s[0])} / {fmt(noop_b[0])} vs {fmt(noop_s[2])} "
              f"| {peak_p:.1f} / {peak_n:.1f} = {peak_p / peak_n:.2f}x | {load:.1f} |")


if __name__ == "__main__":
    main()
