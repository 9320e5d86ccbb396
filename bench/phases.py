"""Where one fit's time goes, in one process, for every shipped dataset and strategy
and for radon partial pooling: compile, warmup, sampling, predictive draws and
InferenceData, LOO, writing; gradient evaluations; bulk ESS per second of sampling for
every parameter class. Prints a table and writes bench/phases.csv.

    python bench/phases.py

Sampling runs on the sufficient statistics, as in the workflow. Warmup and sampling
are timed apart by running numpyro's `warmup` then `run`, which compiles two programs
instead of the workflow's one (compile time is reported on its own). Compile time is
what JAX reports for tracing, lowering, XLA compilation and persistent-cache reads, so it
is the same whether the cache is warm or not.
"""

import csv
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from pooling.jaxenv import configure_jax  # noqa: E402

CHAINS = 4
configure_jax(chains=CHAINS, threads=2)

import arviz as az  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402

from pooling import STRATEGIES, families  # noqa: E402
from pooling.compare import loo  # noqa: E402
from pooling.data import load_prepared, prepare  # noqa: E402
from pooling.fit import model_data, sampled_form, to_inference_data  # noqa: E402
from pooling.models import strategy_model  # noqa: E402
from pooling.priors import resolve_priors  # noqa: E402

RADON = ROOT.parent / "shared" / "data" / "radon" / "radon_mn.csv"
DATASETS = {
    "eight_schools": (ROOT / "resources" / "eight_schools.csv", dict(response="y", group="school", se="se")),
    "seed": (ROOT / "resources" / "seed.csv", dict(response="y")),
    "radon": (RADON, dict(response="log_radon", group="county")),
}
SETTINGS = dict(warmup=1000, draws=1000, target_accept=0.95, max_tree_depth=10)
COMPILE_EVENTS = ("/jax/core/compile/", "/jax/compilation_cache/cache_retrieval")

compile_seconds = defaultdict(float)


def _listen(event, seconds, **_):
    if event.startswith(COMPILE_EVENTS):
        compile_seconds["total"] += seconds


jax.monitoring.register_event_duration_secs_listener(_listen)


def phase(work):
    """(result, wall seconds, of which compile seconds)."""
    before = compile_seconds["total"]
    start = time.perf_counter()
    result = work()
    wall = time.perf_counter() - start
    return result, wall, compile_seconds["total"] - before


def ess_per_second(idata, seconds):
    """Bulk ESS per second of sampling, the worst parameter of each class."""
    ess = az.ess(idata, method="bulk")
    return {name: float(ess[name].min()) / seconds for name in ("mu", "tau", "sigma", "theta")
            if name in ess and name in idata.posterior}


def profile(name, data, strategy, workdir):
    priors = resolve_priors(strategy, {}, data)
    model = strategy_model(strategy, data.n_groups, priors)
    args = model_data(data, strategy)
    inputs, stats = sampled_form(data, args, families.named("gaussian"))
    mcmc = MCMC(NUTS(model, target_accept_prob=SETTINGS["target_accept"]),
                num_warmup=SETTINGS["warmup"], num_samples=SETTINGS["draws"], num_chains=CHAINS,
                chain_method="parallel", progress_bar=False)
    key = jax.random.PRNGKey(1)
    # JAX dispatches asynchronously: block, or the time lands in the next phase.
    _, warm_wall, warm_compile = phase(lambda: jax.block_until_ready(mcmc.warmup(
        key, inputs, y=stats, extra_fields=("num_steps",), collect_warmup=True) or mcmc.post_warmup_state))
    warm_grads = int(np.asarray(mcmc.get_extra_fields()["num_steps"]).sum())
    _, run_wall, run_compile = phase(lambda: jax.block_until_ready(mcmc.run(
        mcmc.post_warmup_state.rng_key, inputs, y=stats, extra_fields=("num_steps",)) or mcmc.get_samples()))
    grads = int(np.asarray(mcmc.get_extra_fields()["num_steps"]).sum())
    sampling = run_wall - run_compile

    settings = {**SETTINGS, "chains": CHAINS, "seed": 1}
    idata, convert_wall, _ = phase(lambda: to_inference_data(mcmc, model, args, data, settings))
    _, loo_wall, _ = phase(lambda: loo(idata))
    out = workdir / f"{name}_{strategy}.nc"
    _, write_wall, _ = phase(lambda: idata.to_netcdf(out))
    return {
        "dataset": name, "strategy": strategy, "rows": len(data.y), "groups": data.n_groups,
        "compile_s": warm_compile + run_compile, "warmup_s": warm_wall - warm_compile,
        "sampling_s": sampling, "predictive_and_idata_s": convert_wall, "loo_s": loo_wall,
        "write_s": write_wall, "netcdf_mb": out.stat().st_size / 1e6,
        "gradients_warmup": warm_grads, "gradients_sampling": grads,
        "us_per_gradient": 1e6 * sampling * 2 / grads,  # 4 chains on 2 cores
        **{f"ess_bulk_per_s_{k}": v for k, v in ess_per_second(idata, sampling).items()},
    }


def main():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name, (path, columns) in DATASETS.items():
            prepared = workdir / f"{name}.csv"
            prepare(str(path), **columns).to_csv(prepared, index=False)
            data = load_prepared(prepared)
            strategies = ["partial_pooling"] if name == "radon" else STRATEGIES
            rows += [profile(name, data, s, workdir) for s in strategies]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(ROOT / "bench" / "phases.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        print(" | ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
