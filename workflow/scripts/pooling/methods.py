"""The methods section of a paper, written from what was actually run: every sentence
is read from the fits' NetCDF attrs (formula, family, priors and their sources, sampler
settings, package versions) and from the diagnostics and comparison tables, never from
the config, so the text cannot describe a run that did not happen.

The text is built once as paragraphs of segments (plain text, `Code`, `Cite`) and
rendered twice: Markdown with author-year citations, LaTeX with natbib's \\citep.
"""

import json
from dataclasses import dataclass

from . import families, strategies
from .bibliography import REFERENCES
from .diagnostics import EBFMI_MIN, ESS_MIN, RHAT_MAX
from .formula import parse
from .priors import DEFAULT_LKJ, root_of
from .tables import error_text, latex_escape, round_to_error, significant

NAMED = 5  # parameters a failed-gate sentence names before "and N more"
LINK_SCALE = {"identity": "on the scale of the response", "logit": "on the link scale, log-odds",
              "log": "on the link scale, log rate"}
POOLED_MEAN = {"identity": "mean(y)", "logit": "logit(pooled share of successes)",
               "log": "log(pooled rate per unit of exposure)"}
# the default prior of each parameter (pooling.priors.default_priors), with {center}
# the pooled mean on the link scale, {s} the response's sd where the link is the identity
# (" sd(y)"; logit and log links take the scale as 1) and {x} the coefficient's column
DEFAULT_RULES = {
    "mu": "normal({center}, 2.5{s})", "theta": "normal({center}, 2.5{s})",
    "tau": "exponential(1{per_s})", "sigma": "exponential(1{per_s})",
    "beta": "normal(0, 2.5{s} / sd({x}))", "slope": "normal(0, 2.5{s} / sd({x}))",
    "gamma": "normal(0, 2.5{s} / sd({x}) over groups)", "tau_slope": "exponential(sd({x}){per_s})",
    "corr": f"lkj({DEFAULT_LKJ:g})", "nu": "gamma(2, 0.1)", "alpha": "halfcauchy(1)",
}
SOFTWARE = {"python": "Python", "jax": "JAX", "jaxlib": "jaxlib", "numpyro": "NumPyro", "arviz": "ArviZ",
            "numpy": "NumPy", "xarray": "xarray", "pandas": "pandas"}
GATE_COUNT = 6


@dataclass(frozen=True)
class Code:
    """A formula, a parameter name or a prior: `code` in Markdown, \\texttt in LaTeX."""

    text: str


@dataclass(frozen=True)
class Cite:
    """Citations of REFERENCES keys, placed after the phrase they support."""

    keys: tuple


@dataclass(frozen=True)
class FitRecord:
    """What the text needs of one fit: its NetCDF attrs and its size."""

    attrs: dict
    rows: int
    groups: int

    @classmethod
    def of(cls, idata):
        return cls(dict(idata.attrs), int(idata.observed_data.sizes["obs"]),
                   int(idata.posterior.sizes["group"]))

    def loads(self, key, default=None):
        """A JSON attr, decoded (`default` where the fit predates it)."""
        return json.loads(self.attrs[key]) if key in self.attrs else default

    @property
    def family(self):
        return families.named(self.attrs.get("family", "gaussian"))


def _label(strategy):
    return strategies.named(strategy).label


def _and(words):
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _plural(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"


def default_rule(name, link):
    """The rule that made the default prior of parameter `name` (beta[Days]) under `link`."""
    base, _, column = name.partition("[")
    identity = link == "identity"
    return DEFAULT_RULES[root_of(base)].format(
        center=POOLED_MEAN[link], s=" sd(y)" if identity else "", per_s=" / sd(y)" if identity else "",
        x=column.rstrip("]") or "x")


def data_paragraph(dataset, records):
    """The data, the formula and family, and what each strategy fitted of it."""
    first = next(iter(records.values()))
    formula, family = first.attrs["formula"], first.family
    parsed = parse(formula)
    grouping = (f"{first.rows} rows in {first.groups} groups" if parsed.groups
                else f"{first.rows} rows, each its own group")
    factors = first.loads("factors", [])
    if len(factors) > 1:
        grouping += "; grouping factors " + _and(f"{f['name']} ({_plural(len(f['labels']), 'level')})"
                                                 for f in factors)
    known_se = first.loads("data_columns", {}).get("se")
    se = (["with known standard errors (column ", Code(known_se), ") in place of a residual standard deviation"]
          if known_se else [])
    segments = [f"The {dataset} data ({grouping}) were modelled with the formula ", Code(formula),
                f" and a {family.name} likelihood ({family.link} link)", *([" "] + se if se else []), "."]
    group_level = sorted({name[len("gamma["):-1] for record in records.values()
                          for name in record.loads("priors", {}) if name.startswith("gamma[")})
    for strategy, record in records.items():
        segments += [" ", *_strategy_sentence(strategy, record, parsed, group_level)]
    return segments


def _strategy_sentence(strategy, record, parsed, group_level):
    """What `strategy` fitted; `group_level` names the group-level predictors (which
    no pooling leaves out: they are collinear with its free intercepts)."""
    if strategy == "no_pooling":
        slopes = [s for g in parsed.groups for s in g.slopes]
        extra = f" and {_and(slopes)} slope{'s' if len(slopes) > 1 else ''}" if slopes else ""
        left_out = (f" It leaves out the group-level predictor{'s' if len(group_level) > 1 else ''} "
                    f"{_and(group_level)}, collinear with its free intercepts." if group_level else "")
        return [f"No pooling gave each of the {record.groups} groups its own intercept{extra} under an "
                f"independent prior, with no population distribution.{left_out}"]
    if strategy == "complete_pooling":
        lhs = record.attrs["formula"].split("~")[0].strip()
        return ["Complete pooling fitted ", Code(f"{lhs} ~ {parsed.rhs}"),
                ", the formula without its group terms, so that every group shares every coefficient."]
    parameterization = record.loads("fit_config", {}).get("parameterization", "noncentered")
    form = {"noncentered": "non-centered", "centered": "centered"}[parameterization]
    return ["Partial pooling fitted the formula as written: each group's effects are drawn from a normal "
            f"population distribution whose spread is estimated, in the {form} parameterization",
            Cite(("papaspiliopoulos2007noncentered",)), "."]


def prior_paragraph(records):
    """Every prior of every fit with its source: the default rule that made it, or the user."""
    seen = {}
    for strategy, record in records.items():
        sources = record.loads("prior_sources", {})
        for name, prior in record.loads("priors", {}).items():
            seen.setdefault((name, prior, sources.get(name, "default")), []).append(strategy)
    link = next(iter(records.values())).family.link
    segments = [f"Priors ({LINK_SCALE[link]}): "]
    for k, ((name, prior, source), fitted) in enumerate(seen.items()):
        where = _and(_label(s) for s in fitted)
        how = ["set by the user"] if source == "user" else ["default: ", Code(default_rule(name, link))]
        segments += [*(["; "] if k else []), Code(name), " ~ ", Code(prior), f" ({where}; ", *how, ")"]
    segments.append(".")
    if any(root_of(name.partition("[")[0]) == "corr" for name, _, _ in seen):
        segments += [" The LKJ prior on a correlation matrix", Cite(("lewandowski2009lkj",)),
                     " is placed on its Cholesky factor."]
    return segments


def _settings_phrase(config):
    return (f"{config['chains']} chains of {config['warmup']} warmup iterations and {config['draws']} kept "
            f"draws each, target acceptance probability {config['target_accept']:g}, maximum tree depth "
            f"{config['max_tree_depth']}, seed {config['seed']}")


def sampler_paragraph(records):
    """NUTS and its settings, once when every strategy shares them, else per strategy."""
    keys = ("chains", "warmup", "draws", "target_accept", "max_tree_depth", "seed")
    by_settings = {}
    for strategy, record in records.items():
        config = record.loads("fit_config", {})
        by_settings.setdefault(tuple(config[k] for k in keys), []).append(strategy)
    phrases = [_settings_phrase(dict(zip(keys, values))) for values in by_settings]
    if len(phrases) > 1:
        phrases = [f"{_and(_label(s) for s in fitted)} with {phrase}"
                   for fitted, phrase in zip(by_settings.values(), phrases)]
    return ["Each strategy was sampled with the No-U-Turn Sampler, NUTS", Cite(("hoffman2014nuts",)),
            ", in NumPyro", Cite(("phan2019numpyro",)), " on JAX", Cite(("bradbury2018jax",)),
            ": " + "; ".join(phrases) + "."]


def _named(parameters):
    parameters = list(parameters)
    shown = ", ".join(parameters[:NAMED])
    return shown + (f" and {len(parameters) - NAMED} more" if len(parameters) > NAMED else "")


def failed_gate_phrases(table):
    """One phrase per failed gate of a diagnostics table (pooling.diagnostics.diagnose)."""
    phrases = []
    for gate, what in (("rhat_ok", f"R̂ ≥ {RHAT_MAX:g}"), ("ess_bulk_ok", f"bulk ESS ≤ {ESS_MIN}"),
                       ("ess_tail_ok", f"tail ESS ≤ {ESS_MIN}")):
        failing = table.index[~table[gate].astype(bool)]
        if len(failing):
            phrases.append(f"{what} for {_named(failing)}")
    first = table.iloc[0]
    if not first["divergences_ok"]:
        phrases.append(_plural(int(first["divergences"]), "divergent transition"))
    if not first["ebfmi_ok"]:
        phrases.append(f"E-BFMI {first['ebfmi_min']:.2f} in its worst chain, below {EBFMI_MIN:g}")
    if not first["treedepth_ok"]:
        phrases.append(f"{significant(100 * first['treedepth_saturated'], 2)}% of draws at the maximum tree depth")
    return phrases


def diagnostics_paragraph(diagnostics):
    """The gates, then which strategies passed them all and a sentence per failure."""
    segments = ["Convergence was checked with ArviZ", Cite(("kumar2019arviz",)),
                f" against {GATE_COUNT} gates: rank-normalized split R̂ below {RHAT_MAX:g} and bulk and tail "
                f"effective sample sizes (ESS) above {ESS_MIN} for every parameter", Cite(("vehtari2021rhat",)),
                f", no divergent transitions, E-BFMI of at least {EBFMI_MIN:g} in every chain",
                Cite(("betancourt2016ebfmi",)), ", and no draw at the maximum tree depth."]
    passed = [s for s, table in diagnostics.items() if table["passed"].astype(bool).all()]
    if passed:
        segments.append(f" {capitalized(_and(_label(s) for s in passed))} passed every gate.")
    for strategy, table in diagnostics.items():
        if strategy in passed:
            continue
        phrases = failed_gate_phrases(table)
        segments.append(f" {capitalized(_label(strategy))} failed {_plural(len(phrases), 'gate')}: "
                        f"{'; '.join(phrases)}; its estimates should be read with that in mind.")
    return segments


def _ranking(summary, columns, sign=1):
    """'x ranked first (elpd a ± b); y was c ± d lower' from a comparison table sorted
    best first; `columns` name its elpd, se, difference and paired se, and `sign` is -1
    where the table's differences are negative."""
    elpd, se, diff, dse = columns
    rows = list(summary.itertuples())
    best = rows[0]
    text = (f"{_label(best.Index)} ranked first (elpd {round_to_error(getattr(best, elpd), getattr(best, se))}"
            f" ± {error_text(getattr(best, se))})")
    lower = [f"{_label(row.Index)} was {round_to_error(sign * getattr(row, diff), getattr(row, dse))} ± "
             f"{error_text(getattr(row, dse))} lower" for row in rows[1:]]
    return text + (f"; {_and(lower)}" if lower else "")


def _pareto(summary, units, total):
    """Where PSIS is unreliable: the count of Pareto k above the threshold per strategy."""
    high = [(s, int(n)) for s, n in summary["n_pareto_k_high"].items() if n and int(n) > 0]
    threshold = k_threshold(summary)
    if not high:
        return f"every Pareto k was below {threshold}"
    return (f"Pareto k exceeded {threshold}, where PSIS is unreliable, for "
            + _and(f"{n} of {total} {units} under {_label(s)}" for s, n in high))


def k_threshold(summary):
    """ArviZ's Pareto k threshold of a comparison table (0.7, less with few draws)."""
    return f"{summary['pareto_k_threshold'].min():.2g}"


def capitalized(text):
    """`text` with its first letter upper-case, to start a sentence."""
    return text[0].upper() + text[1:]


def loo_paragraph(loo, rows):
    """PSIS-LOO: what it estimates, the ranking with paired errors, and its Pareto k."""
    loo = loo.sort_values("rank") if "rank" in loo else loo
    ranking = _ranking(loo, ("elpd_loo", "se", "elpd_diff", "dse"))
    return ["The strategies were compared by their expected log predictive density (elpd) for a new "
            "observation of a group in the data, estimated by Pareto-smoothed importance-sampling "
            "leave-one-out cross-validation, PSIS-LOO", Cite(("vehtari2017loo", "vehtari2024psis")),
            f": {ranking}. {capitalized(_pareto(loo, 'observations', rows))}."]


def logo_paragraph(logo, levels):
    """Leave-one-group-out per grouping factor, PSIS and, where run, the exact refits.
    `levels` maps each factor to its number of levels."""
    scored = logo.dropna(subset=["elpd_psis"])
    if scored.empty:
        return []
    segments = ["A new group was scored by leave-one-group-out cross-validation (LOGO) per grouping factor, "
                "with PSIS on each group's marginal likelihood, its effects integrated out"]
    if len(scored) < len(logo):
        segments.append("; no pooling has no population distribution to draw a new group from and was not "
                        "scored")
    segments.append(".")
    factors = scored.groupby("factor", sort=False) if "factor" in scored else [("group", scored)]
    for factor, table in factors:
        table = table.sort_values("elpd_psis", ascending=False)
        what = "group" if factor == "group" else f"level of {factor}"
        ranking = _ranking(table, ("elpd_psis", "se_psis", "elpd_diff_psis", "dse_psis"), sign=-1)
        segments.append(f" For a new {what}, {ranking}; {_pareto(table, 'levels', levels[factor])}.")
        if "elpd_kfold" in table and table["elpd_kfold"].notna().all():
            refits = table.sort_values("elpd_kfold", ascending=False)
            ranking = _ranking(refits, ("elpd_kfold", "se_kfold", "elpd_diff_kfold", "dse_kfold"), sign=-1)
            segments.append(f" Exact refits in {int(refits['folds'].max())} folds, each holding out whole "
                            f"levels: {ranking}.")
    return segments


def heldout_paragraph(scores, predicts_new_levels):
    """Held-out rows (test_scores.csv, one row per strategy), and the new-level
    predictions partial-pooling fits store; [] where neither exists."""
    segments = []
    if scores is not None:
        table = scores.set_index("strategy")
        rows = int(table["rows_scored"].max())
        table = table.assign(partial=table["rows_scored"] < rows).sort_values(["partial", "elpd"],
                                                                               ascending=[True, False])
        ranked = _and(f"{_label(s)} {round_to_error(r.elpd, r.se)} ± {error_text(r.se)}"
                      + (f" over its {_plural(int(r.rows_scored), 'row')}" if r.partial else "")
                      for s, r in table.iterrows())
        segments.append(f"A held-out test set of {_plural(rows, 'row')} was scored from each fit's posterior "
                        f"draws by its log predictive density (elpd: {ranked})")
        new = int(table["rows_new_groups"].max())
        if new:
            segments.append(f"; the effects of levels the fit never saw ({_plural(new, 'row')}) were drawn "
                            "from the population with each posterior draw")
            left_out = table["rows_left_out"].fillna(0).astype(int)
            segments += [f", and {_label(s)}, having no population, left them out"
                         for s in left_out[left_out > 0].index]
        segments.append(".")
    if predicts_new_levels:
        segments.append((" " if segments else "") + "Partial pooling's predictions for one new level of each "
                        "grouping factor draw its effects from the fitted population distribution, a fresh "
                        "draw per posterior draw (brms's sample_new_levels = \"gaussian\").")
    return segments


def sbc_paragraph(sbc):
    """Simulation-based calibration, where it was run: `sbc` is {"config": the config's
    sbc section, "summaries": {strategy: its summary.csv as a DataFrame}}."""
    config, summaries = sbc["config"], sbc["summaries"]
    simulations = _and(sorted({str(int(t["simulations"].max())) for t in summaries.values()}))
    design = config.get("formula") or f"{config['groups']} groups of {config['group_size']} rows"
    failing = {s: list(t.loc[~t["uniform"].astype(bool), "quantity"]) for s, t in summaries.items()}
    outcome = ("every quantity's ranks were uniform" if not any(failing.values()) else
               "ranks were not uniform for " + _and(f"{_label(s)} ({_named(q)})" for s, q in failing.items() if q))
    return ["The models and sampler were checked by simulation-based calibration, SBC",
            Cite(("talts2018sbc",)),
            f", on simulated data rather than these ({config['family']} family, {design}): {simulations} "
            f"simulations per strategy ({_and(_label(s) for s in summaries)}), the rank of each true value "
            f"among the posterior draws tested for uniformity with a simultaneous {config['level']:.0%} ECDF "
            f"band; {outcome}."]


def software_paragraph(records, snakemake_version):
    """Versions as the fits recorded them (several where fits differ) and Snakemake's."""
    versions = {}
    for record in records.values():
        for package, version in record.loads("package_versions", {}).items():
            versions.setdefault(package, set()).add(version)
    listed = [f"{SOFTWARE.get(p, p)} {' and '.join(sorted(v))}" for p, v in versions.items()]
    return ["The analysis ran as a Snakemake workflow", Cite(("molder2021snakemake",)),
            f", under Snakemake {snakemake_version} with {_and(listed)}. Numbers are rounded to the decimal place "
            "of the first significant digit of their Monte Carlo error (posterior summaries) or standard "
            "error (elpd)."]


def paragraphs(dataset, records, diagnostics, loo, logo, levels, snakemake_version, sbc=None,
               test_scores=None, predicts_new_levels=False):
    """The methods section as paragraphs of segments."""
    rows = next(iter(records.values())).rows
    parts = [data_paragraph(dataset, records), prior_paragraph(records), sampler_paragraph(records),
             diagnostics_paragraph(diagnostics), loo_paragraph(loo, rows), logo_paragraph(logo, levels),
             heldout_paragraph(test_scores, predicts_new_levels)]
    if sbc:
        parts.append(sbc_paragraph(sbc))
    parts.append(software_paragraph(records, snakemake_version))
    return [p for p in parts if p]


def cited(parts):
    """REFERENCES keys in order of first citation."""
    return list(dict.fromkeys(k for p in parts for s in p if isinstance(s, Cite) for k in s.keys))


def _render(parts, code, cite, text):
    """Paragraphs separated by blank lines, each segment through its format's renderer."""
    def one(segment):
        if isinstance(segment, Code):
            return code(segment.text)
        return cite(segment.keys) if isinstance(segment, Cite) else text(segment)

    return "\n\n".join("".join(map(one, p)) for p in parts) + "\n"


def to_markdown(parts, title):
    """Markdown with author-year citations in parentheses."""
    return f"# {title}\n\n" + _render(
        parts, lambda text: f"`{text}`", lambda keys: f" ({'; '.join(REFERENCES[k].text for k in keys)})", str)


def to_latex(parts, title):
    """A LaTeX fragment to \\input, citing with natbib's \\citep."""
    header = (f"% {latex_escape(title)}: generated from the fits' attributes by hierarchical-pooling.\n"
              "% \\input this file; it needs natbib (\\citep), \\bibliography{references} and, for the\n"
              "% formulas' ~ and |, \\usepackage[T1]{fontenc}.\n")
    return header + _render(parts, lambda text: rf"\texttt{{{latex_escape(text)}}}",
                            lambda keys: rf"~\citep{{{','.join(keys)}}}", latex_escape)
