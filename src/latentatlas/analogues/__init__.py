"""Analogues: the options of a query, finding them, the forecast they make, and its verification and scores.

``options`` (one dataclass, passed whole from every face), ``timeline``
(rows in time), ``find`` (ranking under the options), ``region`` (rows in
a latitude/longitude box), ``forecast`` (ensembles of what followed),
``verify`` (a test period forecast and scored) and ``scores`` (CRPS,
Brier, reliability, rank histogram).
"""

from .find import Analogues, find_analogues
from .options import AnalogueOptions
from .timeline import Timeline

__all__ = ["AnalogueOptions", "Analogues", "Timeline", "find_analogues"]
