"""The notebook way, for comparison: every shipped dataset x strategy fitted in one
Python process with numpyro's defaults (one JAX device, so numpyro runs the chains
sequentially), then ArviZ's LOO comparison per dataset -- what a user would write in a
notebook with the same models and sampler settings."""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

import arviz as az  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402

from pooling import STRATEGIES  # noqa: E402
from pooling.data import Prepared, prepare  # noqa: E402
from pooling.fit import model_data  # noqa: E402
from pooling.models import MODELS, build_spec  # noqa: E402
from pooling.priors import resolve_priors  # noqa: E402
from pooling.simulate import simulate  # noqa: E402


def load(entry, workdir):
    if "simulate" in entry:
        table, _ = simulate(**entry["simulate"])
        path = workdir / "simulated.csv"
        table.to_csv(path, index=False)
    else:
        path = ROOT / entry["path"]
    columns = {k: entry.get(k) for k in ("group", "se")}
    table = prepare(str(path), entry["response"], **columns)
    codes, labels = table["group"].factorize()
    return Prepared(y=table["y"].to_numpy(), group=codes.astype(np.int32), group_labels=list(labels),
                    se=table["se"].to_numpy() if "se" in table else None, X=None, predictor_names=[],
                    U=None, group_predictor_names=[])


def main(workdir):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    start = time.perf_counter()
    for entry in config["datasets"].values():
        data = load(entry, workdir)
        fits = {}
        for strategy in STRATEGIES:
            priors = resolve_priors(strategy, {}, data)
            spec = build_spec(data.n_groups, priors)
            mcmc = MCMC(NUTS(MODELS[strategy], target_accept_prob=config["target_accept"]),
                        num_warmup=config["warmup"], num_samples=config["draws"],
                        num_chains=config["chains"], progress_bar=False)
            mcmc.run(jax.random.PRNGKey(0), spec, model_data(data, strategy),
                     y=data.y.astype(np.float32))
            fits[strategy] = az.from_numpyro(mcmc)
        print(az.compare(fits).iloc[:, :3].to_string(), flush=True)
    print(f"notebook way: {time.perf_counter() - start:.1f} s after imports")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        main(Path(tmp))
