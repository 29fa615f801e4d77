"""The errors `mas` raises on purpose, each carrying the exit code the CLI maps it to.

    MasError                 exit 1, the base: anything we raise knowingly
    ├── SpecError            exit 2, a crew file that cannot be loaded (every located problem)
    ├── UsageError           exit 2, bad arguments or inputs given on the command line
    ├── ProviderError        exit 1, a model provider failed in a way retries do not fix
    ├── ToolError            exit 1, a tool could not be loaded or run
    ├── LogFormatError       exit 2, a log or state file that cannot be read at all
    ├── StateConflict        exit 1, a shared-state write against a newer version
    └── ExportError          exit 1, an OTLP endpoint did not take the spans (`mas export`)

A limit stop is not an error: the engine returns it as an outcome and the CLI exits 3.
Every message says what went wrong and how to fix it; none ever holds a secret.
"""

from __future__ import annotations

from msgspec import Struct


class MasError(Exception):
    """Base of every error `mas` raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class Problem(Struct, frozen=True):
    """One located problem in a file: `file:line:col: path: message (hint)`."""

    file: str
    line: int
    col: int
    path: str
    message: str
    hint: str | None = None
    code: str = ""  # a warning's rule, e.g. lost-update; empty for errors

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        what = f"{self.path}: {self.message}" if self.path else self.message
        return f"{where}: {what} ({self.hint})" if self.hint else f"{where}: {what}"


class SpecError(MasError):
    """A crew file with one or more problems; all of them are carried, in file order."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.col))
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(MasError):
    """Bad arguments or inputs on the command line."""

    exit_code = 2


class ProviderError(MasError):
    """A model provider failed in a way retries do not fix."""


class ToolError(MasError):
    """A tool could not be loaded or run."""


class LogFormatError(MasError):
    """A log or state file that cannot be read at all."""

    exit_code = 2


class StateConflict(MasError):
    """A shared-state write made against a version that is no longer current."""


class ExportError(MasError):
    """An OTLP endpoint did not take the spans `mas export` sent."""
