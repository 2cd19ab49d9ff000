"""Scenario shocks: checked against the run, then each month's effect on the dynamics.

The config validates each :class:`~needsid.simulation.Shock` on its own; whether it fits
the run (its start inside the simulated months, its regions among the simulated ones) is
known only when :func:`needsid.simulate` is called, so it is checked here. A month with
a shock hands ``_dynamics.step`` a :class:`MonthShock`, the job-loss and illness
multipliers by region, which change the month in three places:

- falls into poverty: a fall's hazard is the sum of its causes' hazards, so multiplying
  the job-loss and illness causes multiplies the chain's fall probabilities by
  ``1 + sum((m - 1) * share of the cause)`` and re-weights the cause of each fall;
- background hospitalisations (hospital bills: ``need_health``) and background job
  losses (unemployment: ``need_employment``) are multiplied;
- job losses the shock adds (beyond the background rate) are not absorbed: the
  household loses the earner's share of its formal income and moves to the state its
  remaining income falls in (below the low-income line: poor). Background job losses
  are short spells the household absorbs, and in the calibrated chain about 1% of falls
  into poverty are job losses (formal earners live in low-risk households), so without
  this a job-loss shock would leave need almost where it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._dates import months_after
from ._config import Shock, SimulationConfig
from ._dynamics import BACKGROUND_JOB_LOSS, POOR, SECURE, VULNERABLE, rare
from ._population import Population

__all__ = ["MonthShock", "Window", "check_shocks", "multipliers"]


@dataclass(frozen=True)
class Window:
    """A shock in the run's terms: month numbers and region indices (None: all regions)."""

    first: int
    months: int
    regions: np.ndarray | None
    job_loss: float
    illness: float


def _month_number(start: dt.date, month: dt.date) -> int:
    return (month.year - start.year) * 12 + month.month - start.month


def check_shocks(cfg: SimulationConfig, months: int, region_ids: Sequence[str]) -> list[Window]:
    """Return the config's shocks as windows of the run.

    Raises one ``ValueError`` that lists every shock that does not fit the run.
    """
    last = months_after(cfg.start, months - 1)
    index = {r: i for i, r in enumerate(region_ids)}
    problems: list[str] = []
    out: list[Window] = []
    for i, raw in enumerate(cfg.shocks):
        # model_copy(update=...) does not validate: a shock given there as a dict is here
        shock = Shock.model_validate(raw)
        where = f"shocks[{i}]"
        first = _month_number(cfg.start, shock.start)
        if not 0 <= first < months:
            problems.append(
                f"Got {where}.start={shock.start.isoformat()!r}; it must be one of the "
                f"simulated months, {cfg.start.isoformat()!r} .. {last.isoformat()!r} "
                f"(config.start and months={months})."
            )
        regions = None
        if shock.regions is not None:
            unknown = sorted({r for r in shock.regions if r not in index})
            if unknown:
                problems.append(
                    f"Got {where}.regions with unknown region ids {unknown!r}; the simulated "
                    f"regions are {region_ids[0]!r} .. {region_ids[-1]!r} "
                    f"(config.n_regions={len(region_ids)}), or give None for all of them."
                )
            else:
                regions = np.array(sorted({index[r] for r in shock.regions}), dtype=np.int64)
        out.append(Window(first, shock.months, regions, shock.job_loss, shock.illness))
    if problems:
        raise ValueError("\n".join(problems))
    return out


@dataclass(frozen=True)
class MonthShock:
    """One month's job-loss and illness hazard multipliers, by region index."""

    job_loss: np.ndarray
    illness: np.ndarray

    def fall_factor(self, pop: Population, hh: np.ndarray, causes: np.ndarray) -> np.ndarray:
        """Return the multiplier of the fall probabilities of households ``hh``.

        ``causes`` holds their relative odds of each cause of a fall (job loss and
        illness first, as ``_dynamics._cause_weights`` returns them).
        """
        region = pop.households.region[hh]
        extra = (self.job_loss[region] - 1.0) * causes[:, 0]
        extra += (self.illness[region] - 1.0) * causes[:, 1]
        factor: np.ndarray = 1.0 + extra / causes.sum(axis=1)
        return factor

    def weigh_causes(self, pop: Population, hh: np.ndarray, causes: np.ndarray) -> None:
        """Multiply the job-loss and illness odds of the falls of ``hh`` (in place)."""
        region = pop.households.region[hh]
        causes[:, 0] *= self.job_loss[region]
        causes[:, 1] *= self.illness[region]

    def added_job_losses(
        self, pop: Population, emp: np.ndarray, z_of_hh: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Draw the job losses the shock adds among earners ``emp``; return them.

        They last like the job losses that cause a fall, and move their households
        towards need by the income lost (``H.z`` and ``z_of_hh`` are updated).
        """
        P, H = pop.persons, pop.households
        m = self.job_loss[H.region[P.hh[emp]]]
        lost: np.ndarray = emp[rare(rng, BACKGROUND_JOB_LOSS * np.maximum(m - 1.0, 0.0))]
        lost = lost[P.unemp_left[lost] == 0]  # not already lost this month
        P._cols["unemp_left"][lost] = rng.geometric(1 / 7, size=len(lost))
        hh, n_lost = np.unique(P.hh[lost], return_counts=True)
        n_emp = np.bincount(P.hh[emp], minlength=H.n)[hh]
        kept = 1.0 - H.formal_share[hh] * np.minimum(n_lost / n_emp, 1.0)
        # income over the low-income line where the state's band puts it (no noise)
        z = z_of_hh[hh]
        ratio = np.where(z == SECURE, 1.6 + H.wealth[hh], 1.0 + 0.6 * H.q_vuln[hh]) * kept
        new = np.where(ratio < 1.0, POOR, np.where(ratio < 1.6, VULNERABLE, SECURE))
        down = (z != POOR) & (new > z)
        H._cols["z"][hh[down]] = new[down]
        z_of_hh[hh[down]] = new[down]
        return lost


def multipliers(shocks: list[Window], t: int, n_regions: int) -> MonthShock | None:
    """Return month ``t``'s job-loss and illness multipliers by region; None if no shock.

    Overlapping shocks multiply.
    """
    active = [w for w in shocks if w.first <= t < w.first + w.months]
    if not active:
        return None
    job_loss, illness = np.ones(n_regions), np.ones(n_regions)
    for w in active:
        where = slice(None) if w.regions is None else w.regions
        job_loss[where] *= w.job_loss
        illness[where] *= w.illness
    return MonthShock(job_loss, illness)
