"""Job logging: everything goes to the Snakemake log file, user errors as one last line."""

import logging
import sys
import warnings
from contextlib import contextmanager

from .errors import PoolingError


@contextmanager
def logged(path):
    """Log to `path`; a PoolingError ends the job with its message as the log's last line.

    Unexpected exceptions keep their traceback (in the log) because they are bugs.
    """
    logging.basicConfig(
        filename=path,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)
    warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")
    try:
        yield logging.getLogger("pooling")
    except PoolingError as error:
        logging.shutdown()
        with open(path, "a") as log:
            log.write(f"ERROR: {error}\n")
        print(f"ERROR: {error}", file=sys.stderr)
        sys.exit(1)
    except Exception:
        logging.getLogger("pooling").exception("unexpected failure")
        raise
