"""Errors the CLI turns into exit codes: a user error is a one-line reason and exit 1."""


class ArenaUserError(Exception):
    """Something the user can fix (a bad spec, a missing run directory, a held lock)."""


class SpecError(ArenaUserError):
    """A run spec that does not validate; the message names the key and the valid choices."""


class RunInterrupted(Exception):
    """The driver stopped early (a signal, a full disk); the run resumes from its last committed round."""

    def __init__(self, run_dir: str = "", reason: str = "interrupted") -> None:
        super().__init__(run_dir, reason)
        self.run_dir = run_dir
        self.reason = reason
