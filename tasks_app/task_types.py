"""Per-task-type rules (issue 6), one registry used by the API, the services and the web pages.

For each ``Project.TaskType`` this module says:

- ``config_clean(task_type, config, labels)``: the checked ``type_config`` and the label list
  (derived for rating = the scale points and most_similar = "1".."N"; the box classes for bbox);
- ``answer_clean(task_type, config, labels, label, value)``: an annotator's answer as
  ``(label, value)``: ``value`` the structure, ``label`` its canonical string (what the engine
  counts and compares, <= 200 characters);
- ``example_clean``: the same for a customer's example / known answer (text keywords allowed);
- ``data_problem``: what an item's data lacks for the type (bbox image field, candidates);
- ``widget_context`` and ``describe``: what the answer widgets and the tutorial feedback show.

Answer values and canonical labels (README "Task types"):

=============  ==========================================  ==========================================
type           value                                       label
=============  ==========================================  ==========================================
single_choice  none                                        the chosen label
multi_choice   list of labels, in the project's order      labels joined by ``|`` (``(none)`` if empty)
rating         a number on the scale                       the number (``"4"``, ``"2.5"``)
text           the text as typed (exact / review mode);    the normalised text (NFKC, case-folded,
               keywords (list) for a keywords example      punctuation → space, spaces collapsed)
bbox           ``[{"label", "x", "y", "w", "h"}]``,        ``boxes:<n>:<digest>`` of the rounded boxes
               fractions of the image's width / height
most_similar   the candidate's number, 1..N                the number as a string
=============  ==========================================  ==========================================

Labels longer than 200 characters become ``sha256:<hex>`` of the long form.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from typing import Any

from django.core.exceptions import ValidationError

SINGLE, MULTI, RATING, TEXT, BBOX, SIMILAR, CONVERSATION = (
    "single_choice", "multi_choice", "rating", "text", "bbox", "most_similar", "conversation",
)
TEXT_MODES = ("exact", "keywords", "review")
MAX_SCALE_POINTS = 101
MAX_CANDIDATES = 9  # number keys 1..9 pick one
MAX_LABEL = 200

# How quality scores each type (quality.services.structured reads this):
#   categorical: the label is a class (Dawid-Skene confusion model, exact or ordinal check);
#   agreement:   similarity against the known value / between answers (Jaccard, IoU, text match);
#   subjective:  no right answer: fixed overlap, distribution delivered, hidden repeats graded
#                against the annotator's own first answer (self-consistency);
#   review:      free text judged by a reviewer (expert queue), checks not graded.
CATEGORICAL, AGREEMENT, SUBJECTIVE, REVIEW = "categorical", "agreement", "subjective", "review"


def scoring_kind(task_type: str, config: dict) -> str:
    if task_type == SINGLE:
        return CATEGORICAL
    if task_type == RATING:
        return SUBJECTIVE if config.get("subjective") else CATEGORICAL
    if task_type == SIMILAR:
        return SUBJECTIVE
    if task_type == TEXT and config.get("mode") == "review":
        return REVIEW
    if task_type in (MULTI, TEXT, BBOX):
        return AGREEMENT
    return CATEGORICAL


# --- helpers ---------------------------------------------------------------------------------

def _fail(field: str, *messages: str):
    raise ValidationError({field: list(messages)})


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def number_text(v: float) -> str:
    """A scale point as text: ``4`` not ``4.0``; at most 6 decimals."""
    v = round(float(v), 6)
    return str(int(v)) if v == int(v) else repr(v)


def _fit_label(text: str) -> str:
    if len(text) <= MAX_LABEL:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


_PUNCT = re.compile(r"\s+")


def text_normalise(text: str) -> str:
    """Unicode NFKC, case-folded, every punctuation or symbol character a space, runs of
    whitespace one space, trimmed: ``"  Café, au LAIT! "`` → ``"café au lait"``."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    return _PUNCT.sub(" ", text).strip()


def _keys(config: dict, allowed: set[str]) -> None:
    extra = sorted(set(config) - allowed)
    if extra:
        _fail("type_config", f"Unknown setting(s) for this task type: {', '.join(extra)}. Allowed: {', '.join(sorted(allowed))}.")


def _int_setting(config: dict, key: str, default: int, lo: int, hi: int) -> int:
    v = config.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        _fail("type_config", f"{key} must be a whole number from {lo} to {hi}.")
    return v


def _float_setting(config: dict, key: str, default: float, lo: float, hi: float) -> float:
    v = config.get(key, default)
    if not _number(v) or not lo <= v <= hi:
        _fail("type_config", f"{key} must be a number from {lo:g} to {hi:g}.")
    return float(v)


def _bool_setting(config: dict, key: str, default: bool) -> bool:
    v = config.get(key, default)
    if not isinstance(v, bool):
        _fail("type_config", f"{key} must be true or false.")
    return v


def _field_setting(config: dict, key: str, default: str) -> str:
    v = config.get(key, default)
    if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", v):
        _fail("type_config", f"{key} must be the name of a field of the item's data (letters, digits, _).")
    return v


def _distinct_labels(labels: list, minimum: int) -> list[str]:
    if (
        not isinstance(labels, list) or len(labels) < minimum or len(set(labels)) != len(labels)
        or not all(isinstance(x, str) and x.strip() and len(x) <= MAX_LABEL and "|" not in x for x in labels)
    ):
        what = "label" if minimum == 1 else "labels"
        _fail("labels", f"Give at least {minimum} distinct, non-empty {what} (at most 200 characters, no '|').")
    return list(labels)


# --- type_config -------------------------------------------------------------------------------

CONSISTENCY_TARGET_RANGE = (0.05, 0.9)


def _consistency_target(config: dict) -> float:
    """Subjective types: the least share of hidden repeats an annotator must answer as the first
    time (quality.services.subjective; on top of the chance-corrected bar, which caps at 0.9)."""
    return _float_setting(config, "consistency_target", 0.5, *CONSISTENCY_TARGET_RANGE)


def scale_points(config: dict) -> list[float]:
    lo, hi, step = config["min"], config["max"], config["step"]
    n = int(round((hi - lo) / step))
    return [round(lo + i * step, 6) for i in range(n + 1)]


def config_clean(task_type: str, config: Any, labels: Any, *, organization_id: int | None = None) -> tuple[dict, list[str]]:
    """The checked ``type_config`` (defaults filled in) and the project's label list.
    Raises ValidationError with ``type_config`` / ``labels`` field errors. ``organization_id``:
    the customer's, for settings that name another of their projects (a conversation's
    ``labelling_project``)."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        _fail("type_config", "Must be an object.")
    labels = [] if labels is None else labels
    if task_type == SINGLE:
        _keys(config, set())
        return {}, _distinct_labels(labels, 2)
    if task_type == MULTI:
        _keys(config, {"min_choices", "max_choices", "threshold"})
        labels = _distinct_labels(labels, 2)
        lo = _int_setting(config, "min_choices", 0, 0, len(labels))
        hi = _int_setting(config, "max_choices", len(labels), max(1, lo), len(labels))
        return {"min_choices": lo, "max_choices": hi, "threshold": _float_setting(config, "threshold", 0.5, 0.01, 1.0)}, labels
    if task_type == RATING:
        _keys(config, {"min", "max", "step", "subjective", "tolerance", "min_label", "max_label", "consistency_target"})
        lo, hi, step = (config.get(k, d) for k, d in (("min", 1), ("max", 5), ("step", 1)))
        if not (_number(lo) and _number(hi) and _number(step)) or step <= 0 or hi <= lo:
            _fail("type_config", "min, max and step must be numbers with min < max and step > 0.")
        n = (hi - lo) / step
        if abs(n - round(n)) > 1e-9:
            _fail("type_config", "max - min must be a whole number of steps.")
        if round(n) + 1 > MAX_SCALE_POINTS:
            _fail("type_config", f"A scale has at most {MAX_SCALE_POINTS} points.")
        out = {"min": lo, "max": hi, "step": step, "subjective": _bool_setting(config, "subjective", False),
               "tolerance": _float_setting(config, "tolerance", 0, 0, hi - lo)}
        for k in ("min_label", "max_label"):
            v = config.get(k, "")
            if not isinstance(v, str) or len(v) > 100:
                _fail("type_config", f"{k} must be a text of at most 100 characters.")
            out[k] = v
        if "consistency_target" in config:
            if not out["subjective"]:
                _fail("type_config", "consistency_target applies to subjective scales only (set subjective: true).")
            out["consistency_target"] = _consistency_target(config)
        derived = [number_text(p) for p in scale_points(out)]
        if labels and labels != derived:
            _fail("labels", f"Leave labels out for a rating scale (they are the scale points {derived[0]}..{derived[-1]}).")
        return out, derived
    if task_type == TEXT:
        _keys(config, {"mode", "max_length", "threshold"})
        mode = config.get("mode", "exact")
        if mode not in TEXT_MODES:
            _fail("type_config", f"mode must be one of: {', '.join(TEXT_MODES)}.")
        if labels:
            _fail("labels", "Leave labels out for free text.")
        return {"mode": mode, "max_length": _int_setting(config, "max_length", 2000, 1, 20000),
                "threshold": _float_setting(config, "threshold", 1.0, 0.01, 1.0)}, []
    if task_type == BBOX:
        _keys(config, {"image_field", "iou", "threshold", "max_boxes"})
        return {"image_field": _field_setting(config, "image_field", "image"),
                "iou": _float_setting(config, "iou", 0.5, 0.05, 1.0),
                "threshold": _float_setting(config, "threshold", 0.75, 0.01, 1.0),
                "max_boxes": _int_setting(config, "max_boxes", 50, 1, 500)}, _distinct_labels(labels, 1)
    if task_type == SIMILAR:
        _keys(config, {"item_field", "candidates_field", "n", "consistency_target"})
        if labels:
            _fail("labels", "Leave labels out for most-similar (they are the candidate numbers 1..N).")
        out = {"item_field": _field_setting(config, "item_field", "text"),
               "candidates_field": _field_setting(config, "candidates_field", "candidates"),
               "n": _int_setting(config, "n", 3, 2, MAX_CANDIDATES)}
        if out["item_field"] == out["candidates_field"]:
            _fail("type_config", "item_field and candidates_field must differ.")
        if "consistency_target" in config:
            out["consistency_target"] = _consistency_target(config)
        return out, [str(i) for i in range(1, out["n"] + 1)]
    if task_type == CONVERSATION:
        # roles, turn limits, timeouts and the labelling project: the conversation service's rules;
        # the labels are those of the onboarding questions (tutorial and qualifier are single choice)
        from .services.conversations import conversation_config_clean

        return conversation_config_clean(config=config, organization_id=organization_id), _distinct_labels(labels, 2)
    _fail("task_type", f"Task type {task_type!r} is not available through this API yet.")


# --- item data ---------------------------------------------------------------------------------

MAX_IMAGE_SIDE = 100_000  # pixels: larger is not a photograph but a typo


def image_size_valid(width: Any, height: Any) -> bool:
    """Whether ``width`` / ``height`` are an image's size in pixels (whole numbers 1..100000)."""
    return all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_IMAGE_SIDE for v in (width, height))


def image_size(data: Any) -> tuple[int, int] | None:
    """A bbox item's image size in pixels (``data.width`` / ``data.height``), or None if unknown."""
    if isinstance(data, dict) and image_size_valid(data.get("width"), data.get("height")):
        return data["width"], data["height"]
    return None


def data_problem(task_type: str, config: dict, data: Any) -> str | None:
    """Why ``data`` (an item's or example's content) cannot be shown for this type, or None.
    Boxes: ``width`` and ``height`` (the image's size in pixels, what a COCO export needs) are
    optional but, when given, both whole numbers from 1 to 100000."""
    if task_type == BBOX:
        url = data.get(config["image_field"]) if isinstance(data, dict) else None
        if not isinstance(url, str) or not re.match(r"^(https?://|/)\S+$", url) or len(url) > 2000:
            return f"data.{config['image_field']} must be the image's URL (http(s):// or a path from /)."
        if ("width" in data or "height" in data) and image_size(data) is None:
            return "data.width and data.height (the image's size in pixels) go together, as whole numbers from 1 to 100000."
    if task_type == SIMILAR:
        cands = data.get(config["candidates_field"]) if isinstance(data, dict) else None
        if not isinstance(cands, list) or len(cands) != config["n"]:
            return f"data.{config['candidates_field']} must be a list of exactly {config['n']} candidates."
        if not all(isinstance(c, str) or (isinstance(c, dict) and (isinstance(c.get("text"), str) or isinstance(c.get("image"), str))) for c in cands):
            return "Each candidate must be a text, or an object with a text or an image URL."
    return None


# --- answers -----------------------------------------------------------------------------------

def _boxes_clean(config: dict, labels: list[str], value: Any, field: str) -> list[dict]:
    if not isinstance(value, list):
        _fail(field, "Boxes must be a list of {label, x, y, w, h} objects.")
    if len(value) > config["max_boxes"]:
        _fail(field, f"At most {config['max_boxes']} boxes.")
    out = []
    for i, b in enumerate(value):
        if not isinstance(b, dict) or set(b) != {"label", "x", "y", "w", "h"}:
            _fail(field, f"Box {i + 1}: give exactly label, x, y, w, h.")
        if b["label"] not in labels:
            _fail(field, f"Box {i + 1}: {b['label']!r} is not one of the classes.")
        nums = [b[k] for k in ("x", "y", "w", "h")]
        if not all(_number(v) for v in nums):
            _fail(field, f"Box {i + 1}: x, y, w, h must be numbers (fractions of the image's width and height).")
        x, y, w, h = (float(v) for v in nums)
        eps = 1e-6
        if x < -eps or y < -eps or w <= 0 or h <= 0 or x + w > 1 + eps or y + h > 1 + eps:
            _fail(field, f"Box {i + 1}: must lie inside the image (0 <= x, y; w, h > 0; x + w <= 1; y + h <= 1).")
        out.append({"label": b["label"], "x": round(max(0.0, x), 6), "y": round(max(0.0, y), 6),
                    "w": round(min(w, 1 - max(0.0, x)), 6), "h": round(min(h, 1 - max(0.0, y)), 6)})
    return out


def boxes_label(boxes: list[dict]) -> str:
    canon = sorted((b["label"], round(b["x"], 4), round(b["y"], 4), round(b["w"], 4), round(b["h"], 4)) for b in boxes)
    digest = hashlib.sha256(json.dumps(canon).encode()).hexdigest()[:16]
    return f"boxes:{len(boxes)}:{digest}"


def canonical_label(task_type: str, config: dict, labels: list[str], value: Any) -> str:
    """The canonical label of an already-checked value."""
    if task_type == MULTI:
        return _fit_label("|".join(value) if value else "(none)")
    if task_type == RATING:
        return number_text(value)
    if task_type == TEXT:
        if isinstance(value, list):  # keywords
            return _fit_label("keywords:" + "|".join(value))
        return _fit_label(text_normalise(value))
    if task_type == BBOX:
        return boxes_label(value)
    if task_type == SIMILAR:
        return str(value)
    return value


def answer_clean(task_type: str, config: dict, labels: list[str], label: str | None, value: Any,
                 *, field: str = "value", keywords_ok: bool = False) -> tuple[str, Any]:
    """An answer as ``(label, value)``; ValidationError with a ``field`` error when it does not
    fit the type. ``single_choice`` takes ``label`` (or the value as the label)."""
    if task_type in (SINGLE, CONVERSATION):
        chosen = label if label else value
        if not isinstance(chosen, str) or chosen not in labels:
            _fail("label", f"{chosen!r} is not one of this project's labels.")
        return chosen, None
    if value is None:
        _fail(field, "An answer is required.")
    if task_type == MULTI:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(set(value)) != len(value):
            _fail(field, "Give a list of distinct labels.")
        unknown = [v for v in value if v not in labels]
        if unknown:
            _fail(field, f"Not among the labels: {', '.join(map(repr, unknown))}.")
        if not config["min_choices"] <= len(value) <= config["max_choices"]:
            _fail(field, f"Choose from {config['min_choices']} to {config['max_choices']} labels.")
        value = [lab for lab in labels if lab in value]  # the project's order
    elif task_type == RATING:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                _fail(field, "A rating must be a number.")
        if not _number(value) or number_text(value) not in labels:
            _fail(field, f"A rating must be one of the scale points {labels[0]}..{labels[-1]} (step {number_text(config['step'])}).")
        value = int(value) if float(value).is_integer() else float(value)
    elif task_type == TEXT:
        if keywords_ok and isinstance(value, list):
            kws = sorted({text_normalise(k) for k in value if isinstance(k, str)} - {""})
            if not kws or len(kws) != len(value) or not all(isinstance(k, str) for k in value):
                _fail(field, "Keywords must be a list of distinct, non-empty texts.")
            value = kws
        else:
            if not isinstance(value, str) or not text_normalise(value):
                _fail(field, "Write an answer (it cannot be empty or only punctuation).")
            if len(value) > config["max_length"]:
                _fail(field, f"At most {config['max_length']} characters.")
            value = value.strip()
    elif task_type == BBOX:
        value = _boxes_clean(config, labels, value, field)
    elif task_type == SIMILAR:
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= config["n"]:
            _fail(field, f"Pick a candidate number from 1 to {config['n']}.")
    return canonical_label(task_type, config, labels, value), value


def example_clean(task_type: str, config: dict, labels: list[str], label: str | None, value: Any, data: Any,
                  *, field: str) -> tuple[str, Any]:
    """A customer's example (or known answer): ``label`` for single choice, ``value`` for the
    others (a rating or candidate number may also come as the label). Keyword lists are
    allowed for text. Checks the data fits the type too."""
    problem = data_problem(task_type, config, data)
    if problem:
        _fail(field, problem)
    if task_type not in (SINGLE, CONVERSATION) and value is None and label not in (None, ""):
        if task_type in (RATING, SIMILAR):
            value = label
        elif task_type == TEXT:
            value = label
        else:
            _fail(field, "Give the correct answer as value (see the task type's value format).")
    return answer_clean(task_type, config, labels, label, value, field=field, keywords_ok=True)


# --- showing ----------------------------------------------------------------------------------

def widget_context(task_type: str, config: dict, labels: list[str], data: Any) -> dict:
    """What a task widget needs besides the label list: only the item's content, never any answer."""
    ctx: dict[str, Any] = {"type": task_type, "config": config}
    if task_type == RATING:
        ctx["points"] = [{"value": p, "key": str(i) if i <= 9 else ""} for i, p in enumerate(labels, start=1)]
    elif task_type == BBOX:
        ctx["image_url"] = data.get(config["image_field"]) if isinstance(data, dict) else None
        ctx["classes"] = labels
        # the task page reports the image's natural size while the item's data has none (COCO export)
        ctx["report_size"] = image_size(data) is None
    elif task_type == SIMILAR:
        cands = data.get(config["candidates_field"], []) if isinstance(data, dict) else []
        ctx["reference"] = data.get(config["item_field"]) if isinstance(data, dict) else None
        ctx["candidates"] = [
            {"number": i, "text": c if isinstance(c, str) else c.get("text"), "image": None if isinstance(c, str) else c.get("image")}
            for i, c in enumerate(cands, start=1)
        ]
    return ctx


def describe(task_type: str, label: str, value: Any) -> str:
    """A short human reading of an answer (tutorial feedback, qualifier review)."""
    if task_type == MULTI:
        return ", ".join(value) if value else "nothing"
    if task_type == TEXT:
        if isinstance(value, list):
            return "an answer mentioning: " + ", ".join(value)
        return f"“{value}”"
    if task_type == BBOX:
        if not value:
            return "no boxes"
        counts: dict[str, int] = {}
        for b in value:
            counts[b["label"]] = counts.get(b["label"], 0) + 1
        return f"{len(value)} box(es): " + ", ".join(f"{n} × {k}" for k, n in counts.items())
    if task_type == SIMILAR:
        return f"candidate {value}"
    return label


# --- grading -----------------------------------------------------------------------------------

def answer_matches(task_type: str, config: dict, label: str, value: Any, known_label: str, known_value: Any) -> bool:
    """Whether an answer matches a known answer under the type's rule (``tasks_app.similarity``):
    exact label for single choice and most-similar, within ``tolerance`` for a rating, Jaccard /
    text / box F1 at least ``threshold`` for the others. The quality engine grades hidden checks
    of the objective types with it; the tutorial and qualifier grade every type with it (for a
    subjective type the customer's reference answer stands in for a right one)."""
    from . import similarity  # scipy: loaded when first needed, not with the models

    if task_type == RATING:
        known = known_value if known_value is not None else float(known_label)
        return similarity.matches(task_type, config, float(label), float(known))
    if task_type in (MULTI, TEXT, BBOX):
        if task_type == TEXT:
            value = text_normalise(value or "")
        return similarity.matches(task_type, config, value, known_value)
    return label == known_label


# --- form responses (tutorial, qualifier) ------------------------------------------------------

def response_parse(task_type: str, config: dict, labels: list[str], raw: str, *, field: str = "value") -> tuple[str, Any]:
    """A form's answer as ``(label, value)``: the label itself for single choice, else the JSON
    the type's widget wrote. ValidationError when it cannot be read or does not fit the type."""
    if task_type in (SINGLE, CONVERSATION):
        return answer_clean(task_type, config, labels, raw, None, field=field)
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        _fail(field, "The answer could not be read.")
    return answer_clean(task_type, config, labels, None, value, field=field)


def response_store(task_type: str, label: str, value: Any) -> str:
    """How a graded form answer is kept (a qualifier attempt's responses): the label for single
    choice, the value's JSON otherwise (read back by ``response_parse``)."""
    return label if task_type in (SINGLE, CONVERSATION) else json.dumps(value)


def response_review(task_type: str, config: dict, labels: list[str], raw: str | None, known_label: str,
                    known_value: Any) -> tuple[str | None, bool]:
    """A kept form answer for the review page: (its reading, whether it matched the known answer)."""
    if raw is None:
        return None, False
    try:
        label, value = response_parse(task_type, config, labels, raw)
    except ValidationError:
        return raw, False
    return describe(task_type, label, value), answer_matches(task_type, config, label, value, known_label, known_value)


def feedback_notes(task_type: str, config: dict, value: Any, known_value: Any) -> list[str]:
    """What the tutorial says beyond right / wrong: which parts of a structured answer matched."""
    from . import similarity

    if task_type == MULTI:
        chosen, right = set(value), set(known_value)
        notes = []
        if chosen & right:
            notes.append("Right: " + ", ".join(sorted(chosen & right)) + ".")
        if right - chosen:
            notes.append("Missed: " + ", ".join(sorted(right - chosen)) + ".")
        if chosen - right:
            notes.append("Not in the answer: " + ", ".join(sorted(chosen - right)) + ".")
        notes.append(f"Overlap {similarity.jaccard(value, known_value):.0%} (needed {config['threshold']:.0%}).")
        return notes
    if task_type == TEXT and isinstance(known_value, list):
        text = f" {text_normalise(value)} "
        found = [k for k in known_value if f" {k} " in text]
        missing = [k for k in known_value if k not in found]
        notes = [f"Keywords found: {', '.join(found) or 'none'}."]
        if missing:
            notes.append(f"Missing: {', '.join(missing)}.")
        return notes
    if task_type == TEXT:
        return [f"Compared after normalising case, spaces and punctuation: “{text_normalise(value)}” "
                f"against “{text_normalise(known_value)}”."]
    if task_type == BBOX:
        pairs = similarity.box_matches(value, known_value, config["iou"])
        notes = [f"{len(pairs)} of {len(known_value)} box(es) matched (same class, overlap IoU ≥ {config['iou']:g})."]
        if len(value) > len(pairs):
            notes.append(f"{len(value) - len(pairs)} of your boxes matched none.")
        return notes
    if task_type == RATING and config.get("subjective"):
        return ["This scale is subjective: there is no single right answer; the reference is the customer's own rating."]
    if task_type == SIMILAR:
        return ["Most-similar is subjective: the reference is the customer's own pick."]
    return []
