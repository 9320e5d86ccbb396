"""pooling.idata: InferenceData groups and files built with xarray alone are those
ArviZ 0.23 builds (az.from_dict, InferenceData.to_netcdf), and a fit job that uses
them never imports ArviZ or matplotlib."""

import json

import arviz as az
import numpy as np
import xarray as xr

from pooling import idata
from pooling.data import prepare

from conftest import ROOT
from helpers import fit_job_in_a_new_process

RNG = np.random.default_rng(1)
COORDS = {"group": ["a", "b", "c"], "predictor": ["floor"]}
DIMS = {"theta": ["group"], "beta": ["predictor"], "X": ["obs", "predictor"]}
DRAWS = {"mu": RNG.normal(size=(2, 5)), "theta": RNG.normal(size=(2, 5, 3)), "beta": RNG.normal(size=(2, 5, 1)),
         "L": RNG.normal(size=(2, 5, 2, 2)), "n": RNG.integers(0, 9, size=(2, 5))}
DATA = {"X": RNG.normal(size=(4, 1)), "group_size": np.array([1, 2, 1]), "s": np.array(2.5)}
LIBRARY = {"inference_library": "numpyro", "inference_library_version": "0.22.0"}


def unstamped(dataset):
    """The dataset without its creation time, which differs between any two builds."""
    return dataset.assign_attrs(created_at="")


def test_groups_are_those_of_az_from_dict():
    ours = {"posterior": idata.group(DRAWS, COORDS, DIMS, LIBRARY),
            "constant_data": idata.group(DATA, COORDS, DIMS, sampled=False)}
    theirs = az.from_dict(posterior=DRAWS, constant_data=DATA, coords=COORDS, dims=DIMS, posterior_attrs=LIBRARY)
    for name, dataset in ours.items():
        xr.testing.assert_identical(unstamped(dataset), unstamped(theirs[name]))
        assert list(dataset.attrs)[:2] == ["created_at", "arviz_version"]
    assert ours["posterior"]["L"].dims == ("chain", "draw", "L_dim_0", "L_dim_1")


def test_files_read_back_as_those_inference_data_writes(tmp_path):
    groups = {"posterior": idata.group(DRAWS, COORDS, DIMS, LIBRARY),
              "observed_data": idata.group({"y": np.arange(4.0)}, sampled=False)}
    attrs = {"dataset": "toy", "factors": json.dumps([{"name": "g"}])}
    idata.write(groups, attrs, tmp_path / "ours.nc")
    idata.as_inference_data(groups, attrs).to_netcdf(tmp_path / "theirs.nc")
    ours, theirs = (az.from_netcdf(tmp_path / f"{name}.nc") for name in ("ours", "theirs"))
    assert ours.groups() == theirs.groups() and ours.attrs == theirs.attrs == attrs
    for name in ours.groups():
        xr.testing.assert_identical(ours[name], theirs[name])
        for var in ours[name].variables:  # ArviZ's compression, but floats stored raw
            compressed = ours[name][var].dtype.kind != "f" and theirs[name][var].encoding.get("zlib", False)
            assert ours[name][var].encoding.get("zlib", False) == compressed, (name, var)
    assert not ours.posterior["theta"].encoding["zlib"] and theirs.posterior["theta"].encoding["zlib"]


def test_a_fit_job_never_imports_arviz_or_matplotlib(tmp_path):
    out, prepared = tmp_path / "fit.nc", tmp_path / "prepared.csv"
    prepare(str(ROOT / "resources" / "eight_schools.csv"), "y", group="school", se="se").to_csv(prepared, index=False)
    assert fit_job_in_a_new_process(prepared, out)["modules"] == []
    fit = az.from_netcdf(out)
    assert set(fit.groups()) >= {"posterior", "sample_stats", "log_likelihood", "predictions"}
    assert fit.posterior["theta"].dims == ("chain", "draw", "group") and fit.posterior.sizes["draw"] == 30
    assert fit.posterior.attrs["inference_library"] == "numpyro"
