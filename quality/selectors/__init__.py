"""Reads of the quality engine: project progress, the delivery with its accuracy claim,
and the ops view of annotators. One module per area."""
from ..services import project_bar  # the bar is a read too; ops pages show it
from .delivery import project_claim, project_delivery
from .ops import project_annotators, project_decisions, project_throughput
from .progress import project_progress

__all__ = ["project_annotators", "project_bar", "project_claim", "project_decisions", "project_delivery", "project_progress", "project_throughput"]
