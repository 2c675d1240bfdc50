"""Serve plotly.js from the ``plotly`` wheel as ``vendor/plotly.min.js``.

The machines have no internet, so charts cannot come from a CDN and the library is not copied
into the repository either: this finder exposes exactly one file of the installed package to
``collectstatic`` and whitenoise (``WHITENOISE_USE_FINDERS``), so the version served is always
the one pinned in requirements.txt."""
from __future__ import annotations

from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_URL_PATH = "vendor/plotly.min.js"


def _plotly_dir() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data"


class _OneFileStorage(FileSystemStorage):
    """Storage over plotly's package_data that lists only plotly.min.js under vendor/."""

    def __init__(self) -> None:
        super().__init__(location=str(_plotly_dir()))
        self.prefix = "vendor"

    def listdir(self, path):  # noqa: ANN001 - Storage API
        return ([], ["plotly.min.js"]) if path in ("", ".") else ([], [])


class PlotlyFinder(BaseFinder):
    def find(self, path: str, find_all: bool = False, **kwargs):  # noqa: ANN003 - Django passes all/find_all
        if path != PLOTLY_URL_PATH:
            return []  # Django's finders return an empty list for "not here", whatever find_all is
        match = str(_plotly_dir() / "plotly.min.js")
        return [match] if (find_all or kwargs.get("all")) else match

    def list(self, ignore_patterns):  # noqa: ANN001 - Finder API
        yield "plotly.min.js", _OneFileStorage()
