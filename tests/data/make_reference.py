"""Regenerate eight_schools_noncentered_draws.csv.gz from posteriordb's reference draws.

    python tests/data/make_reference.py [SOURCE_JSON] [OUTPUT]

SOURCE_JSON defaults to ../shared/data/eight_schools/eight_schools-eight_schools_noncentered.json
beside the repository (posteriordb's
posterior_database/reference_posteriors/draws/draws/eight_schools-eight_schools_noncentered.json,
unzipped); OUTPUT defaults to this folder's eight_schools_noncentered_draws.csv.gz.

The JSON is a list of 10 chains, each {"theta[1]".."theta[8]", "mu", "tau"} -> 1,000 draws.
The CSV has one row per draw, chain-major (chain 0 draws 0..999, then chain 1, ...):
columns chain, draw (both from 0), mu, tau, theta[1]..theta[8], values written with
"%.6g" (6 significant digits; the JSON has 15), "\\n" line ends, no index. It is
gzip-compressed at level 9 with mtime 0 and no file name, so the same input gives the same
bytes with the same zlib. After writing, the script prints the largest differences between
the statistics tests/test_reference.py uses computed from the original draws and from the
written file.
"""

import gzip
import io
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[2] / "shared" / "data" / "eight_schools" / "eight_schools-eight_schools_noncentered.json"
OUTPUT = HERE / "eight_schools_noncentered_draws.csv.gz"
NAMES = ["mu", "tau"] + [f"theta[{j}]" for j in range(1, 9)]


def write(source, output):
    chains = json.loads(Path(source).read_text())
    text = io.StringIO()
    text.write(",".join(["chain", "draw", *NAMES]) + "\n")
    for c, chain in enumerate(chains):
        assert sorted(chain) == sorted(NAMES), sorted(chain)
        for d in range(len(chain["mu"])):
            text.write(f"{c},{d}," + ",".join(f"{chain[name][d]:.6g}" for name in NAMES) + "\n")
    Path(output).write_bytes(gzip.compress(text.getvalue().encode(), compresslevel=9, mtime=0))
    return chains


def check(chains, output):
    """Means, sds and tau's 5/50/95% quantiles and their MCSEs, original against written."""
    import arviz as az
    import numpy as np
    import pandas as pd

    def idata(draws):
        return az.from_dict(posterior={name: draws[name] for name in NAMES})

    original = idata({name: np.array([chain[name] for chain in chains]) for name in NAMES})
    table = pd.read_csv(output).sort_values(["chain", "draw"])
    shape = (table["chain"].nunique(), table["draw"].nunique())
    written = idata({name: table[name].to_numpy().reshape(shape) for name in NAMES})
    worst = {}
    for name in NAMES:
        a, b = original.posterior[name], written.posterior[name]
        worst[f"{name} mean"] = abs(float(a.mean()) - float(b.mean()))
        worst[f"{name} sd"] = abs(float(a.std()) - float(b.std()))
    for q in (0.05, 0.5, 0.95):
        a, b = original.posterior["tau"], written.posterior["tau"]
        worst[f"tau q{q}"] = abs(float(a.quantile(q)) - float(b.quantile(q)))
        worst[f"tau mcse q{q}"] = abs(
            float(az.mcse(original, var_names=["tau"], method="quantile", prob=q)["tau"])
            - float(az.mcse(written, var_names=["tau"], method="quantile", prob=q)["tau"]))
    for key, value in sorted(worst.items(), key=lambda kv: -kv[1]):
        print(f"{key:>20}: |original - written| = {value:.2e}")


if __name__ == "__main__":
    source = sys.argv[1] if len(sys.argv) > 1 else SOURCE
    output = sys.argv[2] if len(sys.argv) > 2 else OUTPUT
    check(write(source, output), output)
