"""One exception family, so stage scripts can turn any expected failure into a one-line message."""


class ReslabError(Exception):
    """An expected failure (bad params, bad data, bad checkpoint): shown to the user as one line."""


class ConfigError(ReslabError):
    """A params.yaml problem; the message names the key and the offending value."""


class DataError(ReslabError):
    """A dataset problem; the message names the file (and entry) at fault."""


class CheckpointError(ReslabError):
    """A checkpoint that is missing, unreadable or does not fit the model asked for."""
