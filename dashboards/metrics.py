"""Prometheus exposition for ``/ops/metrics``.

Decision: a **custom collector that reads PostgreSQL and Redis at scrape time**
(``dashboards.selectors.metrics``), not in-process counters. Gunicorn runs several workers and
Celery scores answers in another process; per-process counters would each see a slice (and
multiprocess mode needs a shared directory and its clean-up on restarts). The database already
holds every fact: an answer is scored when ``scored_at`` is set, the decision latency is
``scored_at − created_at``, a revocation is a ``GatingDecision`` row. So any worker answers a
scrape with the same numbers, and counters survive restarts. Cost: about eight aggregate queries
per scrape; scrape every 30–60 s. The two counters (answers scored, revocations) are a stored
tally up to a mark plus the events after it (``dashboards.counters``), so their cost does not
grow with history.

Decision latency is a **trailing-window summary exposed as gauges**, not a Prometheus histogram:
a histogram's buckets are cumulative since start, and reading them from the database meant
aggregating every scored answer in history on each scrape. Instead the scrape reads the answers
scored in the last ``CADRE_METRICS_LATENCY_WINDOW_SECONDS`` (an index range, ``answer_scored_idx``)
and reports their quantiles, their count within each bound and their sum — values that go up and
down, so gauges, and no ``rate()``/``histogram_quantile()`` over them (the HELP says so).
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from . import counters
from .selectors import metrics as m


class CadreCollector(Collector):
    def collect(self):
        totals = counters.counters_read()  # the two counters: tally + events after the mark (dashboards.counters)
        scored = CounterMetricFamily("cadre_answers_scored", "Answers scored by the quality engine.", labels=["project"])
        for project, n in sorted(totals["answers_scored"].items()):
            scored.add_metric([str(project)], n)
        yield scored

        recent = m.decision_latency()
        window = f"answers scored in the last {recent.window_seconds} s (a trailing window, not cumulative)"
        quantiles = GaugeMetricFamily(
            "cadre_answer_decision_latency_recent_seconds",
            f"Time from an answer's arrival (created_at) to its scoring commit (scored_at), quantiles over the {window}; "
            "absent when none was scored.",
            labels=["quantile"],
        )
        for q, seconds in recent.quantiles:
            if seconds is not None:
                quantiles.add_metric([repr(q)], seconds)
        yield quantiles
        under = GaugeMetricFamily(
            "cadre_answers_scored_recent_within_seconds",
            f"How many of the {window} were scored within `le` seconds of their arrival (+Inf: all of them).",
            labels=["le"],
        )
        for bound, n in recent.buckets:
            under.add_metric([_le(bound)], n)
        yield under
        yield GaugeMetricFamily("cadre_answer_decision_latency_recent_sum_seconds",
                                f"Sum of the decision latencies of the {window}.", value=recent.sum_seconds)

        unscored = GaugeMetricFamily("cadre_answers_unscored", "Answers waiting to be scored.", labels=["project"])
        for project, n in sorted(m.answers_unscored().items()):
            unscored.add_metric([str(project)], n)
        yield unscored
        yield GaugeMetricFamily("cadre_oldest_unscored_answer_age_seconds",
                                "Age of the oldest answer not yet scored (0 when none).", value=m.oldest_unscored_age())

        queue = m.celery_queue()
        if queue is not None:  # no broker (embedded run) or Redis away: the series is absent
            yield GaugeMetricFamily("cadre_celery_queue_length", "Messages waiting in the Celery queue (Redis).",
                                    value=queue)

        items = GaugeMetricFamily("cadre_items_open", "Regular items still wanting answers.", labels=["project"])
        for project, n in sorted(m.items_open().items()):
            items.add_metric([str(project)], n)
        yield items

        active = GaugeMetricFamily("cadre_leases_active", "Tasks handed out and not yet answered.", labels=["project"])
        expiring = GaugeMetricFamily("cadre_leases_expiring", "Active leases ending within 5 minutes.", labels=["project"])
        for project, row in sorted(m.leases().items()):
            active.add_metric([str(project)], row["active"])
            expiring.add_metric([str(project)], row["expiring"])
        yield active
        yield expiring

        revoked = CounterMetricFamily("cadre_revocations", "Gating decisions that revoked an annotator.", labels=["project"])
        for project, n in sorted(totals["revocations"].items()):
            revoked.add_metric([str(project)], n)
        yield revoked


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def render() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CadreCollector())
    return generate_latest(registry)
