"""The `arena` command. Exit codes: 0 success, 1 user error (one line, no traceback),
3 interrupted and resumable. Heavy imports (torch, Ray) happen only in the commands that run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from shlex import quote

EXIT_OK, EXIT_USER, EXIT_INTERRUPTED = 0, 1, 3


def _parser() -> argparse.ArgumentParser:
    from deepfake_arena import __version__

    p = argparse.ArgumentParser(
        prog="arena", description="Simulate the deepfake generator/detector arms race."
    )
    p.add_argument("--version", action="version", version=f"arena {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start a run from a spec")
    run.add_argument("spec", help="YAML run spec, e.g. runs/quickstart.yaml")
    run.add_argument("overrides", nargs="*", help="dotted overrides: rounds=3 detectors.0.strategy=frozen")
    run.add_argument("--name", help="run name (default: spec stem + timestamp)")
    run.add_argument("--runs-dir", default="runs", help="where run directories go (default: runs)")
    run.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS or a local Ray)")
    run.add_argument("--num-cpus", type=int, help="CPUs of a local Ray (default: all of this machine's)")

    res = sub.add_parser("resume", help="continue an interrupted run or sweep after its last committed round")
    res.add_argument("run_dir")
    res.add_argument("overrides", nargs="*", help="changed settings; refused unless --force")
    res.add_argument("--force", action="store_true", help="continue a changed spec as a new branch")
    res.add_argument("--address")
    res.add_argument("--num-cpus", type=int)

    st = sub.add_parser("status", help="last committed round and progress of a run")
    st.add_argument("run_dir")

    pl = sub.add_parser("plot", help="write every plot of a run (or sweep) into its report/ as PNG (+CSV)")
    pl.add_argument("run_dir")
    pl.add_argument("--metric", default="auc")

    rp = sub.add_parser("report", help="one self-contained HTML report of one or several runs or sweeps")
    rp.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    rp.add_argument("--out", help="HTML file (default: RUN_DIR/report/report.html; several: report.html)")
    rp.add_argument("--metric", default="auc")

    ls = sub.add_parser(
        "list", help="registered generator families, detector architectures, strategies or metrics"
    )
    ls.add_argument("what", choices=list(LISTABLE))

    sp = sub.add_parser(
        "spec", help="print a spec resolved (overrides applied, defaults filled), without running"
    )
    sp.add_argument("spec", nargs="?", help="YAML run spec, e.g. runs/quickstart.yaml")
    sp.add_argument("overrides", nargs="*", help="dotted overrides: rounds=3 detectors.0.strategy=frozen")
    sp.add_argument("--schema", action="store_true", help="print the JSON schema of a run spec instead")

    from deepfake_arena.world.ingest.cli import add_parser as add_ingest_parser

    add_ingest_parser(sub)
    from deepfake_arena.score import add_parser as add_score_parser

    add_score_parser(sub)
    from deepfake_arena.analysis.effects.cli import add_parser as add_effects_parser

    add_effects_parser(sub)
    return p


def _status(run_dir: str) -> int:
    path = Path(run_dir)
    if (path / "sweep.json").is_file():
        from deepfake_arena.results import read_sweep

        members = read_sweep(path)
        print(f"sweep:     {path} ({len(members)} members)")
        for m in members:
            print()
            _run_status(path / m["name"])
        return EXIT_OK
    return _run_status(path)


def _run_status(path: Path) -> int:
    import json

    from deepfake_arena.errors import ArenaUserError
    from deepfake_arena.results import RESULTS_FILE
    from deepfake_arena.store.ledger import CorruptFile, committed_rounds, round_dir_name, verified_path
    from deepfake_arena.store.lock import RunLock
    from deepfake_arena.store.run_info import read_spec

    spec = read_spec(path)  # a one-line error for a missing or damaged file
    state = committed_rounds(path, deep=False)
    total = spec.get("rounds")
    if not isinstance(total, int) or total < 1:
        raise ArenaUserError(f"{path / 'spec.resolved.json'} is damaged (no valid 'rounds')")
    running = RunLock(path).is_held()
    print(f"run:       {path}")
    print(f"committed: round {state.last} of {total} ({100 * state.last / total:.0f}%)")
    damaged = []
    for r in state.rounds:  # a round's results are what a reader trusts: check their hash
        try:
            verified_path(path, r, RESULTS_FILE)
        except CorruptFile as exc:
            damaged.append(str(exc))
    finished = "complete" if state.last >= total else "stopped (resumable)"
    if damaged or state.missing_ledger:
        finished = f"damaged; `arena resume {quote(str(path))}` sets the damage aside and plays it again"
    print(f"state:     {'running' if running else finished}")
    times = []
    for r in state.rounds:
        tfile = path / "rounds" / round_dir_name(r) / "timings.json"
        try:  # timings are not verified: a damaged file only leaves the estimate out
            times.append(float(json.loads(tfile.read_bytes()).get("total", 0.0)))
        except (OSError, ValueError, TypeError, AttributeError):
            continue
    if times:
        mean = sum(times) / len(times)
        print(f"per round: {mean:.1f} s mean; about {mean * (total - state.last):.0f} s of rounds left")
    for problem in state.problems + damaged:
        print(f"warning:   {problem}")
    return EXIT_OK


LISTABLE = ("generators", "detectors", "strategies", "metrics")
# Subcommands whose trailing `key=value` words are spec overrides, wherever they stand.
TAKES_OVERRIDES = ("run", "resume", "spec")


def summary(doc: str | None, width: int = 100) -> str:
    """The first sentence of a docstring's first paragraph, on one line of at most `width`."""
    para = " ".join((doc or "").strip().split("\n\n")[0].split())
    cut = para.find(". ")
    line = para[: cut + 1] if cut >= 0 else para
    return line if len(line) <= width else line[: width - 3].rstrip() + "..."


def list_entries(what: str) -> list[tuple[str, str]]:
    """(name, one-line description) of every registered component of a kind."""
    if what == "metrics":
        from deepfake_arena.metrics import METRIC_NOTES, METRICS

        return [(name, METRIC_NOTES[name]) for name in METRICS]
    if what == "generators":
        from deepfake_arena.generators import FAMILIES as reg
    elif what == "detectors":
        from deepfake_arena.detectors import DETECTORS as reg  # type: ignore[assignment]
    else:
        from deepfake_arena.detectors import STRATEGIES as reg  # type: ignore[assignment]
    return [(name, summary(reg.get(name).__doc__)) for name in reg.names()]


def _list(what: str) -> int:
    entries = list_entries(what)
    width = max(len(name) for name, _ in entries)
    for name, note in entries:  # one line of at most 120 characters, whatever the longest name
        if len(note) > 118 - width:
            note = note[: 115 - width].rstrip() + "..."
        print(f"{name:<{width}}  {note}".rstrip())
    return EXIT_OK


def _spec(args: argparse.Namespace) -> int:
    import json

    from deepfake_arena.errors import ArenaUserError

    if args.schema:
        if args.spec or args.overrides:
            raise ArenaUserError("arena spec --schema takes no spec file or overrides")
        from deepfake_arena.spec_reference import schema

        print(json.dumps(schema(), indent=2, sort_keys=True))
        return EXIT_OK
    if not args.spec:
        raise ArenaUserError("arena spec needs a spec file (or --schema)")
    from deepfake_arena.rounds.sweep import expand, is_sweep
    from deepfake_arena.spec import apply_overrides, parse_overrides, read_spec_file, validate_spec

    raw, _ = read_spec_file(args.spec)
    raw = apply_overrides(raw, parse_overrides(args.overrides))
    if is_sweep(raw):
        members = {m.name: m.spec.model_dump(mode="json") for m in expand(raw)}
        print(json.dumps({"members": members}, indent=2, sort_keys=True))
    else:
        print(json.dumps(validate_spec(raw).model_dump(mode="json"), indent=2, sort_keys=True))
    return EXIT_OK


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; a subcommand's overrides (`key=value`) may sit among its flags.

    argparse's nargs="*" positional ends at the first flag, so `run SPEC --name x rounds=3` would
    leave `rounds=3` unrecognised: such words are collected from what is left and appended to the
    overrides in the order given; anything else left over is the usual usage error.
    """
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command in TAKES_OVERRIDES:
        words = [w for w in extra if "=" in w and not w.startswith("-")]
        rest = [w for w in extra if w not in words]
        if not rest:
            args.overrides = [*args.overrides, *words]
            if args.command == "spec" and args.spec is None:
                parser.error("arena spec: the spec file comes first")
            return args
        extra = rest
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    from deepfake_arena.errors import ArenaUserError, RunInterrupted

    args = parse_args(argv)
    try:
        if args.command == "run":
            from deepfake_arena.launch import start_run

            start_run(
                args.spec,
                args.overrides,
                name=args.name,
                runs_dir=args.runs_dir,
                address=args.address,
                num_cpus=args.num_cpus,
            )
        elif args.command == "resume":
            from deepfake_arena.launch import resume_run

            resume_run(
                args.run_dir, args.overrides, force=args.force, address=args.address, num_cpus=args.num_cpus
            )
        elif args.command == "status":
            return _status(args.run_dir)
        elif args.command == "plot":
            from deepfake_arena.analysis.plots.core import plot_dir

            for plot in plot_dir(args.run_dir, args.metric):
                print(plot.path if plot.path else f"skipped {plot.name}: {plot.note}")
        elif args.command == "report":
            from deepfake_arena.analysis.report import build_report, default_out

            print(build_report(args.run_dirs, args.out or default_out(args.run_dirs), args.metric))
        elif args.command == "list":
            return _list(args.what)
        elif args.command == "spec":
            return _spec(args)
        elif args.command == "ingest":
            from deepfake_arena.world.ingest.cli import run as run_ingest

            return run_ingest(args)
        elif args.command == "score":
            from deepfake_arena.score import run as run_score

            return run_score(args)
        elif args.command == "effects":
            from deepfake_arena.analysis.effects.cli import run as run_effects

            return run_effects(args)
    except ArenaUserError as exc:
        print(f"arena: error: {exc}", file=sys.stderr)
        return EXIT_USER
    except (RunInterrupted, KeyboardInterrupt) as exc:
        where = exc.run_dir if isinstance(exc, RunInterrupted) and exc.run_dir else "<run_dir>"
        reason = exc.reason if isinstance(exc, RunInterrupted) else "interrupted"
        print(
            f"arena: {reason}; the last committed round is intact. "
            f"Continue with: arena resume {quote(where)}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except OSError as exc:  # a file or folder the command needs is unreadable or in the way
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"arena: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER
    except ValueError as exc:
        if args.command in ("plot", "report"):
            print(f"arena: error: {exc}", file=sys.stderr)
            return EXIT_USER
        raise
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
