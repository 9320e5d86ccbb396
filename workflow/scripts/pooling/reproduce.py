"""Rebuild a fit from its NetCDF attrs alone: the proof that they record everything."""

import json
import tempfile
from pathlib import Path

from .data import load_prepared, prepare, sha256
from .errors import DataError
from .fit import sample
from .fitfile import open_fit


def refit(fit_nc):
    """Refit from the attrs of `fit_nc` (source CSV path and sha256, data columns,
    sampler settings and priors); returns the new InferenceData."""
    attrs = open_fit(fit_nc).attrs
    source = attrs["source_csv"]
    if sha256(source) != attrs["data_sha256"]:
        raise DataError(f"{source}: the file changed since {fit_nc} was fitted (sha256 differs)")
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.csv"
        prepare(source, **json.loads(attrs["data_columns"])).to_csv(prepared, index=False)
        idata, _ = sample(load_prepared(prepared), attrs["strategy"], json.loads(attrs["fit_config"]),
                          json.loads(attrs["storage"]))
    return idata
