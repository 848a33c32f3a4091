"""Schedule optimisation and backtesting, pure: prices and battery limits in, schedules out.

No I/O here (DESIGN.md): the exchange's routes, the CLI and the benchmark are the adapters.
"""

from .lp import solve
from .model import Battery, Infeasible, InvalidProblem, OptimizerError, Problem, Schedule

__all__ = [
    "Battery",
    "Infeasible",
    "InvalidProblem",
    "OptimizerError",
    "Problem",
    "Schedule",
    "solve",
]
