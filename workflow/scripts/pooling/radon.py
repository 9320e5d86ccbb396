"""The radon tables, built from the EPA survey files so that the data a fit reads can be
traced to their public source: Minnesota (Gelman & Hill 2007; the PyMC multilevel
primer) and every state of the survey, counties in states."""

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


FLOOR_UNKNOWN = 9  # the survey's code for a measurement whose floor was not recorded


def build_states(srrs2_path, cty_path):
    """Every home of the survey with a recorded floor and county: its state (`state2`: the Region 5
    homes are in Michigan, Minnesota and Wisconsin), county (state:county labels come
    from the formula's nesting), `floor` 0 for the basement and 1 for any floor above,
    log_radon as in Minnesota's table, and the county's uranium where the county file
    has it (empty otherwise). Rows keep the file's order."""
    homes = pd.read_csv(srrs2_path)
    homes.columns = homes.columns.str.strip()
    unknown = homes["floor"] == FLOOR_UNKNOWN
    nowhere = homes["county"].str.strip() == ""
    log.info("%d homes without a recorded floor and %d without a county left out",
             int(unknown.sum()), int((nowhere & ~unknown).sum()))
    table = homes[~unknown & ~nowhere].copy()
    table["state"] = table["state2"].str.strip()
    table["county"] = table["county"].str.strip()
    table["floor"] = (table["floor"] > 0).astype(int)
    table["fips"] = table["stfips"] * 1000 + table["cntyfips"]
    counties = pd.read_csv(cty_path)
    uranium = pd.DataFrame({"fips": counties["stfips"] * 1000 + counties["ctfips"],
                            "Uppm": counties["Uppm"]}).drop_duplicates("fips")
    table = table.merge(uranium, on="fips", how="left")
    table["log_radon"] = np.log(table["activity"] + 0.1)
    log.info("%d homes in %d counties of %d states", len(table),
             table.groupby(["state", "county"]).ngroups, table["state"].nunique())
    return table[["state", "county", "fips", "floor", "activity", "log_radon", "Uppm"]]


def split(table, seed, share, counties):
    """(training, test) rows of the Minnesota table, as Gelman (2006) cross-validates its
    pooling: `counties` whole counties drawn at random are new groups to every fit, and of
    every other county with two homes or more a `share` of its homes (at least one, never
    all) are new homes in a county the fits know. Deterministic for `seed`; rows keep the
    table's order."""
    rng = np.random.default_rng(seed)
    names = pd.unique(table["county"])
    held = set(rng.choice(names, counties, replace=False))
    test = table["county"].isin(held).to_numpy().copy()
    for name in names:
        rows = np.flatnonzero((table["county"] == name).to_numpy())
        if name in held or len(rows) < 2:
            continue
        test[rng.choice(rows, min(len(rows) - 1, max(1, round(share * len(rows)))), replace=False)] = True
    log.info("test: %d homes (%d in %d whole counties); training: %d homes in %d counties", int(test.sum()),
             int(table["county"].isin(held).sum()), counties, int((~test).sum()), table.loc[~test, "county"].nunique())
    return table[~test], table[test]


def split_csv(path, training_out, test_out, seed, share, counties):
    """The split_radon job: split the table at `path` and write both parts as it is
    written (its index, the primer's unnamed first column, kept)."""
    training, test = split(pd.read_csv(path, index_col=0), seed, share, counties)
    training.to_csv(training_out)
    test.to_csv(test_out)
