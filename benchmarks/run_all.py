"""Run every benchmark and write benchmarks/RESULTS.md with the figures and the machine.

Each benchmark prints its figure, the baseline measured in the same run, and their ratio; this
script only runs them one after another (never two at once, so they do not steal each other's
cores) and records what they printed. `--smoke` runs each at a tiny size, as CI does, to prove
they still work; its output goes to a temporary file unless --out is given.

    python benchmarks/run_all.py [--smoke] [--device cpu|cuda] [--out benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# (script, full-size arguments, smoke arguments)
BENCHMARKS: list[tuple[str, list[str], list[str]]] = [
    ("quickstart_profile.py", [], ["--smoke"]),
    ("blend_vs_opencv.py", [], ["--smoke"]),
    ("conv_paths.py", [], ["--smoke"]),
    ("malloc_tuning.py", [], ["--smoke"]),
    ("generator_benchmark.py", [], ["--sizes", "32", "--batch", "4", "--repeats", "1"]),
    (
        "detector_benchmark.py",
        ["--steps", "10", "--repeats", "2"],
        ["--archs", "meso4", "spectrum", "--sizes", "32", "--steps", "2", "--repeats", "1"],
    ),
    ("ingest_benchmark.py", [], ["--faces", "8", "--sizes", "32"]),
    ("extractor_attack.py", [], ["--size", "32", "--faces", "8", "--steps", "20", "--budgets", "0.03"]),
    ("scale_rounds.py", [], ["--rounds", "3", "--smoke"]),
    ("ray_overhead.py", [], ["--rounds", "2", "--smoke"]),
]
DEVICE_AWARE = {"blend_vs_opencv.py"}


def machine(device: str) -> str:
    import torch

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if device == "cuda" and torch.cuda.is_available() else "none used"
    return (
        f"- CPU: {cpu}, {os.cpu_count()} cores\n- GPU: {gpu}\n- device: {device}\n"
        f"- torch {torch.__version__}, Python {platform.python_version()}, {platform.platform()}\n"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, to check the benchmarks run (CI)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--only", nargs="*", help="run only these scripts")
    args = ap.parse_args()
    out = args.out or (Path(tempfile.mkdtemp()) / "RESULTS.md" if args.smoke else HERE / "RESULTS.md")
    sections = []
    failed = []
    for script, full, smoke in BENCHMARKS:
        if args.only and script not in args.only:
            continue
        cmd = [sys.executable, str(HERE / script), *(smoke if args.smoke else full)]
        if script in DEVICE_AWARE:
            cmd += ["--device", args.device]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        took = time.perf_counter() - t0
        print(f"== {script} ({took:.0f} s, exit {proc.returncode})\n{proc.stdout}", flush=True)
        if proc.returncode != 0:
            failed.append(script)
            print(proc.stderr[-3000:], file=sys.stderr)
        body = proc.stdout.strip() or "(no output)"
        sections.append(
            f"## {script}\n\n`{' '.join(cmd[1:]).replace(str(REPO) + '/', '')}` — {took:.0f} s\n\n"
            f"```\n{body}\n```\n"
        )
    text = (
        "# Benchmark results\n\n"
        f"Written by `benchmarks/run_all.py{' --smoke' if args.smoke else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Each benchmark states its baseline, "
        "measured in the same run; compare ratios, not absolute times (this machine is shared).\n\n"
        f"{machine(args.device)}\n" + "\n".join(sections)
    )
    out.write_text(text)
    print(f"wrote {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
