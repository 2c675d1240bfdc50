"""Profile attributes: the closed list of what a survey answer or the profile form can set and
what an audience rule can test. Pure Python (no Django models): surveys, audience rules, the
API and the forms all validate against this one table, so a rule on an unknown attribute and a
survey answer of the wrong type fail the same way everywhere.

Kinds: ``number`` (an int within ``min``..``max``), ``single`` (one of ``choices``), ``multi``
(a non-empty list of ``choices``, or free tags when ``choices`` is None), ``text`` (a short
string, normalised by ``normalise``).

Contradictions (self-reported demographics are a fraud vector): a re-asked single-valued
attribute contradicts the earlier answer when it differs; age contradicts when the birth year
it implies moves by more than one year; education contradicts when it goes *down*. Multi-valued
attributes (languages, skills, devices) grow over time and never contradict.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

GENDERS = ["woman", "man", "non_binary", "prefer_not_to_say"]
EDUCATION = ["none", "secondary", "vocational", "bachelor", "master", "doctorate"]
DEVICES = ["desktop", "laptop", "phone", "tablet"]
MIN_AGE, MAX_AGE = 16, 100  # Cadre's terms: annotators are 16 or older; above 100 is not credible
TAG_RE = re.compile(r"^[a-z][a-z0-9_\-]{0,39}$")


@dataclass(frozen=True)
class Attribute:
    key: str
    label: str
    kind: str  # number | single | multi | text
    choices: tuple[str, ...] | None = None
    min: int | None = None
    max: int | None = None
    pattern: str | None = None  # for text / free tags


ATTRIBUTES: dict[str, Attribute] = {a.key: a for a in [
    Attribute("age", "Age", "number", min=MIN_AGE, max=MAX_AGE),
    Attribute("gender", "Gender", "single", tuple(GENDERS)),
    Attribute("country", "Country of residence (ISO code, e.g. DE)", "text", pattern=r"^[A-Z]{2}$"),
    Attribute("languages", "Languages you read fluently (ISO codes, e.g. en, de)", "multi", pattern=r"^[a-z]{2}$"),
    Attribute("education", "Highest education", "single", tuple(EDUCATION)),
    Attribute("skills", "Skills / expertise (tags, e.g. medicine, law, python)", "multi", pattern=TAG_RE.pattern),
    Attribute("device", "Devices you work on", "multi", tuple(DEVICES)),
]}
# The profile is complete (one of the vetting conditions) when these are known.
PROFILE_REQUIRED = ("age", "country", "languages")


class AttributeError_(ValueError):
    """A value that does not fit its attribute (message for a person)."""


def normalise(key: str, value):
    """The stored form of ``value`` for attribute ``key``, or AttributeError_ with a clear
    message. Strings from forms are accepted for numbers ("34") and lists ("en, de")."""
    attr = ATTRIBUTES.get(key)
    if attr is None:
        raise AttributeError_(f"Unknown attribute {key!r}; known: {', '.join(ATTRIBUTES)}.")
    if attr.kind == "number":
        if isinstance(value, bool):
            raise AttributeError_(f"{attr.label}: enter a whole number.")
        if isinstance(value, str):
            value = value.strip()
            if not re.fullmatch(r"-?\d{1,4}", value):
                raise AttributeError_(f"{attr.label}: enter a whole number.")
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise AttributeError_(f"{attr.label}: enter a whole number.")
        if (attr.min is not None and value < attr.min) or (attr.max is not None and value > attr.max):
            raise AttributeError_(f"{attr.label}: {value} is not possible (between {attr.min} and {attr.max}).")
        return value
    if attr.kind == "single":
        if not isinstance(value, str) or value not in attr.choices:
            raise AttributeError_(f"{attr.label}: choose one of {', '.join(attr.choices)}.")
        return value
    if attr.kind == "text":
        if not isinstance(value, str):
            raise AttributeError_(f"{attr.label}: enter text.")
        value = value.strip().upper() if key == "country" else value.strip()
        if not value or len(value) > 200 or (attr.pattern and not re.fullmatch(attr.pattern, value)):
            raise AttributeError_(f"{attr.label}: {value!r} is not a valid value.")
        return value
    # multi
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) for v in value):
        raise AttributeError_(f"{attr.label}: give a non-empty list of values.")
    out = sorted({v.strip().lower() for v in value})
    for v in out:
        if attr.choices is not None and v not in attr.choices:
            raise AttributeError_(f"{attr.label}: {v!r} is not one of {', '.join(attr.choices)}.")
        if attr.choices is None and attr.pattern and not re.fullmatch(attr.pattern, v):
            raise AttributeError_(f"{attr.label}: {v!r} is not a valid value.")
    if len(out) > 30:
        raise AttributeError_(f"{attr.label}: at most 30 values.")
    return out


def birth_year(age: int, on: date) -> int:
    return on.year - age


def contradicts(key: str, old, old_on: date, new, new_on: date) -> bool:
    """Whether ``new`` (answered on ``new_on``) contradicts ``old`` (answered on ``old_on``)."""
    attr = ATTRIBUTES[key]
    if attr.kind == "multi":
        return False
    if key == "age":
        return abs(birth_year(old, old_on) - birth_year(new, new_on)) > 1
    if key == "education":
        return EDUCATION.index(new) < EDUCATION.index(old)
    return old != new


def age_now(age: int, answered_on: date, today: date) -> int:
    """Age today from an age given on an earlier day (whole years elapsed added)."""
    return age + max(0, (today - answered_on).days // 365)
