"""Household traits drawn at formation: the latent need chain's parameters and visibility.

A household's monthly transition probabilities are fixed when it forms, from its
composition and a hidden frailty; that is what makes the true probability of need over
any horizon exact (see ``needsid.labels``).
"""

from __future__ import annotations

import numpy as np

from ._config import SimulationConfig
from ._population import REL, Population


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


def ages_at(pop: Population, date: np.datetime64) -> np.ndarray:
    """Age in whole years of every person on ``date`` (cached until people are added)."""
    key = (date, pop.persons.n)
    cached = pop._age_cache
    if cached is not None and cached[0] == key:
        return cached[1]
    age: np.ndarray = (date - pop.persons.birth).astype(np.int64) * 4 // 1461  # 365.25 days a year
    pop._age_cache = (key, age)
    return age


def household_profile(
    pop: Population,
    date: np.datetime64,
    only: np.ndarray | None = None,
    fields: tuple[str, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Per-household counts of current living members, indexed by household index.

    ``only`` restricts the work to the members of those households and returns arrays
    aligned with ``only``; ``fields`` computes just those counts.
    """
    p = pop.persons
    nh = pop.households.n
    live = p.alive & (p.hh >= 0)
    if only is not None:
        pos = np.full(nh, -1)
        pos[only] = np.arange(len(only))
        slot = pos[np.maximum(p.hh, 0)]
        idx = np.flatnonzero(live & (slot >= 0))
        hh = slot[idx]
        nh = len(only)
    else:
        idx = np.flatnonzero(live)
        hh = p.hh[idx]
    age = ages_at(pop, date)[idx]
    disab = p.disab[idx]
    working_age = (age >= 16) & (age < 60)
    masks = {
        "size": None,
        "children": lambda: age < 16,
        "elderly": lambda: age >= 60,
        "working_age": lambda: working_age,
        "able": lambda: working_age & ((disab == 0) | (disab >= 3)),
        "severe": lambda: (disab >= 1) & (disab <= 2),
        "disabled": lambda: disab >= 1,
        "chronic": lambda: p.chronic[idx],
        "formal": lambda: p.formal[idx] & (p.unemp_left[idx] == 0) & (p.prison_until[idx] < 0),
        "informal": lambda: p.informal[idx],
        "unemployed": lambda: p.unemp_left[idx] > 0,
        "old80": lambda: age >= 80,
        "minority": lambda: p.minority[idx],
        "migrant": lambda: ~p.hukou_urban[idx],
    }
    out: dict[str, np.ndarray] = {}
    for name, mask in masks.items():
        if fields is not None and name not in fields:
            continue
        weights = None if mask is None else mask().astype(np.float64)
        out[name] = np.bincount(hh, weights=weights, minlength=nh).astype(np.int64)
    if fields is None or "head_edu" in fields:
        head_edu = np.zeros(nh)
        is_head = pop.spells.relation[p.spell[idx]] == REL["head"]
        head_edu[hh[is_head]] = p.edu[idx][is_head]
        out["head_edu"] = head_edu
    return out


def draw_traits(
    pop: Population,
    hh: np.ndarray,
    date: np.datetime64,
    cfg: SimulationConfig,
    rng: np.random.Generator,
) -> None:
    """Draw static traits for households ``hh`` (just formed) from their composition."""
    H = pop.households
    prof = household_profile(pop, date, only=hh)
    n = len(hh)
    size = np.maximum(prof["size"], 1)
    urban = H.urban[hh]
    rural = ~urban
    elderly_only = prof["elderly"] == size
    single_parent = (prof["children"] > 0) & (prof["working_age"] == 1)
    migrant = urban & (prof["migrant"] == size)
    no_worker = (prof["formal"] + prof["informal"]) == 0
    minority = prof["minority"] > 0
    dependency = (prof["children"] + prof["elderly"]) / size
    housing_unsafe = rng.random(n) < np.where(rural, 0.07, 0.012)
    frailty = rng.normal(0.0, cfg.chain.frailty_sd, size=n)
    risk = (
        1.4 * rural
        + 0.55 * elderly_only
        + 0.5 * single_parent
        + 0.65 * (prof["severe"] > 0)
        + 0.35 * (prof["chronic"] > 0)
        + 0.6 * dependency
        + 0.7 * no_worker
        - 0.75 * (prof["formal"] > 0)
        - 0.07 * (prof["head_edu"] - 9)
        + 0.35 * migrant
        + 0.3 * housing_unsafe
        + 0.2 * minority
        + frailty
    )
    c = cfg.chain
    H._cols["risk"][hh] = risk
    H._cols["t01"][hh] = _sigmoid(c.secure_to_vulnerable + risk)
    H._cols["t02"][hh] = _sigmoid(c.secure_to_poor + risk)
    H._cols["t12"][hh] = _sigmoid(c.vulnerable_to_poor + risk)
    H._cols["t10"][hh] = _sigmoid(c.vulnerable_to_secure - 0.6 * risk)
    H._cols["t21"][hh] = _sigmoid(c.poor_to_vulnerable - 0.3 * risk)
    H._cols["t20"][hh] = _sigmoid(c.poor_to_secure - 0.3 * risk)
    # digital invisibility: rural elderly alone, informal-only workers, migrants
    informal_only = (prof["formal"] == 0) & (prof["informal"] > 0)
    vis_logit = (
        -3.6 + 2.2 * (rural & elderly_only) + 1.3 * informal_only + 1.4 * migrant + 0.4 * minority
    )
    H._cols["invisible"][hh] = rng.random(n) < _sigmoid(vis_logit)
    H._cols["q_poor"][hh] = rng.beta(3, 2, size=n)
    H._cols["q_vuln"][hh] = rng.beta(2, 2, size=n)
    H._cols["wealth"][hh] = rng.lognormal(np.where(urban, np.log(1.4), np.log(0.45)), 0.6)
    H._cols["formal_share"][hh] = np.where(prof["formal"] > 0, rng.uniform(0.55, 0.95, n), 0)
    H._cols["housing_unsafe"][hh] = housing_unsafe
    H._cols["monitored"][hh] = rural & (rng.random(n) < 0.35 + 0.4 * (risk > 1.5))


def transition_matrix(pop: Population, hh: np.ndarray) -> np.ndarray:
    """Monthly transition matrices, shape (len(hh), 3, 3), rows = from-state."""
    H = pop.households
    t01, t02, t12 = H.t01[hh], H.t02[hh], H.t12[hh]
    t10, t21, t20 = H.t10[hh], H.t21[hh], H.t20[hh]
    T = np.empty((len(hh), 3, 3))
    T[:, 0, 1], T[:, 0, 2] = t01, t02
    T[:, 0, 0] = 1 - t01 - t02
    T[:, 1, 0], T[:, 1, 2] = t10, t12
    T[:, 1, 1] = 1 - t10 - t12
    T[:, 2, 0], T[:, 2, 1] = t20, t21
    T[:, 2, 2] = 1 - t20 - t21
    return T


def stationary(T: np.ndarray) -> np.ndarray:
    """Stationary distribution of each 3-state chain in ``T`` (batched solve)."""
    n = T.shape[0]
    A = np.transpose(T, (0, 2, 1)) - np.eye(3)[None]
    A[:, 2, :] = 1.0
    b = np.zeros((n, 3))
    b[:, 2] = 1.0
    pi = np.linalg.solve(A, b[..., None])[..., 0]
    out: np.ndarray = np.clip(pi, 0, 1)
    return out
