"""One small valid spec per structured task type (issue 6), shared by the API, scoring and browser tests."""
from __future__ import annotations

from typing import Any

IMAGE = "/static/workforce/demo/shapes.svg"
SQUARE = {"label": "square", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4}
CIRCLE = {"label": "circle", "x": 0.55, "y": 0.333333, "w": 0.35, "h": 0.466667}


def _ex(data: Any, value: Any, role: str) -> dict:
    return {"data": data, "value": value, "role": role, "explanation": f"because {role}"}


def spec(task_type: str) -> dict[str, Any]:
    """API body (without name / instructions / target) and a function giving item data."""
    if task_type == "multi_choice":
        labels, config = ["red", "green", "blue"], {"threshold": 0.5}
        answers = [["red"], ["red", "blue"], ["green"], ["blue"], ["red", "green"]]
        data = lambda i: {"text": f"A flag with colours #{i}"}  # noqa: E731
    elif task_type == "rating":
        labels, config = [], {"min": 1, "max": 5, "subjective": True, "min_label": "not cute", "max_label": "very cute"}
        answers = [5, 4, 2, 3, 1]
        data = lambda i: {"text": f"Puppy photo #{i}"}  # noqa: E731
    elif task_type == "text":
        labels, config = [], {"mode": "keywords", "threshold": 0.5}
        answers = [["paris"], ["berlin", "germany"], ["rome"], ["madrid", "spain"], ["oslo"]]
        data = lambda i: {"text": f"Which city is in picture #{i}?"}  # noqa: E731
    elif task_type == "bbox":
        labels, config = ["square", "circle"], {"image_field": "image"}
        answers = [[SQUARE], [SQUARE, CIRCLE], [CIRCLE], [SQUARE], [CIRCLE]]
        data = lambda i: {"image": IMAGE, "id": i}  # noqa: E731
    elif task_type == "most_similar":
        labels, config = [], {"n": 3}
        answers = [1, 2, 3, 1, 2]
        data = lambda i: {"text": f"A small brown dog #{i}", "candidates": ["a brown puppy", "a grey cat", "a red car"]}  # noqa: E731
    else:
        raise ValueError(task_type)
    roles = ["tutorial", "qualifier", "known", "known", "known"]
    return {
        "task_type": task_type,
        "labels": labels,
        "type_config": config,
        "examples": [_ex(data(100 + i), a, r) for i, (a, r) in enumerate(zip(answers, roles))],
        "item_data": data,
    }


TYPES = ["multi_choice", "rating", "text", "bbox", "most_similar"]
