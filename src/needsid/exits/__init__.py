"""Precise exit (精准退出): score current recipients and phase out the recovered gradually.

``ExitModel`` scores the recipients by the chance they are out of need for the whole
label window (labels from :func:`needsid.labels.make_exit`); ``phase_out`` turns the
scores into exit reviews within the visit capacity, and exits only after a review and
a grace period (渐进式退出).
"""

from ._model import RECIPIENT_FEATURES, ExitModel
from ._phase_out import EXIT_ROUTE, SCHEDULE_COLUMNS, THRESHOLD, phase_out

__all__ = [
    "EXIT_ROUTE",
    "RECIPIENT_FEATURES",
    "SCHEDULE_COLUMNS",
    "THRESHOLD",
    "ExitModel",
    "phase_out",
]
