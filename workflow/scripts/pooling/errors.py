"""Errors a user can fix: their message is the whole story, so no traceback is shown."""


class PoolingError(Exception):
    """A problem with the user's config or data, with a one-line message saying what to do."""


class DataError(PoolingError):
    """The input CSV cannot be used as configured."""


class PriorError(PoolingError):
    """A prior string cannot be parsed or does not fit its parameter."""


class DownloadError(PoolingError):
    """A source file cannot be fetched, or is not the file its pinned sha256 names."""
