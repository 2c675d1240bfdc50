"""Staff-only pages: ``pages`` (project overview, throughput, accuracy over time, annotators,
gating, queues, known-answer health) and ``analysis`` (demographic analysis, label-error
suspects). Both use ``workforce.views.staff.staff_required``."""
