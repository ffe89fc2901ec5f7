"""Run every benchmark and write benchmarks/RESULTS.md with the figures and the machine.

Each benchmark prints its figure, the baseline measured in the same run, and their ratio; this
script only runs them one after another (never two at once, so they do not steal each other's
cores) and records what they printed. `--smoke` runs each at a tiny size, as CI does, to prove
they still work; its output goes to a temporary file unless --out is given. Every benchmark takes
`--device`: with `cuda` the measured work runs on the GPU (the CPU-only ones, oneDNN's kernels,
glibc's allocator and ingest's photo alignment, say so and stop) and the figures go to
RESULTS_cuda.md. The file is rewritten after each benchmark, so a run cut short keeps what it
measured; `--timeout` bounds each benchmark.

    python benchmarks/run_all.py [--smoke] [--device cpu|cuda] [--out benchmarks/RESULTS.md]
        [--only SCRIPT ...] [--timeout SECONDS]
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
sys.path.insert(0, str(REPO))
from deepfake_arena.store.atomic import write_text_atomic  # noqa: E402

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
    ("first_calls.py", [], ["--archs", "meso4", "--size", "32", "--steps", "2"]),
]
# Extra full-size arguments on a GPU: torch.compile's timing for one detector family (its one-off
# compilation takes ~23 s per size on an H100; with xception too the benchmark passed 150 s there).
GPU_EXTRA = {"detector_benchmark.py": ["--compile-archs", "meso4"]}
GPU_NOTE = " The figures of `--device cuda` on a GPU are in RESULTS_cuda.md."


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
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--only", nargs="*", help="run only these scripts")
    ap.add_argument("--timeout", type=float, help="seconds per benchmark before it is stopped")
    args = ap.parse_args()
    name = "RESULTS.md" if args.device == "cpu" else f"RESULTS_{args.device}.md"
    out = args.out or (Path(tempfile.mkdtemp()) / name if args.smoke else HERE / name)
    sections = []
    failed = []
    header = machine(args.device)  # once: the machine does not change between benchmarks
    for script, full, smoke in BENCHMARKS:
        if args.only and script not in args.only:
            continue
        cmd = [sys.executable, str(HERE / script), *(smoke if args.smoke else full), "--device", args.device]
        if args.device != "cpu" and not args.smoke:
            cmd += GPU_EXTRA.get(script, [])
        t0 = time.perf_counter()
        stdout, stderr, code = _run(cmd, args.timeout)
        took = time.perf_counter() - t0
        print(f"== {script} ({took:.0f} s, exit {code})\n{stdout}", flush=True)
        if code != 0:
            failed.append(script)
            print(stderr[-3000:], file=sys.stderr)
        body = stdout.strip() or "(no output)"
        if code != 0:
            body += f"\n(exit {code}; the end of its stderr:)\n{stderr.strip()[-1500:]}"
        sections.append(
            f"## {script}\n\n`{' '.join(cmd[1:]).replace(str(REPO) + '/', '')}` — {took:.0f} s\n\n"
            f"```\n{body}\n```\n"
        )
        _write(out, args, header, sections)  # after each one, so a run cut short keeps what it measured
    if not sections:
        _write(out, args, header, sections)
    print(f"wrote {out}")
    return 1 if failed else 0


def _run(cmd: list[str], timeout: float | None) -> tuple[str, str, int]:
    """(stdout, stderr, exit code) of one benchmark; a timeout is exit 124 with what it printed."""
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        text = [
            x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
            for x in (exc.stdout, exc.stderr)
        ]
        return text[0], text[1] + f"\nstopped after --timeout {timeout:g} s", 124
    return proc.stdout, proc.stderr, proc.returncode


ANALYSIS_BEGIN = "<!-- analysis: kept by run_all.py when it rewrites this file -->"
ANALYSIS_END = "<!-- /analysis -->"


def kept_analysis(out: Path) -> str:
    """The hand-written analysis block of an existing results file (empty if none): the figures
    are rewritten each run, the analysis of them is kept, to be revised by hand."""
    try:
        text = out.read_text()
    except OSError:
        return ""
    if ANALYSIS_BEGIN not in text or ANALYSIS_END not in text:
        return ""
    body = text.split(ANALYSIS_BEGIN, 1)[1].split(ANALYSIS_END, 1)[0]
    return f"{ANALYSIS_BEGIN}{body}{ANALYSIS_END}\n\n"


def _write(out: Path, args: argparse.Namespace, header: str, sections: list[str]) -> None:
    analysis = kept_analysis(out)
    text = (
        "# Benchmark results\n\n"
        f"Written by `benchmarks/run_all.py{' --smoke' if args.smoke else ''}"
        f"{' --device ' + args.device if args.device != 'cpu' else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Each benchmark states its baseline, "
        "measured in the same run; compare ratios, not absolute times (this machine is shared)."
        f"{GPU_NOTE if args.device == 'cpu' and (HERE / 'RESULTS_cuda.md').is_file() else ''}\n\n"
        f"{header}\n{analysis}" + "\n".join(sections)
    )
    write_text_atomic(out, text)


if __name__ == "__main__":
    sys.exit(main())
