"""A fit's NetCDF file on disk, for the jobs that read it and for the check before any
job starts: a damaged file (a disk that filled up, a copy cut short) is named in one
line with what to do, instead of failing every job that reads it, each of which
Snakemake would then clean up, finished outputs included."""

from .errors import PoolingError


class DamagedResult(PoolingError):
    """A result file exists but cannot be read."""


def _damaged(path, error):
    reason = getattr(error, "strerror", None) or (str(error).strip().splitlines() or [type(error).__name__])[-1]
    return DamagedResult(
        f"{path}: damaged or incomplete ({reason}); delete it and run snakemake again: "
        f"that fit and what depends on it are redone, nothing else")


def check(path):
    """Raise DamagedResult unless `path` opens as NetCDF (HDF5 compares the size its
    header records with the file's, so a truncated file fails here; cheap: nothing
    is read but the header)."""
    import netCDF4

    try:
        netCDF4.Dataset(path).close()
    except OSError as error:
        raise _damaged(path, error) from None


def open_fit(path):
    """The InferenceData of a fit, or DamagedResult naming the file."""
    import arviz as az

    try:
        return az.from_netcdf(path)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise _damaged(path, error) from None
