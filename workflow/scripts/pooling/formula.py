"""A dataset described by a model formula in the lme4 / bambi syntax, parsed by
`formulae` (bambi's parser), into the prepared table every fit reads.

What the workflow takes from a formula: the response (or `p(successes, trials)`), an
intercept, common terms (numeric columns, categorical columns coded against their
first level, interactions, `C(x)`), an `offset(...)`, and group terms: every structure
formulae parses (varying slopes, nested and crossed factors) is read into factors and
their varying terms (`GroupTerm`) and checked against the data (pooling.structure);
pooling.hierarchy is how the models read them.
Only the common terms go through formulae's design matrices: the group becomes an
integer index per row, never the dense rows x groups matrix formulae would build
(bambi #545, formulae #75). A common design column constant within every group is a
group-level predictor (a `u:` column): no pooling leaves it out, as it is collinear
with the free group intercepts.
"""

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import DataError

NAMESPACE = {"log": np.log, "exp": np.exp, "sqrt": np.sqrt, "log1p": np.log1p}


@dataclass(frozen=True)
class GroupTerm:
    """One grouping factor and what varies over it, as formulae expands the formula:
    `(1 + x | g)` is factor ("g",) with terms ("1", "x"); `(1 | a/b)` is two factors,
    ("a",) and ("a", "b"), the second nested in the first (a `b` label is a different
    group under each `a`)."""

    factor: tuple  # the factor's columns, outermost first
    terms: tuple  # "1" for a varying intercept, else the varying common term's name

    @property
    def name(self):
        return ":".join(self.factor)

    @property
    def slopes(self):
        return tuple(t for t in self.terms if t != "1")

    def __str__(self):
        return f"({' + '.join(self.terms)} | {self.name})"


@dataclass(frozen=True)
class ModelFormula:
    """A parsed formula: which columns play which part."""

    text: str
    response: str  # the response column (successes, for p(successes, trials))
    trials: str | None  # the trials column of p(successes, trials)
    terms: tuple  # formulae's names of the common terms, Intercept and offset aside
    offset: str | None  # the offset term as written, e.g. "offset(log(hours))"
    groups: tuple  # GroupTerm per grouping factor, in the order formulae expands them
    variables: tuple  # every column the formula names, in the order written
    categorical: frozenset  # columns named inside C(...)

    @property
    def group(self):
        """The first grouping column; None without group terms."""
        return self.groups[0].factor[0] if self.groups else None

    @property
    def grouping_columns(self):
        return tuple(dict.fromkeys(c for g in self.groups for c in g.factor))

    @property
    def rhs(self):
        """The common part of the right-hand side, as formulae reads it."""
        return " + ".join(("1", *self.terms, *([self.offset] if self.offset else [])))


def _fail(where, text, reason):
    raise DataError(f"{where}: formula {text!r} {reason}")


def parse(text, where="formula"):
    """Parse `text` with formulae; every formula the workflow cannot fit is a one-line
    error naming `where` (the config key) and what to write instead."""
    import formulae
    from formulae.terms.terms import GroupSpecificTerm, Intercept

    if not isinstance(text, str) or "~" not in text:
        _fail(where, text, "needs a response, '~' and terms, e.g. 'y ~ 1 + x + (1 | group)'")
    try:
        description = formulae.model_description(text)
    except Exception as error:  # formulae's ScanError and ParseError, and a few others
        message = str(error).strip() or type(error).__name__
        _fail(where, text, f"does not parse: {message}")
    if description.response is None:
        _fail(where, text, "has no response on the left of '~'")
    group_terms = [t for t in description.terms if isinstance(t, GroupSpecificTerm)]
    if not any(isinstance(t, Intercept) for t in description.terms):
        _fail(where, text, "has no intercept: the pooling strategies compare group intercepts, "
                           "so keep the '1' (drop the '0 +' or '- 1')")
    if not group_terms and re.search(r"\|", text):
        _fail(where, text, "has a '|' outside a group term: write the group term in "
                           "parentheses, e.g. (1 | group)")
    response_term = description.response.term
    response_vars = _ordered(response_term.var_names, text)
    trials = None
    if response_term.name.startswith("p("):
        if len(response_vars) != 2:
            _fail(where, text, "needs p(successes, trials) with two columns")
        response, trials = response_vars
    elif len(response_vars) != 1 or response_term.name != response_vars[0]:
        _fail(where, text, f"transforms its response {response_term.name!r}: write a column "
                           "name, or p(successes, trials) for binomial data")
    else:
        response = response_vars[0]
    common = [t for t in description.terms if not isinstance(t, (GroupSpecificTerm, Intercept))]
    offsets = [t.name for t in common if t.name.startswith("offset(")]
    if len(offsets) > 1:
        _fail(where, text, "has more than one offset(...): combine them into one")
    categorical = {v for t in common for c in t.components
                   if getattr(c, "name", "").startswith("C(") for v in c.var_names}
    formula = ModelFormula(
        text=text, response=response, trials=trials,
        terms=tuple(t.name for t in common if not t.name.startswith("offset(")),
        offset=offsets[0] if offsets else None, groups=_group_terms(group_terms),
        variables=tuple(_ordered(description.var_names, text)),
        categorical=frozenset(categorical),
    )
    return formula


def _group_terms(terms):
    """formulae's group-specific terms ("1|g", "x|g", "1|a:b") gathered per factor, in
    the order formulae expands them (a nested factor after its parent); a factor's
    columns keep their nesting order, outermost first."""
    factors = {}
    for term in terms:
        factors.setdefault(term.factor.name, []).append(
            "1" if term.expr.name == "Intercept" else term.expr.name)
    return tuple(GroupTerm(factor=tuple(name.split(":")), terms=tuple(parts)) for name, parts in factors.items())


def structured(formula):
    """True where the group terms go beyond one varying intercept `(1 | g)`: the
    prepared table then names every factor's levels and varying terms."""
    return len(formula.groups) > 1 or any(g.terms != ("1",) for g in formula.groups)


def _ordered(names, text):
    """Column names in the order the formula writes them (formulae gives a set)."""
    return sorted(names, key=lambda name: (text.find(name), name))


def shorthand(response, group=None, predictors=(), group_predictors=()):
    """The formula a dataset's shorthand keys stand for (known `se` aside, which no
    formula syntax has: it is documented beside the formula)."""
    terms = " + ".join(("1", *predictors, *group_predictors, *([f"(1 | {group})"] if group else [])))
    return f"{response} ~ {terms}"


def slope_matrix(formula, frame):
    """formulae's design matrix of the varying slopes' terms over `frame`; None
    without varying slopes. Its `evaluate_new_data` codes held-out rows alike."""
    import formulae

    slopes = tuple(dict.fromkeys(term for group in formula.groups for term in group.slopes))
    if not slopes:
        return None
    return formulae.design_matrices(" + ".join(("1", *slopes)), frame, na_action="error",
                                    extra_namespace=NAMESPACE).common


def slope_columns(common):
    """{varying slope term: {design column: values per row}} of a slope_matrix (a
    categorical slope has a column per level but the first); {} for None."""
    if common is None:
        return {}
    values = np.asarray(common.design_matrix, dtype=float)
    return {term: {label: values[:, span][:, k] for k, label in enumerate(common.terms[term].labels)}
            for term, span in common.slices.items() if term != "Intercept"}


def slope_design(formula, frame):
    """{varying slope term: {design column: values per row}} of `frame`, from formulae."""
    return slope_columns(slope_matrix(formula, frame))


def common_matrix(formula, frame):
    """formulae's design matrix of the common terms and offset over `frame` (columns
    already typed); None for an intercept alone. Its `evaluate_new_data` codes held-out
    rows with these rows' categorical levels."""
    import formulae

    if formula.rhs == "1":
        return None
    with np.errstate(all="ignore"):  # a non-positive exposure is reported below, with its line
        return formulae.design_matrices(formula.rhs, frame, na_action="error",
                                        extra_namespace=NAMESPACE).common


def design(formula, frame):
    """The common design of `frame` (columns already typed): the named columns of the
    formula's common terms (Intercept dropped) and the offset, both from formulae."""
    return design_columns(formula, common_matrix(formula, frame), frame.index)


def design_columns(formula, common, index):
    """(named columns, offset) of a common_matrix (or of its evaluate_new_data) over
    rows `index`."""
    if common is None:
        return pd.DataFrame(index=index), None
    values = np.asarray(common.design_matrix, dtype=float)
    columns, offset = {}, None
    for term_name, span in common.slices.items():
        term = common.terms[term_name]
        if term_name == "Intercept":
            continue
        if term_name == formula.offset:
            offset = values[:, span].ravel()
            continue
        for k, label in enumerate(term.labels):
            columns[label] = values[:, span][:, k]
    return pd.DataFrame(columns, index=index), offset


EXPOSURE = re.compile(r"^offset\(\s*log\(\s*([^()]+?)\s*\)\s*\)$")


def _typed(table, name, categorical):
    """A column the common terms use: numbers when every cell is one (or missing, which
    is an error then), else text labels, i.e. a categorical column coded against its
    first level. Inside C(...) a column of whole numbers stays numbers, so its levels
    sort as numbers."""
    from .data import MISSING, _numeric

    text = table.column(name).str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    present = ~text.str.lower().isin(MISSING)
    numeric = numbers.notna() | ~present
    if numeric.all() and numbers.notna().any():
        values = _numeric(table, name, "formula")
        if name in categorical and np.all(values == np.round(values)):
            return values.astype(np.int64)
        return values
    if numeric.mean() >= 0.5 and name not in categorical:
        row = int(np.flatnonzero(~numeric.to_numpy())[0])
        raise DataError(
            f"{table.path}: column {name!r} (config `formula`) is mostly numbers but has "
            f"{int((~numeric).sum())} non-numeric value(s), first {text.iloc[row]!r} on line "
            f"{table.line(row, name)}; fix them, or write C({name}) to treat the column as categorical"
        )
    empty = (text == "").to_numpy()
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise DataError(
            f"{table.path}: categorical column {name!r} (config `formula`) has {int(empty.sum())} "
            f"empty value(s), first on line {table.line(row, name)}; drop those rows or give a level"
        )
    return text.to_numpy()


def predictor_columns(formula):
    """The columns the common terms and varying slopes use: every column the formula
    names but the response, the trials and the grouping columns."""
    return [v for v in formula.variables
            if v not in (formula.response, formula.trials, *formula.grouping_columns)]


def typed_frame(table, formula):
    """The predictor columns of `table`, each typed as _typed reads it, for formulae."""
    return pd.DataFrame({name: _typed(table, name, formula.categorical) for name in predictor_columns(formula)},
                        index=range(len(table)))


def _check_offset(table, formula, offset):
    bad = ~np.isfinite(offset)
    if not bad.any():
        return
    row = int(np.flatnonzero(bad)[0])
    exposure = EXPOSURE.match(formula.offset)
    if exposure and exposure.group(1) in table.columns:
        column = exposure.group(1)
        raise DataError(
            f"{table.path}: column {column!r} (the exposure in {formula.offset}) must be positive "
            f"and finite, found {table.column(column).iloc[row].strip()!r} on line "
            f"{table.line(row, column)} ({int(bad.sum())} such row(s)); drop those rows"
        )
    raise DataError(
        f"{table.path}: {formula.offset} is not finite on line {table.line(row, table.columns[0])} "
        f"({int(bad.sum())} such row(s)); an offset must be a finite number in every row"
    )


def prepare_formula(table, text, family, se=None):
    """The prepared table (pooling.data's format) of a dataset described by a formula:
    `group`, `y`, `trials` (binomial), `offset`, `se`, `x:<design column>` and
    `u:<design column>` for columns constant within every group."""
    from . import structure
    from .data import GROUP_PREDICTOR_PREFIX, PREDICTOR_PREFIX, _numeric, finish, known_se, response_values
    from .hierarchy import SLOPE_PREFIX, level_column

    formula = parse(text)
    missing = [name for name in formula.variables if name not in table.columns]
    if missing:
        raise DataError(
            f"{table.path}: column {missing[0]!r} (named in formula {text!r}) not found; the file "
            f"has columns {', '.join(map(repr, table.columns))}"
        )
    if formula.trials is None and family.response == "proportion":
        raise DataError(f"{table.path}: family binomial needs its trials: write the response as "
                        f"p(successes, trials) in formula {text!r}")
    if formula.trials is not None and family.response != "proportion":
        raise DataError(f"{table.path}: formula {text!r} has a p(successes, trials) response, "
                        f"which is binomial's: set family: binomial (family is {family.name!r})")
    if se and family.name != "gaussian":
        raise DataError(f"{table.path}: `se` (known standard errors) is a gaussian-only key; "
                        f"remove it or set family: gaussian (family is {family.name!r})")
    prepared = pd.DataFrame(index=range(len(table)))
    prepared["group"] = (structure.factor_labels(table, formula.grouping_columns) if formula.groups
                         else [str(i + 1) for i in range(len(table))])
    if formula.trials is not None:
        trials = _numeric(table, formula.trials, "formula")
        y = _numeric(table, formula.response, "formula")
        from . import responses

        responses.check(table, family, formula.response, y, formula.trials, trials)
        prepared["y"], prepared["trials"] = y, trials
    else:
        prepared["y"] = response_values(table, family, formula.response, "formula")
    frame = typed_frame(table, formula)
    slopes = slope_design(formula, frame)
    structure.check(table, formula, slopes)
    if structured(formula):
        for group in formula.groups:
            terms = [t for term in group.terms for t in ([term] if term == "1" else slopes[term])]
            prepared[level_column(group.name, terms)] = structure.factor_labels(table, group.factor)
        for columns_of_term in slopes.values():
            for name, values in columns_of_term.items():
                prepared[SLOPE_PREFIX + name] = values
    columns, offset = design(formula, frame)
    if offset is not None:
        _check_offset(table, formula, offset)
        prepared["offset"] = offset
    if se:
        prepared["se"] = known_se(table, se)
    for name, values in columns.items():
        values = values.to_numpy()
        if np.ptp(values) == 0:
            raise DataError(
                f"{table.path}: design column {name!r} of formula {text!r} has the same value "
                f"{values[0]:g} in every row, so its coefficient cannot be estimated; drop the term"
            )
        constant = formula.group and (
            pd.Series(values).groupby(prepared["group"].to_numpy()).nunique() == 1).all()
        prepared[(GROUP_PREDICTOR_PREFIX if constant else PREDICTOR_PREFIX) + name] = values
    return finish(table, prepared, bool(formula.group))
