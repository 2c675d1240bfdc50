"""Template hygiene: Django's ``{# … #}`` comment is single-line only. One that spans lines is not a
comment at all and its text is printed on the page (it happened twice: the bbox widget and the
dashboards' chart include). Multi-line comments must use ``{% comment %}``."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_multiline_hash_comments_in_templates():
    offenders = []
    for path in ROOT.glob("*/templates/**/*.html"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            rest = line
            while "{#" in rest:
                rest = rest[rest.index("{#") + 2:]
                if "#}" not in rest:
                    offenders.append(f"{path.relative_to(ROOT)}:{n}")
                    break
                rest = rest[rest.index("#}") + 2:]
    assert not offenders, "multi-line {# #} comments (printed on the page): " + ", ".join(offenders)
