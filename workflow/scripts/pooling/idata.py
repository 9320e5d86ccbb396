"""InferenceData groups laid out as ArviZ 0.23 lays them out, built and written with
xarray alone.

A fit job writes one NetCDF and reads none. Importing ArviZ to write it costs ~1.1 s
of a warm fit job (~5 s): `import arviz` always imports its plotting and statistics
modules, and with them matplotlib and scipy.stats. So a fit job builds the groups
here, in ArviZ's layout (tested equal to az.from_dict followed by
InferenceData.to_netcdf): draws over (chain, draw); a variable's dims named by
`dims`, else `<name>_dim_<k>`; every dim indexed by its `coords`, else 0, 1, ...;
each group's attrs `created_at` and `arviz_version` before its own; the
InferenceData's attrs in the file's root group; zlib on numeric variables. Anything
that reads fits goes through ArviZ as usual (`as_inference_data`, az.from_netcdf).
"""

import datetime
from importlib.metadata import version

import numpy as np
import xarray as xr

SAMPLE_DIMS = ("chain", "draw")
# zlib for integer, boolean and text arrays, as ArviZ does; not for floating point, which
# ArviZ also compresses: draws' random mantissas shrink by ~20% at ~30 MB/s (a fit of
# 20,000 rows, whose pointwise arrays are 717 MB: 23 s to write, 3 s uncompressed)
COMPRESSED_KINDS = set("biuS")


def group(variables, coords=None, dims=None, attrs=None, sampled=True):
    """One group: `variables` {name: array}, with leading (chain, draw) axes where
    `sampled` (posterior, predictive, sample stats, log-likelihood), none for data."""
    coords, dims = coords or {}, dims or {}
    arrays = {}
    lead = SAMPLE_DIMS if sampled else ()
    for name, values in variables.items():
        values = np.asarray(values) if sampled else np.atleast_1d(values)  # ArviZ keeps no 0-d data
        event = list(dims.get(name, []))
        event += [f"{name}_dim_{k}" for k in range(len(event), values.ndim - len(lead))]
        names = [*lead, *event]
        arrays[name] = xr.DataArray(values, dims=names, coords={
            dim: np.asarray(coords[dim]) if dim in coords else np.arange(size)
            for dim, size in zip(names, values.shape)})
    stamp = {"created_at": datetime.datetime.now(datetime.UTC).isoformat(),
             "arviz_version": version("arviz")}
    return xr.Dataset(arrays, attrs={**stamp, **(attrs or {})})


def write(groups, attrs, path):
    """A NetCDF that az.from_netcdf reads as InferenceData(attrs=attrs, **groups)."""
    mode = "w"
    if attrs:
        xr.Dataset(attrs=attrs).to_netcdf(path, mode=mode, group="/")
        mode = "a"
    for name, dataset in groups.items():
        encoding = {var: {"zlib": True} for var, values in dataset.variables.items()
                    if values.dtype.kind in COMPRESSED_KINDS}
        dataset.to_netcdf(path, mode=mode, group=f"/{name}", encoding=encoding)
        mode = "a"


def as_inference_data(groups, attrs):
    """The groups as az.InferenceData (imports ArviZ)."""
    import arviz as az

    return az.InferenceData(attrs=attrs, **groups)
