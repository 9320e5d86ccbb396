"""The notebook way, for comparison: every shipped dataset x strategy fitted in one
Python process with numpyro's defaults (one JAX device, so numpyro runs the chains
sequentially), then ArviZ's LOO comparison per dataset -- what a user would write in a
notebook with the same models (the package's, on the rows, as the workflow's prepare_data
job reads each dataset) and sampler settings."""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

import arviz as az  # noqa: E402
import jax  # noqa: E402
import yaml  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402

from pooling import STRATEGIES  # noqa: E402
from pooling.data import for_strategy, from_table, prepare  # noqa: E402
from pooling.fit import model_data, structure  # noqa: E402
from pooling.models import strategy_model  # noqa: E402
from pooling.priors import resolve_priors  # noqa: E402
from pooling.simulate import simulate  # noqa: E402


def load(entry, workdir):
    """The dataset as the workflow's prepare_data job reads it (formula or shorthand)."""
    if "simulate" in entry:
        table, _ = simulate(**entry["simulate"])
        path = workdir / "simulated.csv"
        table.to_csv(path, index=False)
    else:
        path = ROOT / entry["path"]
    family = entry.get("family", "gaussian")
    if "formula" in entry:
        columns = {"formula": entry["formula"]}
    else:
        columns = {k: entry.get(k) for k in ("response", "group", "predictors", "group_predictors")
                   if entry.get(k)}
    return from_table(prepare(str(path), family=family, se=entry.get("se"), **columns)), family


def main(workdir):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    start = time.perf_counter()
    for entry in config["datasets"].values():
        prepared, family = load(entry, workdir)
        fits = {}
        for strategy in STRATEGIES:
            data = for_strategy(prepared, strategy)
            priors = resolve_priors(strategy, {}, data, family)
            model = strategy_model(strategy, data.n_groups, priors, "noncentered", family, **structure(data))
            mcmc = MCMC(NUTS(model, target_accept_prob=config["target_accept"]),
                        num_warmup=config["warmup"], num_samples=config["draws"],
                        num_chains=config["chains"], progress_bar=False)
            mcmc.run(jax.random.PRNGKey(0), model_data(data, strategy), y=data.y)
            fits[strategy] = az.from_numpyro(mcmc)
        print(az.compare(fits).iloc[:, :3].to_string(), flush=True)
    print(f"notebook way: {time.perf_counter() - start:.1f} s after imports")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        main(Path(tmp))
