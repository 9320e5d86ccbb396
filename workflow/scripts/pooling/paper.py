"""The publication bundle of one dataset (results/{dataset}/paper/): tables in Markdown
and LaTeX, the methods section with its references, the figures as PDF, the config,
and a manifest with the sha256 of every file, so a reader can check that the numbers
in a manuscript came from this run.

Tables hold population parameters (one row per parameter and strategy) and, apart, each
group's intercept (at most figures.SHOWN_GROUPS groups, the ones the forest plot shows);
numbers are rounded to their Monte Carlo or standard error (pooling.tables).
"""

import datetime
import json
import logging
import shutil
import subprocess
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
import yaml

from . import STRATEGIES, figures, methods, strategies
from .bibliography import bibtex
from .data import sha256
from .diagnostics import EBFMI_MIN, ESS_MIN, RHAT_MAX, summarized
from .errors import PoolingError
from .fitfile import open_fit
from .hierarchy import root
from .tables import Column, Table, error_text, fixed, round_to_error, significant, whole

log = logging.getLogger(__name__)
INTERVAL = (0.05, 0.95)  # the equal-tailed 90% interval of the summary tables
GROUP_ROOTS = ("theta", "slope")  # per-group parameters: the group table, not the population one
ROUNDING = ("Each number is rounded to the decimal place of the first significant digit of its Monte "
            "Carlo standard error (mean and sd: az.summary's mcse_mean and mcse_sd; the quantiles: "
            "az.mcse with method='quantile'); R̂ has two decimals, ESS is whole.")
SUMMARY_COLUMNS = (
    Column("mean", "mean", "Mean"), Column("sd", "sd", "SD"),
    Column("q5", "5%", r"5\%"), Column("q95", "95%", r"95\%"),
    Column("r_hat", "R̂", r"$\hat{R}$"), Column("ess_bulk", "bulk ESS", r"ESS\textsubscript{bulk}"),
)
STRATEGY = Column("strategy", "strategy", "Strategy", numeric=False)


def _quantile_stats(chains):
    """az.summary stat_funcs: the interval's quantiles and their Monte Carlo standard
    errors (az.summary hands each function the draws flattened chain by chain)."""
    stats = {}
    for name, prob in zip(("q5", "q95"), INTERVAL):
        stats[name] = lambda x, p=prob: np.quantile(x, p)
        stats[f"mcse_{name}"] = lambda x, p=prob: az.mcse(x.reshape(chains, -1), method="quantile", prob=p)
    return stats


def summarize(dataset):
    """az.summary of `dataset` (chain, draw, ...) with the interval and every MCSE, unrounded."""
    return az.summary(dataset, kind="all", round_to="none", stat_funcs=_quantile_stats(dataset.sizes["chain"]))


def formatted(table):
    """A summary's numbers as text, each rounded to its own Monte Carlo error."""
    return pd.DataFrame({
        "mean": [round_to_error(v, e) for v, e in zip(table["mean"], table["mcse_mean"])],
        "sd": [round_to_error(v, e) for v, e in zip(table["sd"], table["mcse_sd"])],
        "q5": [round_to_error(v, e) for v, e in zip(table["q5"], table["mcse_q5"])],
        "q95": [round_to_error(v, e) for v, e in zip(table["q95"], table["mcse_q95"])],
        "r_hat": [fixed(v, 2) for v in table["r_hat"]],
        "ess_bulk": [whole(v) for v in table["ess_bulk"]],
    }, index=table.index)


def _inverse_link_name(idata):
    return figures.INVERSE_LINK_NAME[figures.family_of(idata).link]


def population(idata, reported):
    """The fit's population parameters as az.summary labels them, those of `reported`
    (the diagnostics table's rows: redundant correlations dropped), with mu through the
    inverse link where there is one (expit(mu): a probability reads better than a
    log-odds)."""
    names = [v for v in summarized(idata.posterior) if root(v)[0] not in GROUP_ROOTS]
    if not names:
        return pd.DataFrame(columns=[c.key for c in SUMMARY_COLUMNS])
    posterior = idata.posterior[names]
    inverse = _inverse_link_name(idata)
    if inverse and "mu" in posterior:
        transformed = f"{inverse}(mu)"
        posterior = posterior.assign({transformed: figures.response_draws(idata, "mu")}).drop_vars("mu")
        posterior = posterior[[transformed if v == "mu" else v for v in names]]
        reported = [transformed if r == "mu" else r for r in reported]
    table = summarize(posterior)
    return formatted(table.loc[[label for label in table.index if label in set(reported)]])


def parameter_table(fits, diagnostics):
    """Population parameters of every strategy, strategy by strategy."""
    tables = {s: population(idata, list(diagnostics[s].index)) for s, idata in fits.items()}
    frame = pd.concat([table.assign(strategy=strategies.named(s).label, parameter=table.index)
                       for s, table in tables.items()], ignore_index=True)
    first = next(iter(fits.values()))
    family, inverse = figures.family_of(first), _inverse_link_name(first)
    scale = ("All on the scale of the response." if not inverse else
             f"{inverse}(mu) is the population intercept through the inverse link "
             f"({figures.response_scale(first).split(',')[0]} of a typical group at predictors 0); every other "
             f"parameter is on the link scale ({methods.LINK_SCALE[family.link].split(', ')[-1]}).")
    empty = [strategies.named(s).label for s, table in tables.items() if table.empty]
    missing = (f" {' and '.join(empty).capitalize()}: no population parameters here; its group estimates are "
               "in the group table." if empty else "")
    return Table("parameters", "Population parameters",
                 f"Posterior mean, standard deviation and 90% equal-tailed interval (5% and 95% quantiles) of "
                 f"each strategy's population parameters, with rank-normalized R̂ and bulk effective sample "
                 f"size. {scale} {ROUNDING}{missing}",
                 (STRATEGY, Column("parameter", "parameter", "Parameter", numeric=False), *SUMMARY_COLUMNS),
                 frame)


def group_table(fits):
    """Each group's intercept under every strategy on the response scale, group by
    group; above figures.SHOWN_GROUPS groups, the ones the forest plot shows."""
    reference = fits.get("partial_pooling", next(iter(fits.values())))
    coords, note = figures._shown(reference)
    parts = []
    for strategy, idata in fits.items():
        draws = figures.response_draws(idata).sel(coords)
        table = formatted(summarize(xr.Dataset({"theta": draws})))
        parts.append(table.assign(group=list(draws["group"].values), strategy=strategies.named(strategy).label,
                                  order=STRATEGIES.index(strategy)))
    frame = pd.concat(parts, ignore_index=True)
    labels = list(dict.fromkeys(frame["group"]))
    frame = frame.assign(position=frame["group"].map(labels.index)).sort_values(["position", "order"])
    shown = f" Shown{note}." if note else ""
    return Table("groups", "Group intercepts",
                 f"Each group's intercept theta on the response scale ({figures.response_scale(reference)}) under "
                 f"every strategy: posterior mean, standard deviation and 90% equal-tailed interval, with R̂ and "
                 f"bulk ESS.{shown} {ROUNDING}",
                 (Column("group", "group", "Group", numeric=False), STRATEGY, *SUMMARY_COLUMNS), frame,
                 long=True)


def _elpd_columns(frame, elpd, se, diff, dse):
    return {
        elpd: [round_to_error(v, e) for v, e in zip(frame[elpd], frame[se])],
        se: [error_text(e) for e in frame[se]],
        diff: [round_to_error(v, e) for v, e in zip(frame[diff], frame[dse])],
        dse: [error_text(e) for e in frame[dse]],
    }


def loo_table(loo):
    """az.compare's table (loo_compare.csv), best first."""
    loo = loo.sort_values("rank")
    threshold = methods.k_threshold(loo)
    frame = pd.DataFrame({
        "strategy": [strategies.named(s).label for s in loo.index],
        **_elpd_columns(loo, "elpd_loo", "se", "elpd_diff", "dse"),
        "p_loo": [fixed(v, 1) for v in loo["p_loo"]],
        "weight": [fixed(v, 2) for v in loo["weight"]],
        "k_high": [whole(v) for v in loo["n_pareto_k_high"]],
    })
    columns = (STRATEGY, Column("elpd_loo", "elpd_loo", r"elpd\textsubscript{loo}"), Column("se", "se", "SE"),
               Column("elpd_diff", "elpd_diff", r"$\Delta$elpd"), Column("dse", "dse", r"SE($\Delta$)"),
               Column("p_loo", "p_loo", r"p\textsubscript{loo}"), Column("weight", "weight", "Weight"),
               Column("k_high", f"k > {threshold}", f"$k > {threshold}$"))
    return Table("loo", "PSIS-LOO comparison",
                 "Expected log predictive density of a new observation of a group in the data, by PSIS-LOO "
                 "(az.compare), best first: elpd_loo with its standard error se; elpd_diff, how much lower than "
                 "the best, with the paired standard error dse; p_loo, the effective number of parameters; the "
                 f"stacking weight; and the observations whose Pareto k exceeds {threshold}, where PSIS is "
                 "unreliable. elpd_loo and elpd_diff are rounded to the decimal place of the first significant "
                 "digit of se and dse, the errors have two significant digits, p_loo one decimal.",
                 columns, frame)


def logo_table(logo, levels):
    """Leave-one-group-out per grouping factor (logo_compare.csv): the strategies that
    can predict a new group, with the exact K-fold refits where they were run."""
    scored = logo.dropna(subset=["elpd_psis"])
    factor = scored["factor"] if "factor" in scored else pd.Series("group", index=scored.index)
    frame = pd.DataFrame({
        "factor": list(factor), "strategy": [strategies.named(s).label for s in scored.index],
        **_elpd_columns(scored, "elpd_psis", "se_psis", "elpd_diff_psis", "dse_psis"),
        "p_logo": [fixed(v, 1) for v in scored["p_logo"]],
        "k_high": [f"{whole(n)} of {levels[f]}" for n, f in zip(scored["n_pareto_k_high"], factor)],
        "max_k": [fixed(v, 2) for v in scored["max_pareto_k"]],
    })
    threshold = methods.k_threshold(scored)
    columns = [Column("factor", "factor", "Factor", numeric=False), STRATEGY,
               Column("elpd_psis", "elpd (PSIS)", "elpd (PSIS)"), Column("se_psis", "se", "SE"),
               Column("elpd_diff_psis", "elpd_diff", r"$\Delta$elpd"), Column("dse_psis", "dse", r"SE($\Delta$)"),
               Column("p_logo", "p_logo", r"p\textsubscript{logo}"),
               Column("k_high", f"k > {threshold}", f"$k > {threshold}$"), Column("max_k", "max k", "max $k$")]
    refits = ""
    if "elpd_kfold" in scored and scored["elpd_kfold"].notna().any():
        frame = frame.assign(**_elpd_columns(scored, "elpd_kfold", "se_kfold", "elpd_diff_kfold", "dse_kfold"),
                             folds=[whole(v) for v in scored["folds"]])
        columns += [Column("elpd_kfold", "elpd (K-fold)", "elpd (K-fold)"), Column("se_kfold", "se", "SE"),
                    Column("elpd_diff_kfold", "elpd_diff", r"$\Delta$elpd"),
                    Column("dse_kfold", "dse", r"SE($\Delta$)"), Column("folds", "folds", "Folds")]
        refits = " The K-fold columns are exact refits, each fold holding out whole levels."
    dropped = " No pooling has no population and cannot predict a new group: it is not scored." \
        if len(scored) < len(logo) else ""
    return Table("logo", "Leave-one-group-out comparison",
                 "Expected log predictive density of a new level of each grouping factor, by PSIS on each "
                 "level's marginal likelihood (its effects integrated out): elpd with its standard error se; "
                 "elpd_diff, this strategy's minus the best's (0 or below), with its paired standard error dse; "
                 f"p_logo; the levels whose Pareto k exceeds {threshold}, where PSIS is unreliable, and the "
                 f"largest k.{refits}{dropped} Rounded as the PSIS-LOO table.",
                 tuple(columns), frame)


def _worst(table, column, largest):
    row = table[column].idxmax() if largest else table[column].idxmin()
    value = fixed(table.loc[row, column], 2) if column == "r_hat" else whole(table.loc[row, column])
    return f"{value} ({row})"


GATES = (("rhat_ok", "R̂"), ("ess_bulk_ok", "bulk ESS"), ("ess_tail_ok", "tail ESS"),
         ("divergences_ok", "divergences"), ("ebfmi_ok", "E-BFMI"), ("treedepth_ok", "tree depth"))


def gates_table(diagnostics):
    """One row per strategy: each gate's worst value (and parameter) and which failed."""
    rows = []
    for strategy, table in diagnostics.items():
        failed = [name for gate, name in GATES if not table[gate].astype(bool).all()]
        first = table.iloc[0]
        rows.append({
            "strategy": strategies.named(strategy).label,
            "r_hat": _worst(table, "r_hat", largest=True),
            "ess_bulk": _worst(table, "ess_bulk", largest=False),
            "ess_tail": _worst(table, "ess_tail", largest=False),
            "divergences": whole(first["divergences"]),
            "ebfmi": fixed(first["ebfmi_min"], 2),
            "treedepth": f"{significant(100 * first['treedepth_saturated'], 2)}%",
            "passed": "yes" if not failed else f"no: {', '.join(failed)}",
        })
    columns = (STRATEGY, Column("r_hat", "max R̂", r"max $\hat{R}$"),
               Column("ess_bulk", "min bulk ESS", r"min ESS\textsubscript{bulk}"),
               Column("ess_tail", "min tail ESS", r"min ESS\textsubscript{tail}"),
               Column("divergences", "divergences", "Divergences"), Column("ebfmi", "min E-BFMI", "min E-BFMI"),
               Column("treedepth", "at max tree depth", "At max depth"),
               Column("passed", "passed", "Passed", numeric=False))
    return Table("diagnostics", "Convergence gates",
                 f"Each strategy's worst parameter per gate (R̂ < {RHAT_MAX:g}, bulk and tail ESS > "
                 f"{ESS_MIN}) and the fit-wide gates (no divergent transition, E-BFMI ≥ "
                 f"{EBFMI_MIN:g} in every chain, no draw at the maximum tree depth), as the diagnostics "
                 "tables record them.", columns, pd.DataFrame(rows))


def test_scores_table(scores):
    """Hook for held-out scoring (results/{dataset}/test_scores.csv, one row per
    strategy): the rows scored, the held-out elpd with its standard error (rounded as
    the LOO table), the mean log predictive density per row (rounded to se / rows), and
    RMSE and Brier score (no error given: 3 significant digits), the columns the table
    has and fills; its notes (rows a strategy cannot score) join the caption."""
    scores = scores.set_index("strategy") if "strategy" in scores else scores
    frame = pd.DataFrame({"strategy": [strategies.named(s).label for s in scores.index]})
    columns = [STRATEGY]

    def add(key, markdown, latex, values):
        frame[key] = list(values)
        columns.append(Column(key, markdown, latex))

    if "rows_scored" in scores:
        add("rows_scored", "rows", "Rows", map(whole, scores["rows_scored"]))
    if "elpd" in scores and "se" in scores:
        add("elpd", "elpd", "elpd", map(round_to_error, scores["elpd"], scores["se"]))
        add("se", "se", "SE", map(error_text, scores["se"]))
        if "mean_lpd" in scores and "rows_scored" in scores:
            add("mean_lpd", "mean lpd", "mean lpd",
                map(round_to_error, scores["mean_lpd"], scores["se"] / scores["rows_scored"]))
    for key, label in (("rmse", "RMSE"), ("brier", "Brier")):
        if key in scores and scores[key].notna().any():
            add(key, label, label, (significant(v, 3) for v in scores[key]))
    notes = [n for n in scores.get("note", pd.Series(dtype=str)).fillna("") if n]
    scale = f" RMSE on the {scores['scale'].iloc[0]} scale." if "scale" in scores else ""
    return Table("test_scores", "Held-out test set",
                 "Each strategy's scores on the held-out rows (test_scores.csv): the expected log predictive "
                 "density elpd of the rows it scored, with its standard error se, and per row (mean lpd); "
                 f"elpd is rounded as in the PSIS-LOO table, mean lpd to se / rows, RMSE and Brier score to 3 "
                 f"significant digits.{scale}" + "".join(f" {methods.capitalized(n)}." for n in notes),
                 tuple(columns), frame)


def levels_of(idata):
    """{grouping factor: its number of levels}, as LOGO names the factors."""
    factors = json.loads(idata.attrs.get("factors", "[]"))
    return {f["name"]: len(f["labels"]) for f in factors} or {"group": int(idata.posterior.sizes["group"])}


def git_state(directory):
    """The workflow's git commit and whether tracked files differ from it (untracked
    files such as results/ do not count); None for both outside a git checkout or
    without git."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, check=True).stdout

    try:
        return {"commit": git("rev-parse", "HEAD").strip(),
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no").strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def _check_data(fits, source_csv, prepared_csv):
    """The sha256 of the data files, which every fit must have been made from."""
    hashes = {"source_sha256": sha256(source_csv), "prepared_sha256": sha256(prepared_csv)}
    for strategy, idata in fits.items():
        for key, attr in (("source_sha256", "data_sha256"), ("prepared_sha256", "prepared_sha256")):
            if idata.attrs.get(attr) != hashes[key]:
                raise PoolingError(f"{strategy}'s fit was made from other data than {source_csv} and "
                                   f"{prepared_csv} hold now ({attr} differs); rerun snakemake to refit it")
    return hashes


def _test_hashes(test_csvs):
    """The manifest's record of the held-out data (None without a test set)."""
    if not test_csvs:
        return None
    source, prepared = test_csvs
    return {"source_csv": str(source), "source_sha256": sha256(source),
            "prepared_csv": str(prepared), "prepared_sha256": sha256(prepared)}


def file_entries(root, exclude=()):
    """[{path, sha256, bytes}] of every file under `root`, paths relative to it, sorted."""
    root = Path(root)
    return [{"path": path.relative_to(root).as_posix(), "sha256": sha256(path), "bytes": path.stat().st_size}
            for path in sorted(root.rglob("*")) if path.is_file() and path.name not in exclude]


def write_tables(tables, directory):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for table in tables:
        (directory / f"{table.name}.md").write_text(table.to_markdown())
        (directory / f"{table.name}.tex").write_text(table.to_latex())


def write_bundle(dataset, fit_paths, diagnostic_paths, loo_csv, logo_csv, source_csv, prepared_csv,
                 figure_pdfs, out, settings, config, snakemake_version, workflow_dir,
                 test_scores_csv=None, test_csvs=None, sbc=None):
    """Everything under results/{dataset}/paper/; `out` maps tables, figures,
    methods_md, methods_tex, bib, config and manifest to their paths. `test_csvs` (the
    held-out CSV as configured and as prepared) are hashed into the manifest beside the
    training data, as the scores in the bundle come from them. `sbc` ({"config": the
    config's sbc section, "summaries": [summary.csv paths]}) adds SBC to the methods
    where it was run."""
    fits = {idata.attrs["strategy"]: idata for idata in map(open_fit, fit_paths)}
    fits = {s: fits[s] for s in STRATEGIES if s in fits}
    diagnostics = {path_strategy(p): pd.read_csv(p, index_col="parameter") for p in diagnostic_paths}
    diagnostics = {s: diagnostics[s] for s in fits}
    loo, logo = pd.read_csv(loo_csv, index_col="strategy"), pd.read_csv(logo_csv, index_col="strategy")
    levels = levels_of(next(iter(fits.values())))
    data_hashes = _check_data(fits, source_csv, prepared_csv)

    tables = [parameter_table(fits, diagnostics), group_table(fits), loo_table(loo), logo_table(logo, levels),
              gates_table(diagnostics)]
    scores = pd.read_csv(test_scores_csv) if test_scores_csv else None
    if scores is not None:
        tables.append(test_scores_table(scores))
    write_tables(tables, out["tables"])

    sbc_inputs = None
    if sbc and sbc["summaries"]:
        sbc_inputs = {"config": sbc["config"],
                      "summaries": {Path(p).parent.name: pd.read_csv(p) for p in sbc["summaries"]}}
    records = {s: methods.FitRecord.of(idata) for s, idata in fits.items()}
    parts = methods.paragraphs(dataset, records, diagnostics, loo, logo, levels, snakemake_version, sbc_inputs,
                               scores, any("predictions" in idata.groups() for idata in fits.values()))
    title = f"Methods: {dataset}"
    Path(out["methods_md"]).write_text(methods.to_markdown(parts, title))
    Path(out["methods_tex"]).write_text(methods.to_latex(parts, title))
    Path(out["bib"]).write_text(bibtex(methods.cited(parts)))

    Path(out["figures"]).mkdir(parents=True, exist_ok=True)
    for pdf in figure_pdfs:
        shutil.copyfile(pdf, Path(out["figures"]) / Path(pdf).name)
    with open(out["config"], "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False, allow_unicode=True)

    manifest = Path(out["manifest"])
    record = {
        "dataset": dataset,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "workflow": {"name": "hierarchical-pooling", **git_state(workflow_dir), "snakemake": snakemake_version},
        "data": {"source_csv": str(source_csv), "source_sha256": data_hashes["source_sha256"],
                 "prepared_csv": str(prepared_csv), "prepared_sha256": data_hashes["prepared_sha256"]},
        "test_data": _test_hashes(test_csvs),
        "settings": settings,
        "config": Path(out["config"]).relative_to(manifest.parent).as_posix(),
        "files": file_entries(manifest.parent, exclude={manifest.name}),
    }
    manifest.write_text(json.dumps(record, indent=2) + "\n")
    log.info("%s: paper bundle of %d files in %s", dataset, len(record["files"]), manifest.parent)
    return record


def path_strategy(path):
    """The strategy of a per-strategy result named <strategy>.csv (diagnostics/)."""
    return Path(path).stem
