"""Reads of the quality engine: project progress, the delivery with its accuracy claim,
and the ops view of annotators. One module per area."""
from ..services import project_bar  # the bar is a read too; ops pages show it
from .delivery import project_claim, project_delivery
from .ops import project_annotators, project_decisions, project_throughput
from .progress import project_progress
from .gating import BanRate, project_ban_rate, projects_ban_rate
from .review import expert_queue, known_flags

__all__ = ["BanRate", "expert_queue", "known_flags", "project_ban_rate", "project_annotators", "project_bar", "project_claim", "project_decisions", "project_delivery", "project_progress", "project_throughput", "projects_ban_rate"]
