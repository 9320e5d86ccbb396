"""Fetching pinned source files with the standard library only (no extra dependency)."""

import hashlib
import http.client
import logging
import os
import urllib.request
from pathlib import Path

from .errors import DownloadError

log = logging.getLogger(__name__)


def download(url, target, sha256, config_key, timeout=60):
    """Fetch `url` to `target` and check it against the pinned `sha256`.

    The bytes go to a temporary file beside `target` that is renamed only once the
    checksum passes, so `target` is never a partial or unverified file: Snakemake can
    trust an existing one and not fetch it again. `config_key` names the config entry
    that holds the URL and checksum, for the error messages.
    """
    target = Path(target)
    part = target.with_name(f".{target.name}.part")
    try:
        actual = _fetch(url, part, config_key, timeout)
        if actual != sha256:
            raise DownloadError(
                f"{target}: sha256 of {url} is {actual} but config `{config_key}.sha256` "
                f"expects {sha256}; the file was deleted. Check `{config_key}.url`, or pin "
                f"the new sha256 if the file changed on purpose"
            )
        os.replace(part, target)
        log.info("%s: %s, sha256 %s", target, url, actual)
    finally:
        part.unlink(missing_ok=True)


def _fetch(url, path, config_key, timeout):
    """Stream `url` into `path`; return the sha256 of what arrived."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(path, "wb") as out:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
    except (OSError, http.client.HTTPException) as error:  # URLError is an OSError
        reason = getattr(error, "reason", None) or error
        raise DownloadError(
            f"cannot download {url} ({reason}); check `{config_key}.url` and the network"
        ) from None
    return digest.hexdigest()
