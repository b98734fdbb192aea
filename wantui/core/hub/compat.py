"""huggingface_hub across its 0.x and 1.x APIs.

musubi-tuner v0.3.4 pins huggingface_hub 0.34.3, and many users install wantui into that
venv; a fresh install gets 1.x. The two differ in the places wantui touches: 1.x added
``RemoteEntryNotFoundError`` and gave ``http_get`` a ``tqdm_class``; 0.x takes a ready bar
as ``_tqdm_bar``. Everything version-dependent about the hub client is decided here.
"""

from __future__ import annotations

import inspect
from typing import Any, BinaryIO


def entry_not_found_errors() -> tuple[type[BaseException], ...]:
    """The exception types meaning "the repository has no such file"."""
    from huggingface_hub import errors

    names = ("RemoteEntryNotFoundError", "EntryNotFoundError")  # the first is 1.x only
    return tuple(t for t in (getattr(errors, n, None) for n in names) if isinstance(t, type))


def silent_http_get(
    url: str,
    out: BinaryIO,
    *,
    resume_size: int,
    headers: dict[str, str],
    expected_size: int | None,
    displayed_filename: str,
) -> None:
    """``huggingface_hub.file_download.http_get`` with its progress bar switched off
    (wantui reports progress itself), whichever keyword this version takes for that."""
    from huggingface_hub.file_download import http_get
    from tqdm.auto import tqdm

    params = inspect.signature(http_get).parameters
    kwargs: dict[str, Any] = {
        "resume_size": resume_size,
        "headers": headers,
        "expected_size": expected_size,
        "displayed_filename": displayed_filename,
    }
    if "tqdm_class" in params:  # huggingface_hub >= 1.0

        class Silent(tqdm):  # type: ignore[misc, valid-type]
            def __init__(self, *a: Any, **kw: Any) -> None:
                kw["disable"] = True
                super().__init__(*a, **kw)

        kwargs["tqdm_class"] = Silent
        http_get(url, out, **kwargs)
        return
    if "_tqdm_bar" in params:  # 0.x: a bar that is already disabled is used as it is
        with tqdm(disable=True) as bar:
            kwargs["_tqdm_bar"] = bar
            http_get(url, out, **kwargs)
        return
    http_get(url, out, **kwargs)
