"""Typed errors. Every error names the input it is about, so a batch can report which item failed."""
from __future__ import annotations


class ReamoError(Exception):
    """Base class of every error Reamo raises on purpose."""


class ConfigError(ReamoError, ValueError):
    """A configuration key or value is wrong. `key` is the dotted path of the bad key."""

    def __init__(self, key: str, value: object, problem: str, source: str | None = None):
        self.key, self.value, self.problem, self.source = key, value, problem, source
        where = f" in {source}" if source else ""
        super().__init__(f"config{where}: {key}={value!r}: {problem}")


class MediaError(ReamoError, ValueError):
    """A media input could not be used. `input` names it (a path, or a description such as 'image[2]')."""

    def __init__(self, input: object, problem: str):
        self.input, self.problem = str(input), problem
        super().__init__(f"{self.input}: {problem}")


class MediaNotFoundError(MediaError, FileNotFoundError):
    """A media path does not exist (or is a directory)."""


class MediaDecodeError(MediaError):
    """A media file exists but cannot be decoded (corrupt, truncated, wrong format, empty)."""


class UnsupportedModalityError(ReamoError, ValueError):
    """The input holds a modality the model's config does not provide."""

    def __init__(self, modality: str, available: tuple[str, ...] | list[str], input: object = None):
        self.modality, self.available, self.input = modality, tuple(available), input
        who = f"{input}: " if input is not None else ""
        super().__init__(f"{who}modality {modality!r} is not supported by this model (has {', '.join(self.available) or 'none'})")


class InputError(ReamoError, ValueError):
    """An extraction request is malformed (empty input, unknown task, bad schema...)."""

    def __init__(self, input: object, problem: str):
        self.input, self.problem = str(input), problem
        super().__init__(f"{self.input}: {problem}")


class CheckpointError(ReamoError, ValueError):
    """A checkpoint is missing, incomplete, incompatible or unsafe (pickled payloads are refused)."""

    def __init__(self, path: object, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{self.path}: {problem}")


class RecordError(ReamoError, ValueError):
    """A JSONL record is malformed. `source` and `line` locate it."""

    def __init__(self, source: object, line: int | None, problem: str):
        self.source, self.line, self.problem = str(source), line, problem
        loc = f"{self.source}:{line}" if line is not None else self.source
        super().__init__(f"{loc}: {problem}")


class ExportError(ReamoError, ValueError):
    """A result cannot be written in an export format. `item` names the result (its id) or the output."""

    def __init__(self, item: object, problem: str):
        self.item, self.problem = str(item), problem
        super().__init__(f"{self.item}: {problem}")
