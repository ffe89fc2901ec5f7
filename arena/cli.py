"""The `arena` command. Exit codes: 0 success, 1 user error (one line, no traceback),
3 interrupted and resumable. Heavy imports (torch, Ray) happen only in the commands that run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_USER, EXIT_INTERRUPTED = 0, 1, 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="arena", description="Simulate the deepfake generator/detector arms race."
    )
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start a run from a spec")
    run.add_argument("spec", help="YAML run spec, e.g. runs/quickstart.yaml")
    run.add_argument("overrides", nargs="*", help="dotted overrides: rounds=3 detectors.0.strategy=frozen")
    run.add_argument("--name", help="run name (default: spec stem + timestamp)")
    run.add_argument("--runs-dir", default="runs", help="where run directories go (default: runs)")
    run.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS or a local Ray)")

    res = sub.add_parser("resume", help="continue an interrupted run after its last committed round")
    res.add_argument("run_dir")
    res.add_argument("--address")

    st = sub.add_parser("status", help="last committed round and progress of a run")
    st.add_argument("run_dir")

    pl = sub.add_parser("plot", help="write the cat-and-mouse curve and the heatmap as PNG (+CSV)")
    pl.add_argument("run_dir")
    pl.add_argument("--metric", default="auc")

    ls = sub.add_parser("list", help="list registered generator families or detector architectures")
    ls.add_argument("what", choices=["generators", "detectors", "strategies"])
    return p


def _status(run_dir: str) -> int:
    import json

    from arena.errors import ArenaUserError
    from arena.ledger import committed_rounds, round_dir_name
    from arena.lock import RunLock

    path = Path(run_dir)
    if not (path / "spec.resolved.json").is_file():
        raise ArenaUserError(f"{run_dir} is not an arena run directory (no spec.resolved.json)")
    spec = json.loads((path / "spec.resolved.json").read_text())
    state = committed_rounds(path, deep=False)
    total = int(spec["rounds"])
    running = RunLock(path).is_held()
    print(f"run:       {path}")
    print(f"committed: round {state.last} of {total} ({100 * state.last / total:.0f}%)")
    finished = "complete" if state.last >= total else "stopped (resumable)"
    print(f"state:     {'running' if running else finished}")
    times = []
    for r in state.rounds:
        tfile = path / "rounds" / round_dir_name(r) / "timings.json"
        if tfile.is_file():
            times.append(json.loads(tfile.read_text()).get("total", 0.0))
    if times:
        mean = sum(times) / len(times)
        print(f"per round: {mean:.1f} s mean; about {mean * (total - state.last):.0f} s of rounds left")
    for problem in state.problems:
        print(f"warning:   {problem}")
    return EXIT_OK


def _list(what: str) -> int:
    if what == "generators":
        from generators import FAMILIES as reg
    elif what == "detectors":
        from detectors import DETECTORS as reg  # type: ignore[assignment]
    else:
        from detectors import STRATEGIES as reg  # type: ignore[assignment]
    for name in reg.names():
        print(name)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    from arena.errors import ArenaUserError, RunInterrupted

    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            from arena.launch import start_run

            start_run(args.spec, args.overrides, name=args.name, runs_dir=args.runs_dir, address=args.address)
        elif args.command == "resume":
            from arena.launch import resume_run

            resume_run(args.run_dir, address=args.address)
        elif args.command == "status":
            return _status(args.run_dir)
        elif args.command == "plot":
            from arena.plots import plot_run

            for path in plot_run(args.run_dir, args.metric):
                print(path)
        elif args.command == "list":
            return _list(args.what)
    except ArenaUserError as exc:
        print(f"arena: error: {exc}", file=sys.stderr)
        return EXIT_USER
    except (RunInterrupted, KeyboardInterrupt) as exc:
        where = str(exc) if isinstance(exc, RunInterrupted) and str(exc) else "<run_dir>"
        print(
            f"arena: interrupted; the last committed round is intact. Continue with: arena resume {where}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except ValueError as exc:
        if args.command == "plot":
            print(f"arena: error: {exc}", file=sys.stderr)
            return EXIT_USER
        raise
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
