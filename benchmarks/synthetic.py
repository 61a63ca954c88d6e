"""Seeded synthetic alignment instances: clustered points like cities, log-normal workload, a few heavy units.

    .venv/bin/python benchmarks/synthetic.py --units 5000 --territories 50 [--seed 0] [--heavy 0] [--out DIR]
    .venv/bin/python benchmarks/synthetic.py --preset 5k        # small, 5k, 20k, 40k (see PRESETS)

Each instance is a folder with ``units.parquet`` (GeoParquet, one point per unit in EPSG:4326: ``unit_id``,
``name``, ``cluster``, ``potential``) and ``scenario.yaml`` that ``territory run`` loads as it is
(workload = ``potential``, +-5 % band, 2 threads, 120 s). Without ``--out`` the folder goes to the cache
(``~/.cache/territory-bench/instances/<name>``, or ``$TERRITORY_BENCH_CACHE/instances/<name>``), where it is
reused as long as its ``instance.json`` matches the request and the generator version.

How points are drawn (all from ``numpy.random.default_rng(seed)``, so an instance is a pure function of
its parameters):

- about one "city" per 150 units, centres uniform over a box around the contiguous US (lon -122..-70,
  lat 27..48); city sizes follow a Pareto law (a few metros, many towns);
- 80 % of units fall around a city, normally scattered with a spread that grows with the city's size
  (12 km for a town to about 60 km for the largest metro); the other 20 % are rural, uniform over the box;
- workload (``potential``) is log-normal (sigma 1.0), twice as high on average in cities as in the country,
  capped at 0.4 of an average territory so that no unit breaks the band on its own;
- ``--heavy H`` turns H units in the largest cities into units of 1.2 to 2.5 average territories (like
  Los Angeles county at county level); the scenario then allows sharing (``units.sharing``), as the real
  county scenarios do.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

GENERATOR_VERSION = 1
LON_RANGE = (-122.0, -70.0)
LAT_RANGE = (27.0, 48.0)
UNITS_PER_CITY = 150
URBAN_SHARE = 0.8
KM_PER_DEG_LAT = 111.2
MAX_UNIT_SHARE = 0.4  # of an average territory, for ordinary units


@dataclass(frozen=True)
class InstanceSpec:
    """What an instance is made from; its name and cache folder follow from these fields."""

    units: int
    territories: int
    seed: int = 0
    heavy: int = 0
    tolerance: float = 0.05
    time_limit: float = 120.0
    target_gap: float = 0.01
    threads: int = 2

    @property
    def name(self) -> str:
        return f"synthetic-{self.units}x{self.territories}-s{self.seed}" + (f"-h{self.heavy}" if self.heavy else "")


PRESETS = {
    "small": InstanceSpec(3000, 30),
    "5k": InstanceSpec(5000, 50),
    "20k": InstanceSpec(20000, 200),
    "40k": InstanceSpec(40000, 400),
    "5k-heavy": InstanceSpec(5000, 50, heavy=3),
}


def cache_dir() -> Path:
    """Where generated instances and benchmark results are kept (outside the repository)."""
    root = os.environ.get("TERRITORY_BENCH_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "territory-bench"


def generate_points(spec: InstanceSpec) -> dict[str, np.ndarray]:
    """The instance as plain arrays: ``unit_id, name, cluster, lon, lat, potential`` (see the module docstring)."""
    if spec.units < spec.territories or spec.heavy >= spec.territories:
        raise ValueError("need at least as many units as territories and fewer heavy units than territories")
    rng = np.random.default_rng(spec.seed)
    n = spec.units
    cities = max(8, round(n / UNITS_PER_CITY))
    centre_lon = rng.uniform(*LON_RANGE, cities)
    centre_lat = rng.uniform(*LAT_RANGE, cities)
    size = rng.pareto(1.2, cities) + 1.0
    size /= size.sum()
    urban = rng.random(n) < URBAN_SHARE
    cluster = np.where(urban, rng.choice(cities, n, p=size), -1)
    spread_km = 12.0 + 48.0 * np.sqrt(size / size.max())
    lat = np.where(urban, 0.0, rng.uniform(*LAT_RANGE, n))
    lon = np.where(urban, 0.0, rng.uniform(*LON_RANGE, n))
    c = cluster[urban]
    dy = rng.normal(0.0, 1.0, c.size) * spread_km[c] / KM_PER_DEG_LAT
    lat[urban] = np.clip(centre_lat[c] + dy, LAT_RANGE[0] - 2, LAT_RANGE[1] + 2)
    dx = rng.normal(0.0, 1.0, c.size) * spread_km[c] / (KM_PER_DEG_LAT * np.cos(np.radians(lat[urban])))
    lon[urban] = centre_lon[c] + dx
    potential = rng.lognormal(0.0, 1.0, n) * np.where(urban, 2.0, 1.0) * 100.0
    average = potential.sum() / spec.territories
    potential = np.minimum(potential, MAX_UNIT_SHARE * average)
    if spec.heavy:
        potential = _with_heavy_units(potential, cluster, size, spec, rng)
    potential = np.round(potential, 3)
    ids = np.array([f"S{i:06d}" for i in range(n)])
    names = np.array([f"city {k} unit {i}" if k >= 0 else f"rural unit {i}" for i, k in enumerate(cluster)])
    return {"unit_id": ids, "name": names, "cluster": cluster, "lon": lon, "lat": lat, "potential": potential}


def _with_heavy_units(potential: np.ndarray, cluster: np.ndarray, size: np.ndarray, spec: InstanceSpec,
                      rng: np.random.Generator) -> np.ndarray:
    """Make ``spec.heavy`` units of the largest cities carry 1.2-2.5 average territories each.

    With light total ``S`` and heavy shares ``h_j`` (in average territories) the average territory is
    ``T = (S + T sum h_j) / K``, so ``T = S / (K - sum h_j)``.
    """
    biggest = np.argsort(-size)
    picks: list[int] = []
    for city in biggest:
        members = np.flatnonzero(cluster == city)
        if members.size:
            picks.append(int(rng.choice(members)))
        if len(picks) == spec.heavy:
            break
    shares = rng.uniform(1.2, 2.5, len(picks))
    light = np.delete(potential, picks).sum()
    average = light / (spec.territories - shares.sum())
    out = potential.copy()
    out[picks] = shares * average
    return out


def scenario_text(spec: InstanceSpec) -> str:
    """The scenario YAML of an instance (the units file sits beside it)."""
    sharing = "\n  sharing: {allow: true, min_territory_share: 0.5}" if spec.heavy else ""
    return (
        f"# Generated by benchmarks/synthetic.py (generator version {GENERATOR_VERSION}); regenerate, do not edit.\n"
        f"name: {spec.name}\n"
        f"description: Synthetic clustered points, {spec.units} units into {spec.territories} territories "
        f"(seed {spec.seed}, {spec.heavy} heavy units), +-{spec.tolerance:.0%} on potential.\n"
        "units:\n"
        "  dataset: units.parquet\n"
        "  id_column: unit_id\n"
        f"  name_column: name{sharing}\n"
        "workload:\n"
        "  measures: {potential: 1.0}\n"
        f"territories:\n  count: {spec.territories}\n"
        f"balance:\n  tolerance: {spec.tolerance}\n"
        f"solver:\n  time_limit: {spec.time_limit:g}\n  target_gap: {spec.target_gap}\n"
        f"  threads: {spec.threads}\n  seed: 0\n"
    )


def write_instance(spec: InstanceSpec, folder: Path) -> Path:
    """Write ``units.parquet``, ``scenario.yaml`` and ``instance.json`` to ``folder``; return the scenario path."""
    import geopandas as gpd

    points = generate_points(spec)
    folder.mkdir(parents=True, exist_ok=True)
    frame = gpd.GeoDataFrame(
        {key: points[key] for key in ("unit_id", "name", "cluster", "potential")},
        geometry=gpd.points_from_xy(points["lon"], points["lat"]), crs="EPSG:4326")
    partial = folder / f".units.parquet.{os.getpid()}"
    frame.to_parquet(partial)
    partial.replace(folder / "units.parquet")
    (folder / "scenario.yaml").write_text(scenario_text(spec), encoding="utf-8")
    meta = {"generator_version": GENERATOR_VERSION, **asdict(spec)}
    (folder / "instance.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return folder / "scenario.yaml"


def ensure_instance(spec: InstanceSpec, root: Path | None = None) -> Path:
    """The scenario path of ``spec`` in the cache, generated only when missing or stale."""
    folder = (root or cache_dir() / "instances") / spec.name
    meta_path = folder / "instance.json"
    if meta_path.is_file() and (folder / "units.parquet").is_file() and (folder / "scenario.yaml").is_file():
        meta = json.loads(meta_path.read_text())
        if meta == {"generator_version": GENERATOR_VERSION, **asdict(spec)}:
            return folder / "scenario.yaml"
    return write_instance(spec, folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS))
    parser.add_argument("--units", type=int)
    parser.add_argument("--territories", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--heavy", type=int, default=0)
    parser.add_argument("--out", type=Path, help="Folder to write (default: the cache, reused when up to date).")
    args = parser.parse_args()
    if args.preset:
        spec = PRESETS[args.preset]
    elif args.units and args.territories:
        spec = InstanceSpec(args.units, args.territories, args.seed, args.heavy)
    else:
        parser.error("give --preset or both --units and --territories")
    path = write_instance(spec, args.out) if args.out else ensure_instance(spec)
    print(path)


if __name__ == "__main__":
    main()
