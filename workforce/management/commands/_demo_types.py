"""Demo projects of the structured task types (issue 6) for ``seed_demo``: one live project per
type, so a newcomer sees every widget. Examples carry their correct answers as ``value``."""
from __future__ import annotations

from tasks_app import services as task_services
from tasks_app.models import Organization, Project

IMG = "/static/workforce/demo/{}.svg"
# the demo images' shapes as fractions of the 400 x 300 picture
BOXES = {
    "shapes": [{"label": "square", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4},
               {"label": "circle", "x": 0.55, "y": 0.333333, "w": 0.35, "h": 0.466667}],
    "shapes2": [{"label": "square", "x": 0.075, "y": 0.1, "w": 0.25, "h": 0.333333},
                {"label": "square", "x": 0.625, "y": 0.5, "w": 0.3, "h": 0.4}],
    "shapes3": [{"label": "circle", "x": 0.1, "y": 0.466667, "w": 0.3, "h": 0.4},
                {"label": "square", "x": 0.55, "y": 0.133333, "w": 0.35, "h": 0.366667}],
}
PUPPIES = [
    "A sleepy beagle puppy curled up in a laundry basket.", "A muddy retriever puppy grinning after a walk in the rain.",
    "A tiny pug puppy wearing a knitted jumper.", "A blurry photo of a puppy's tail disappearing behind a sofa.",
    "Two dachshund puppies sharing one cushion.", "A husky puppy with one blue and one brown eye.",
]
SIMILAR = [
    ("A red apple on a wooden table.", ["A green pear on a table", "A red car parked outside", "A blue bicycle"]),
    ("A cat sleeping in the sun.", ["A dog running on a beach", "A kitten napping on a windowsill", "A sunflower field"]),
    ("A cup of black coffee.", ["A glass of orange juice", "A teapot", "An espresso in a small cup"]),
    ("A snowy mountain peak.", ["A sandy desert dune", "An alpine summit in winter", "A city skyline"]),
]
CITIES = [("Which city has the Eiffel Tower?", ["paris"]), ("Name the capital of Japan.", ["tokyo"]),
          ("Which city is home to the Colosseum?", ["rome"]), ("The Brandenburg Gate stands in which city?", ["berlin"]),
          ("Which city has the Sydney Opera House?", ["sydney"])]
TOPPINGS = [("Margherita: tomato, mozzarella, basil.", ["tomato", "cheese"]),
            ("Hawaiian: ham, pineapple, cheese.", ["cheese", "meat", "fruit"]),
            ("Marinara: tomato, garlic, oregano.", ["tomato"]), ("Pepperoni and mushroom, extra cheese.", ["cheese", "meat"]),
            ("Four cheeses.", ["cheese"]), ("Salami, olives and tomato.", ["tomato", "meat"])]
ROLES = ["tutorial", "qualifier", "qualifier", "known", "known", "known"]


def _ex(data, value, i, why=""):
    return task_services.ExampleIn(data=data, value=value, role=ROLES[i % len(ROLES)] if i < len(ROLES) else "known",
                                   explanation=why)


def _specs() -> list[dict]:
    return [
        dict(name="Pizza toppings (multiple choice)", task_type="multi_choice", labels=["tomato", "cheese", "meat", "fruit"],
             instructions="Tick every kind of topping the pizza description mentions (number keys toggle).",
             examples=[_ex({"text": t}, v, i, "Tick each kind mentioned.") for i, (t, v) in enumerate(TOPPINGS)],
             items=[{"text": f"{t} (order {n})"} for n in range(4) for t, _ in TOPPINGS]),
        dict(name="Rate the puppy photos (subjective 1–5)", task_type="rating",
             type_config={"min": 1, "max": 5, "subjective": True, "min_label": "meh", "max_label": "adorable"},
             instructions="How cute is the puppy in the photo description? There is no wrong answer: give your honest rating.",
             examples=[_ex({"text": t}, 5 - i % 3, i, "The customer's own rating.") for i, t in enumerate(PUPPIES)],
             items=[{"text": f"{t} (photo {n})"} for n in range(4) for t in PUPPIES]),
        dict(name="Name the city (free text, keywords)", task_type="text", type_config={"mode": "keywords"},
             instructions="Answer in a word or two. Spelling counts; case and punctuation do not.",
             examples=[_ex({"text": q}, k, i, f"The answer is {k[0].title()}.") for i, (q, k) in enumerate(CITIES + CITIES[:1])],
             items=[{"text": f"{q} (#{n})"} for n in range(4) for q, _ in CITIES]),
        dict(name="Box the shapes (bounding boxes)", task_type="bbox", labels=["square", "circle"],
             instructions="Drag on the image to draw a tight box around every square and every circle. Keys 1–2 choose the class.",
             examples=[_ex({"image": IMG.format(k)}, BOXES[k], i, "Tight boxes around each shape.")
                       for i, k in enumerate(["shapes", "shapes2", "shapes3", "shapes", "shapes2", "shapes3"])],
             items=[{"image": IMG.format(k)} for _ in range(5) for k in BOXES]),
        dict(name="Most similar picture (pick 1 of 3)", task_type="most_similar", type_config={"n": 3},
             instructions="Pick the candidate most similar to the description at the top (keys 1–3).",
             examples=[_ex({"text": t, "candidates": c}, [2, 2, 3, 2][i % 4], i) for i, (t, c) in enumerate(SIMILAR + SIMILAR[:2])],
             items=[{"text": t, "candidates": c} for _ in range(4) for t, c in SIMILAR]),
    ]


def seed_task_types(org: Organization) -> list[Project]:
    """Create the demo projects that are not there yet (by name); returns them all."""
    out = []
    for s in _specs():
        project = Project.objects.filter(organization=org, name=s["name"]).first()
        if project is None:
            items = s.pop("items")
            project = task_services.project_create(organization=org, accuracy_target=0.9, qualifier_wait_seconds=60, **s)
            task_services.items_upload(project=project, rows=[{"external_id": f"demo-{i + 1:03d}", "data": d} for i, d in enumerate(items)])
            project = task_services.project_launch(project=project)
        out.append(project)
    return out
