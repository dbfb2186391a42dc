"""Errors that carry a one-line message meant for the user; the CLI prints them without a traceback."""


class SketchlabError(Exception):
    """Base class for every error caused by user input rather than a bug."""


class DataError(SketchlabError):
    """A data file or drawing that cannot be used: missing, corrupt, unsafe or malformed."""


class CheckpointError(SketchlabError):
    """A model or checkpoint directory that cannot be loaded."""


class ConfigError(SketchlabError, ValueError):
    """An absurd setting: a ValueError for the Python API, a one-line SketchlabError for the CLI."""


class OutputError(SketchlabError):
    """A file that cannot be written where it was asked for: a folder in the way, no permission, no space."""
