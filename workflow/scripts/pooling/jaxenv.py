"""Size JAX to the Snakemake job before JAX starts (XLA reads its flags only once)."""

import os
import sys


def configure_jax(chains, threads, cache_dir=None):
    """One host device per chain so numpyro runs chains in parallel in one compiled
    program (fewer devices make it fall back to slow sequential chains), and
    single-threaded XLA kernels so a job uses about `threads` cores, not all of them.

    The device count does not depend on `threads`, so draws are identical whatever
    `--cores` a run gets.

    Arithmetic is float64: with float32 the log density of a million rows is only
    known to ~0.2 (its spacing near 1e6), NUTS's acceptance probabilities become
    noise, warmup shrinks the step size to ~1e-4 and every draw hits the maximum tree
    depth (measured at 10^6 rows; float64 costs nothing measurable at 10^3-10^4 rows).

    `cache_dir` turns on JAX's persistent compilation cache for every compile (numpyro's
    ~150 small setup compiles are most of a small fit's time); a cache directory already
    set in the environment (JAX_COMPILATION_CACHE_DIR) wins. Cached programs are the
    same programs, so draws do not change.
    """
    if "jax" in sys.modules:
        raise RuntimeError("configure_jax must run before jax is imported")
    flags = [
        f"--xla_force_host_platform_device_count={int(chains)}",
        "--xla_cpu_multi_thread_eigen=false",
        f"intra_op_parallelism_threads={max(1, int(threads))}",
    ]
    os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), *flags]).strip()
    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ["JAX_ENABLE_X64"] = "1"
    os.environ["OMP_NUM_THREADS"] = str(max(1, int(threads)))
    if cache_dir:
        os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.abspath(cache_dir))
        os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
        os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
