"""Demo data for the two analyses (``manage.py seed_analysis_demo`` and the browser tests).

- **Puppy cuteness** (task type ``rating``, 1–5): 12 women, 12 men and 3 non-binary annotators
  (a group under 5: suppressed) rate the same puppy photos; each photo gets ratings from 3
  women and 3 men; women's ratings are ``shift`` (default 0.6) higher on the latent scale —
  the seed case the demographic analysis must find. The audience asked for at least 50 %
  of answers from women and people aged 18–60.
- **Headline topics** (single choice): headlines with topic words, delivered in one batch
  with ``flip`` (default 8 %) of the labels wrong — what the suspects page must find.

Answers are written directly (not scored: the analyses read answers and deliveries, not the
engine's state). Idempotent by project name: an existing demo project is returned as is.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from tasks_app import services as task_services
from tasks_app.models import Answer, DeliveryBatch, Item, Organization, Project
from workforce.models import AnnotatorProfile
from workforce.services import audience as audience_service
from workforce.services.profiles import profile_update
from workforce.services.vetting import annotator_make_active

from .synthetic import TOPIC_WORDS, synthetic_headlines

PUPPIES = "Puppy cuteness (demo)"
TOPICS = "Headline topics (demo)"
@dataclass
class Demo:
    puppies: Project
    topics: Project
    batch: DeliveryBatch
    flipped: dict[str, str]  # external id -> true label, for items delivered wrong


def _annotator(username: str, password_hash: str, values: dict):
    """``password_hash``: the demo password hashed once for all 27 (one PBKDF2 run is ~0.3 s, which
    made 85% of the seed's time; one shared salt is harmless for demo accounts with a public password)."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create(username=username, password=password_hash, email=f"{username}@example.com")
        AnnotatorProfile.objects.create(user=user, display_name=username.capitalize())
        profile_update(annotator=user, values=values)
        annotator_make_active(annotator=user, reason="Demo annotator for the analysis pages.")
    return user


def _project(org: Organization, name: str, labels: list[str], examples: list[tuple[dict, str]], instructions: str) -> Project:
    return task_services.project_create(
        organization=org, name=name, instructions=instructions, labels=labels, accuracy_target=0.9,
        examples=[task_services.ExampleIn(data=d, label=lab) for d, lab in examples],
    )


def seed(*, organization: Organization | None = None, password: str = "cadre-demo-2026", shift: float = 0.6,
         flip: float = 0.08, photos: int = 40, headlines: int = 240, seed: int = 2026) -> Demo:
    rng = random.Random(seed)
    org = organization or Organization.objects.get_or_create(name="Demo analysis customer")[0]
    existing = Project.objects.filter(organization=org, name__in=[PUPPIES, TOPICS])
    if existing.count() == 2:
        puppies, topics = existing.get(name=PUPPIES), existing.get(name=TOPICS)
        return Demo(puppies, topics, topics.delivery_batches.order_by("number").first(), {})
    people = {"woman": [], "man": [], "non_binary": []}
    password_hash = make_password(password)
    for g, n in (("woman", 12), ("man", 12), ("non_binary", 3)):
        for i in range(n):
            # women and men alike in age and country, so only gender carries the effect; the three
            # non-binary annotators (a group under 5, never shown) are all 60+, a band too small to show
            age = 61 + i if g == "non_binary" else 20 + (i * 7) % 40
            people[g].append(_annotator(f"demo_{g}_{i}", password_hash, {
                "gender": g, "age": age, "country": ["DE", "FR", "GB"][i % 3], "languages": ["en"]}))
    with transaction.atomic():
        puppies = _project(org, PUPPIES, ["1", "2", "3", "4", "5"],
                           [({"image": f"puppy-example-{i}.jpg"}, str(1 + i % 5)) for i in range(5)],
                           "How cute is this puppy? 1 = not at all, 5 = extremely.")
        puppies.task_type = Project.TaskType.RATING
        puppies.type_config = {"min": 1, "max": 5}
        puppies.save(update_fields=["task_type", "type_config"])
        task_services.items_upload(project=puppies, rows=[
            {"external_id": f"puppy-{i}", "data": {"image": f"puppy-{i}.jpg"}} for i in range(photos)])
        puppies = task_services.project_launch(project=puppies)
        audience_service.audience_set(project=puppies, rules={"age": {"min": 18, "max": 60}},
                                      quotas=[{"attribute": "gender", "values": ["woman"], "min_share": 0.5}])
        answers = []
        for item in Item.objects.filter(project=puppies, is_known=False).order_by("id"):
            cute = rng.gauss(3.0, 0.8)
            raters = [(u, shift) for u in rng.sample(people["woman"], 3)] + [(u, 0.0) for u in rng.sample(people["man"], 3)]
            raters += [(people["non_binary"][item.pk % 3], shift / 2)]  # between: no band is tilted by them
            for user, extra in raters:
                r = min(5, max(1, round(cute + extra + rng.gauss(0, 0.6))))
                answers.append(Answer(item=item, project=puppies, annotator=user, label=str(r), value=r,
                                      client_key=f"demo-{item.pk}-{user.pk}"))
        Answer.objects.bulk_create(answers)

        topics = _project(org, TOPICS, sorted(TOPIC_WORDS),
                          [({"text": f"{w} example"}, lab) for lab, ws in TOPIC_WORDS.items() for w in ws.split()[:2]],
                          "Which topic is this headline about?")
        datas, true_labels, given_labels = synthetic_headlines(headlines, flip=flip, rng=rng)
        rows = [{"external_id": f"headline-{i}", "data": data} for i, data in enumerate(datas)]
        task_services.items_upload(project=topics, rows=rows)
        topics = task_services.project_launch(project=topics)
        everyone = people["woman"] + people["man"]
        flipped: dict[str, str] = {}
        answers = []
        now = timezone.now()
        for item in Item.objects.filter(project=topics, is_known=False).order_by("id"):
            i = int(item.external_id.rsplit("-", 1)[1])
            given = given_labels[i]
            if given != true_labels[i]:
                flipped[item.external_id] = true_labels[i]
            for user in rng.sample(everyone, 2):  # both answers gave the delivered label
                answers.append(Answer(item=item, project=topics, annotator=user, label=given,
                                      client_key=f"demo-{item.pk}-{user.pk}"))
            Item.objects.filter(pk=item.pk).update(status=Item.Status.ACCEPTED, label=given, p_correct=0.95,
                                                  answers_count=2, answers_wanted=2, decided_at=now)
        Answer.objects.bulk_create(answers)
    batch = task_services.batch_cut(project=topics, kind=DeliveryBatch.Kind.REQUESTED)
    return Demo(puppies, topics, batch, flipped)
