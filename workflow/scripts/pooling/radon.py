"""The Minnesota radon table (Gelman & Hill 2007; the PyMC multilevel primer), built from
the EPA survey files so that the data a fit reads can be traced to their public source."""

import logging

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


def build(srrs2_path, cty_path):
    """The PyMC primer's recipe: Minnesota homes, their county's uranium (Uppm), logs
    of both, and county_code 0..84 in order of appearance. Rows keep the file's order."""
    homes = pd.read_csv(srrs2_path)
    homes.columns = homes.columns.str.strip()  # the header is padded like the fields
    table = homes[homes["state"] == "MN"].copy()
    table["fips"] = table["stfips"] * 1000 + table["cntyfips"]
    counties = pd.read_csv(cty_path)
    counties = counties[counties["st"] == "MN"]
    uranium = pd.DataFrame({
        "fips": counties["stfips"] * 1000 + counties["ctfips"],
        "Uppm": counties["Uppm"],
    }).drop_duplicates("fips")  # two counties are listed twice (same Uppm): no doubled homes
    table = table.merge(uranium, on="fips")
    table["county"] = table["county"].str.strip()
    table["county_code"] = pd.factorize(table["county"])[0]
    table["log_radon"] = np.log(table["activity"] + 0.1)
    table["log_uppm"] = np.log(table["Uppm"])
    log.info("%d homes in %d counties", len(table), table["county_code"].nunique())
    return table
