"""The group structure of a dataset as the models sample it: its grouping factors,
what varies over each, how their levels nest, and the names of their parameters.

Rows fall into *cells*, the finest groups: one per combination of the labels of every
grouping column (the counties of `(1 | state/county)`, the plate-and-sample pairs of
`(1 | plate) + (1 | sample)`). Every strategy has `theta` over the cells (dim `group`),
each cell's intercept on the link scale, so their estimates line up. A factor whose
levels are the cells (the one factor of `(1 | g)`, the innermost of a nesting) is the
*finest*: its parameters have the plain names (`theta`, `tau`, `slope`, `tau_slope`,
`corr`, `theta_z`); every other factor's carry its name as a suffix (`theta_state`,
`tau_state`, `corr_state`). No JAX here: the compare and figure jobs import it.
"""

from dataclasses import dataclass

import numpy as np

INTERCEPT = "1"
SINGLE = "group"  # the one factor's name where the data have no `level:` columns: (1 | g), `group:`
# parameter roots that exist per grouping factor; longest first, so that a name's root
# is found by prefix ("tau_slope_state" is tau_slope's, not tau's)
FACTOR_ROOTS = ("tau_slope", "theta_z", "theta", "slope", "tau", "corr")


# dimensions every fit has (pooling.fit.DIMS and ArviZ's own)
FIT_DIMS = frozenset({"group", "obs", "predictor", "group_predictor", "varying", "new_level", "chain", "draw"})


@dataclass(frozen=True)
class Factor:
    """One grouping factor of a formula, with its levels mapped onto the cells."""

    name: str  # as formulae names it: "county", "state:county" for (1 | state/county)
    terms: tuple  # "1" for a varying intercept, then varying design columns
    level: np.ndarray  # (cells,) index of each cell's level
    labels: tuple  # level labels; a nested level names its parent, "A:a"
    ancestors: tuple  # indices of the factors it is nested in, outermost first
    finest: bool  # its levels are the cells

    @property
    def suffix(self):
        return "" if self.finest else "_" + self.name

    @property
    def dim(self):
        """The dimension of its levels: `group` for the finest factor, else its name, with
        `_level` after a name the fit already uses as a dimension (a crossed factor
        whose column is called `group` would otherwise clash with the cells' `group`)."""
        if self.finest:
            return "group"
        return f"{self.name}_level" if self.name in FIT_DIMS else self.name

    @property
    def n_levels(self):
        return len(self.labels)

    @property
    def intercept(self):
        return INTERCEPT in self.terms

    @property
    def slopes(self):
        return tuple(t for t in self.terms if t != INTERCEPT)

    def name_of(self, root):
        """This factor's parameter called `root` ("tau" -> "tau_state")."""
        return root + self.suffix

    def ancestor_level(self, ancestor):
        """(levels,) the level of `ancestor` (a Factor it is nested in) of each level."""
        first_cell = np.zeros(self.n_levels, dtype=np.int64)
        first_cell[self.level[::-1]] = np.arange(len(self.level))[::-1]
        return ancestor.level[first_cell]

    def parameters(self):
        """What partial pooling samples for it, besides its standard-normal offsets."""
        names = [self.name_of("tau")] if self.intercept else []
        names += [self.name_of("tau_slope")] if self.slopes else []
        names += [self.name_of("corr")] if len(self.terms) > 1 else []
        return names


def root(name):
    """(root, factor suffix) of a parameter name; ('', '') if it has no factor root."""
    for candidate in FACTOR_ROOTS:
        if name == candidate or name.startswith(candidate + "_"):
            return candidate, name[len(candidate):]
    return "", ""


def dims(factors, slopes):
    """ArviZ dims of every per-factor parameter (fit and prior draws)."""
    out = {"theta": ["group"], "slope": ["group", "varying"]}
    for factor in factors:
        term = f"term{factor.suffix}"
        if not factor.finest:  # the finest factor's are the cells' theta and slope
            out[factor.name_of("theta")] = [factor.dim]
            out[factor.name_of("slope")] = [factor.dim, f"{factor.dim}_varying"]
        out[factor.name_of("tau_slope")] = [f"{factor.dim}_varying"]
        out[factor.name_of("corr")] = [term, f"{term}_"]
        out[factor.name_of("theta_z")] = [factor.dim, term] if len(factor.terms) > 1 else [factor.dim]
    return out


def coords(factors, slopes):
    """ArviZ coords of those dims: real labels, and design column names for terms."""
    out = {"varying": list(slopes)}
    for factor in factors:
        out[factor.dim] = list(factor.labels)
        out[f"{factor.dim}_varying"] = list(factor.slopes)
        out[f"term{factor.suffix}"] = out[f"term{factor.suffix}_"] = list(factor.terms)
    return out


LEVEL_PREFIX = "level:"
SLOPE_PREFIX = "z:"


def level_column(name, terms):
    """The prepared CSV's column of a factor's level labels, naming its varying terms:
    `level:state:county|1+floor`."""
    return f"{LEVEL_PREFIX}{name}|{'+'.join(terms)}"


def read_factors(table, cells):
    """The Factors of a prepared table's `level:` columns, given each row's cell index
    `cells`; () for a table without them (one varying intercept over `group`)."""
    import pandas as pd

    columns = [c for c in table.columns if c.startswith(LEVEL_PREFIX)]
    first = np.unique(cells, return_index=True)[1]
    factors = []
    for column in columns:
        name, _, terms = column[len(LEVEL_PREFIX):].rpartition("|")
        level, labels = pd.factorize(table[column].to_numpy()[first], sort=False)
        factors.append(dict(name=name, terms=tuple(terms.split("+")), level=level.astype(np.int32),
                            labels=tuple(str(label) for label in labels)))
    n_cells = len(first)
    finest = max((k for k, f in enumerate(factors) if len(f["labels"]) == n_cells), default=None)
    parts = {f["name"]: tuple(f["name"].split(":")) for f in factors}
    return tuple(
        Factor(**f, finest=k == finest,
               ancestors=tuple(k for k, other in enumerate(factors)
                               if len(parts[other["name"]]) < len(parts[f["name"]])
                               and parts[f["name"]][:len(parts[other["name"]])] == parts[other["name"]]))
        for k, f in enumerate(factors)
    )


def subset_factors(factors, keep):
    """`factors` on the cells `keep` only, each factor's levels renumbered in order of
    first appearance (the training data of a K-fold refit)."""
    from dataclasses import replace

    out = []
    for factor in factors:
        present, level = np.unique(factor.level[keep], return_inverse=True)
        order = np.argsort(np.unique(level, return_index=True)[1])
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        out.append(replace(factor, level=rank[level].astype(np.int32),
                           labels=tuple(factor.labels[k] for k in present[order])))
    return tuple(out)


def describe(factors):
    """The factors as a fit's `factors` attribute (JSON, with their level labels); their
    level of each cell is stored as constant data `level_<name>` (the finest factor's
    levels are the cells)."""
    import json

    return json.dumps([{"name": f.name, "terms": list(f.terms), "ancestors": list(f.ancestors),
                        "finest": f.finest, "labels": [str(label) for label in f.labels]} for f in factors])


def level_data(factors):
    """{constant data name: each cell's level} of the factors other than the finest."""
    return {f"level{factor.suffix}": factor.level for factor in factors if not factor.finest}


def factors_of(idata):
    """The Factors of a fit, from its `factors` attribute and constant data; one
    varying intercept over `group` for a fit without them."""
    import json

    cells = idata.posterior.sizes["group"]
    described = json.loads(idata.attrs.get("factors", "[]")) or [
        {"name": SINGLE, "terms": [INTERCEPT], "ancestors": [], "finest": True}]
    factors = []
    for entry in described:
        suffix = "" if entry["finest"] else "_" + entry["name"]
        level = np.arange(cells) if entry["finest"] else idata.constant_data[f"level{suffix}"].values
        labels = entry.get("labels") or [str(label) for label in idata.posterior["group"].values]
        factors.append(Factor(name=entry["name"], terms=tuple(entry["terms"]), level=np.asarray(level),
                              labels=tuple(labels), ancestors=tuple(entry["ancestors"]), finest=entry["finest"]))
    return tuple(factors)
