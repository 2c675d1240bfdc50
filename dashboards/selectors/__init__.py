"""Reads behind the ops dashboards, one job per module: ``pace`` (throughput, ETA, on-track),
``queues`` (open items, leases, the Celery queue and scoring lag), ``accuracy`` (accuracy over
time), ``annotators`` (the sortable annotator table), ``known`` (known-answer health),
``charts`` (chart specs with the table behind each chart). Nothing here writes."""
