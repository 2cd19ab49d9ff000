"""The simulated population's state: growable person, spell and household arrays.

Everything is a numpy array indexed by an integer person, spell or household index;
string ids are made only once, when the tables are written out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ._config import SimulationConfig

RELATIONS = ("head", "spouse", "child", "parent", "grandchild", "other")
REL = {name: i for i, name in enumerate(RELATIONS)}
NAT = np.datetime64("NaT", "D")


class Growable:
    """A set of equal-length numpy columns with amortised appends."""

    def __init__(self, spec: dict[str, tuple[npt.DTypeLike, object]], capacity: int) -> None:
        self._spec = spec
        self.n = 0
        self._cols: dict[str, np.ndarray] = {
            k: np.full(max(capacity, 16), fill, dtype=dt) for k, (dt, fill) in spec.items()
        }

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("_cols")
        if cols is None or name not in cols:
            raise AttributeError(name)
        column: np.ndarray = cols[name][: self.n]
        return column

    def append(self, **values: Any) -> np.ndarray:
        """Append rows; return their indices. Columns not given keep their fill value."""
        m = len(next(iter(values.values())))
        need = self.n + m
        cap = len(next(iter(self._cols.values())))
        if need > cap:
            new_cap = max(need, int(cap * 1.5))
            for k, (dt, fill) in self._spec.items():
                grown = np.full(new_cap, fill, dtype=dt)
                grown[: self.n] = self._cols[k][: self.n]
                self._cols[k] = grown
        for k, v in values.items():
            self._cols[k][self.n : need] = v
        idx = np.arange(self.n, need)
        self.n = need
        return idx


PERSON_SPEC: dict[str, tuple[npt.DTypeLike, object]] = {
    "hh": (np.int64, -1),
    "spell": (np.int64, -1),
    "sex": (np.int8, 0),  # 0 = F, 1 = M
    "birth": ("datetime64[D]", NAT),
    "minority": (np.bool_, False),
    "hukou_urban": (np.bool_, False),
    "edu": (np.int64, 0),
    "disab": (np.int64, 0),  # true grade, 0 none, 1 most severe .. 4
    "disab_known": (np.bool_, False),  # certified by the disabled persons' federation
    "chronic": (np.bool_, False),
    "alive": (np.bool_, True),
    "death": ("datetime64[D]", NAT),
    "formal": (np.bool_, False),  # holds a formal (recorded) job
    "informal": (np.bool_, False),  # works without records
    "unemp_left": (np.int64, 0),  # months of unemployment left, 0 = not unemployed
    "prison_until": (np.int64, -1),  # month index of release, -1 = free
    "in_school": (np.bool_, False),
    "dropped": (np.bool_, False),
    "living_subsidy": (np.bool_, False),
    "care_subsidy": (np.bool_, False),
    "pay_after_death": (np.int64, 0),  # months a payment keeps going after death (anomaly)
}
SPELL_SPEC: dict[str, tuple[npt.DTypeLike, object]] = {
    "person": (np.int64, -1),
    "hh": (np.int64, -1),
    "relation": (np.int8, 0),
    "joined": ("datetime64[D]", NAT),
    "left": ("datetime64[D]", NAT),
}
HOUSEHOLD_SPEC: dict[str, tuple[npt.DTypeLike, object]] = {
    "region": (np.int64, -1),
    "formed": ("datetime64[D]", NAT),
    "dissolved": ("datetime64[D]", NAT),
    "urban": (np.bool_, False),
    "invisible": (np.bool_, False),
    "risk": (np.float64, 0.0),
    "t01": (np.float64, 0.0),  # monthly transition probabilities of the latent need chain
    "t02": (np.float64, 0.0),
    "t12": (np.float64, 0.0),
    "t10": (np.float64, 0.0),
    "t21": (np.float64, 0.0),
    "t20": (np.float64, 0.0),
    "z": (np.int8, 0),  # latent state: 0 secure, 1 vulnerable, 2 poor
    "q_poor": (np.float64, 0.5),  # persistent position inside the poor income band
    "q_vuln": (np.float64, 0.5),
    "wealth": (np.float64, 1.0),  # income above the band when secure
    "formal_share": (np.float64, 0.0),
    "housing_unsafe": (np.bool_, False),
    "vehicle": (np.float64, 0.0),
    "properties": (np.int64, 1),
    "business": (np.bool_, False),
    "deposit_mult": (np.float64, 0.0),
    "deposit_over": (np.bool_, False),  # latest balance fails the asset test
    "monitored": (np.bool_, False),
    "dibao": (np.bool_, False),
    "tekun": (np.bool_, False),
    "oop12": (np.float64, 0.0),  # medical out-of-pocket, last 12 months (sum)
    "edu12": (np.float64, 0.0),
    "gross12": (np.float64, 0.0),
}


class Population:
    """Persons, membership spells and households, plus the regions' standards."""

    def __init__(self, n_households: int) -> None:
        self.persons = Growable(PERSON_SPEC, int(n_households * 3.0))
        self.spells = Growable(SPELL_SPEC, int(n_households * 3.2))
        self.households = Growable(HOUSEHOLD_SPEC, int(n_households * 1.1))
        self.region_urban = np.zeros(0, dtype=bool)
        self.region_dibao = np.zeros(0)
        self.region_minority = np.zeros(0)
        self.region_disaster = np.zeros(0)
        self.region_income = np.zeros(0)
        # ages on one date, for as long as nobody is added (see _traits.ages_at)
        self._age_cache: tuple[tuple[np.datetime64, int], np.ndarray] | None = None

    def add_members(
        self,
        hh: np.ndarray,
        relation: np.ndarray | int,
        joined: np.ndarray | np.datetime64,
        **person_values: np.ndarray,
    ) -> np.ndarray:
        """Create persons and their first spell; return person indices."""
        pidx = self.persons.append(hh=hh, **person_values)
        sidx = self.spells.append(person=pidx, hh=hh, relation=relation, joined=joined)
        self.persons._cols["spell"][pidx] = sidx
        return pidx

    def move(
        self, pidx: np.ndarray, new_hh: np.ndarray, relation: np.ndarray | int, date: np.ndarray
    ) -> None:
        """End the persons' current spells on ``date`` and open spells in ``new_hh``."""
        if len(pidx) == 0:
            return
        old = self.persons.spell[pidx]
        self.spells._cols["left"][old] = date
        sidx = self.spells.append(person=pidx, hh=new_hh, relation=relation, joined=date)
        self.persons._cols["spell"][pidx] = sidx
        self.persons._cols["hh"][pidx] = new_hh


def make_regions(pop: Population, cfg: SimulationConfig, rng: np.random.Generator) -> None:
    """Draw the regions (urban districts and rural counties, their standards) into ``pop``."""
    n = cfg.n_regions
    n_urban = max(1, round(n * cfg.urban_region_share))
    urban = np.zeros(n, dtype=bool)
    urban[:n_urban] = True
    base = np.where(urban, cfg.dibao_standard.urban, cfg.dibao_standard.rural)
    jitter = rng.uniform(-cfg.standard_jitter, cfg.standard_jitter, size=n)
    pop.region_urban = urban
    pop.region_dibao = np.round(base * (1 + jitter))
    # share of ethnic-minority residents varies a lot across a western province
    pop.region_minority = rng.beta(1.2, 5.0, size=n)
    # monthly probability that a household suffers a disaster loss (floods, drought, quakes)
    pop.region_disaster = np.where(urban, 0.0008, 0.003) * rng.lognormal(0, 0.5, size=n)
    pop.region_income = np.where(
        urban, cfg.disposable_income_prev_year.urban, cfg.disposable_income_prev_year.rural
    ) * rng.uniform(0.9, 1.1, size=n)


def _type_composition(
    types: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adults (16-59), children (<16) and elderly (60+) per household, by type index."""
    n = len(types)
    kids = rng.choice([1, 2, 3], size=n, p=[0.55, 0.38, 0.07])
    one_two = rng.integers(1, 3, size=n)
    one_two_b = rng.integers(1, 3, size=n)
    # names: single_elderly, single_adult, elderly_couple, couple, couple_children,
    #        single_parent, three_generation, skipped_generation
    adults = np.choose(types, [0, 1, 0, 2, 2, 1, 2, 0])
    children = np.choose(types, [np.zeros(n, int), 0, 0, 0, kids, one_two, one_two, one_two])
    elderly = np.choose(types, [np.ones(n, int), 0, 2, 0, 0, 0, one_two_b, one_two_b])
    return adults, children, elderly


def urban_household_share(cfg: SimulationConfig) -> float:
    """Share of households that are urban, so that the *people* share meets the target."""
    ht = cfg.household_types
    # expected sizes by type, from the composition rules in _type_composition
    kids, one_two = 1 * 0.55 + 2 * 0.38 + 3 * 0.07, 1.5
    size_by_type = np.array([1, 1, 2, 2, 2 + kids, 1 + one_two, 2 + 2 * one_two, 2 * one_two])
    su = float(np.dot(ht.urban, size_by_type))
    sr = float(np.dot(ht.rural, size_by_type))
    s = cfg.urban_people_share
    return s * sr / (s * sr + (1 - s) * su)


def make_households(
    pop: Population,
    n: int,
    cfg: SimulationConfig,
    rng: np.random.Generator,
    p_urban_hh: float,
    regions: np.ndarray,
) -> np.ndarray:
    """Create ``n`` initial households in ``regions``; return household indices."""
    ht = cfg.household_types
    urban_regions = regions[pop.region_urban[regions]]
    rural_regions = regions[~pop.region_urban[regions]]
    if len(urban_regions) == 0:
        p_urban_hh = 0.0
    if len(rural_regions) == 0:
        p_urban_hh = 1.0
    urban = rng.random(n) < p_urban_hh
    region = np.where(
        urban,
        urban_regions[rng.integers(0, max(len(urban_regions), 1), size=n)]
        if len(urban_regions)
        else -1,
        rural_regions[rng.integers(0, max(len(rural_regions), 1), size=n)]
        if len(rural_regions)
        else -1,
    )
    types = np.where(
        urban,
        rng.choice(len(ht.urban), size=n, p=ht.urban),
        rng.choice(len(ht.rural), size=n, p=ht.rural),
    )
    start = np.datetime64(cfg.start, "D")
    formed = start - rng.integers(365, 365 * 30, size=n).astype("timedelta64[D]")
    hh = pop.households.append(region=region, urban=urban, formed=formed)

    adults, children, elderly = _type_composition(types, rng)
    minority_hh = rng.random(n) < pop.region_minority[region]
    # migrants: rural hukou living in an urban district
    hukou_urban_hh = np.where(urban, rng.random(n) < 0.78, rng.random(n) < 0.03)
    head_male = rng.random(n) < 0.72

    def add(
        group_hh: np.ndarray, ages: np.ndarray, relation: np.ndarray | int, sex: np.ndarray
    ) -> np.ndarray:
        m = len(group_hh)
        birth = start - (ages * 365.25 + rng.integers(0, 365, size=m)).astype("timedelta64[D]")
        is_urban = urban[group_hh]
        edu_mean = np.where(is_urban, 12.0, 8.0) - np.clip(ages - 45, 0, None) * 0.12
        edu = np.clip(np.round(rng.normal(edu_mean, 2.8)), 0, 19).astype(int)
        edu = np.where(ages < 18, np.clip(ages - 6, 0, 12), edu)
        p_dis = np.where(ages < 16, 0.012, np.where(ages < 60, 0.035, 0.12))
        disabled = rng.random(m) < p_dis
        grade = np.where(disabled, rng.choice([1, 2, 3, 4], size=m, p=[0.1, 0.22, 0.33, 0.35]), 0)
        chronic = rng.random(m) < np.where(ages >= 60, 0.32, np.where(ages >= 16, 0.07, 0.01))
        works = (ages >= 16) & (ages < 60) & (grade == 0) | (
            (grade >= 3) & (ages >= 16) & (ages < 60)
        )
        p_formal = np.where(is_urban & hukou_urban_hh[group_hh], 0.7, np.where(is_urban, 0.3, 0.2))
        formal = works & (rng.random(m) < p_formal)
        informal = works & ~formal & (rng.random(m) < 0.8)
        return pop.add_members(
            group_hh,
            relation,
            formed[group_hh],
            sex=sex,
            birth=birth,
            minority=minority_hh[group_hh],
            hukou_urban=hukou_urban_hh[group_hh],
            edu=edu,
            disab=grade,
            disab_known=disabled & (rng.random(m) < 0.85),
            chronic=chronic,
            formal=formal,
            informal=informal,
            in_school=(ages >= 6)
            & (ages < 18)
            & (rng.random(m) < np.where(ages < 15, 0.99, 0.85)),
        )

    # heads: first adult, else first elderly
    has_adult = adults >= 1
    h_ages = np.where(
        has_adult,
        np.where(children > 0, rng.integers(26, 59, size=n), rng.integers(20, 60, size=n)),
        rng.integers(60, 92, size=n),
    )
    add(hh, h_ages, REL["head"], head_male.astype(np.int8))
    # second adult or second elderly: spouse
    spouse = (adults >= 2) | ((adults == 0) & (elderly >= 2))
    sp_hh = hh[spouse]
    sp_age = np.clip(h_ages[spouse] + rng.integers(-5, 4, size=len(sp_hh)), 20, 95)
    add(sp_hh, sp_age, REL["spouse"], (~head_male[spouse]).astype(np.int8))
    # elderly parents living with adult children
    n_par = np.where(has_adult, elderly, 0)
    par_hh = np.repeat(hh, n_par)
    add(
        par_hh,
        rng.integers(60, 90, size=len(par_hh)),
        REL["parent"],
        rng.integers(0, 2, size=len(par_hh)).astype(np.int8),
    )
    # children (grandchildren when living with grandparents only)
    ch_hh = np.repeat(hh, children)
    ch_rel = np.where(
        has_adult[np.repeat(np.arange(n), children)], REL["child"], REL["grandchild"]
    )
    # children are born to heads aged 22-30, so older heads have adult children at home
    parent_age = np.repeat(h_ages, children)
    ch_age = np.clip(parent_age - rng.integers(22, 31, size=len(ch_hh)), 0, 35)
    ch_age = np.where(ch_rel == REL["grandchild"], rng.integers(0, 16, size=len(ch_hh)), ch_age)
    add(ch_hh, ch_age, ch_rel, rng.integers(0, 2, size=len(ch_hh)).astype(np.int8))
    return hh
