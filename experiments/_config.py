"""Experiment scripts read their settings from a YAML file in configs/experiments/.

Each key is one of the script's command-line options (``--bench-households`` is
``bench_households``); an option given on the command line wins over the file.
"""

import argparse
from pathlib import Path

import yaml

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "experiments"


def parse_args(parser: argparse.ArgumentParser, name: str) -> argparse.Namespace:
    """Parse the command line with defaults from ``configs/experiments/<name>.yaml``."""
    parser.add_argument(
        "--config",
        type=Path,
        default=CONFIGS / f"{name}.yaml",
        help="YAML file of option values (default: %(default)s)",
    )
    first, _ = parser.parse_known_args()
    raw = yaml.safe_load(first.config.read_text("utf-8")) or {}
    if not isinstance(raw, dict):
        parser.error(f"{first.config}: expected a mapping of option names to values")
    actions = {a.dest: a for a in parser._actions if a.dest not in ("help", "config")}
    unknown = sorted(k for k in raw if k.replace("-", "_") not in actions)
    if unknown:
        parser.error(f"{first.config}: unknown key(s) {unknown}; known: {sorted(actions)}")
    defaults = {}
    for key, value in raw.items():
        action = actions[key.replace("-", "_")]
        if callable(action.type):  # as the command line would: each of a list's items
            if isinstance(value, str):
                value = action.type(value)
            elif isinstance(value, list):
                value = [action.type(v) if isinstance(v, str) else v for v in value]
        defaults[action.dest] = value
    parser.set_defaults(**defaults)
    return parser.parse_args()


def markdown(frame: object, digits: int = 3) -> str:
    """Render a pandas or polars frame as a Markdown table (floats to ``digits``)."""
    if hasattr(frame, "iter_rows"):  # polars: rows keep their None
        columns, rows = list(frame.columns), list(frame.iter_rows())  # type: ignore[attr-defined]
    else:
        columns = [str(c) for c in frame.columns]  # type: ignore[attr-defined]
        rows = list(frame.itertuples(index=False))  # type: ignore[attr-defined]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [
            f"{v:.{digits}f}" if isinstance(v, float) else ("" if v is None else str(v))
            for v in row
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def train_params(path: str | Path) -> dict:
    """The model parameters of a training run's config (``needsid train``'s YAML)."""
    from needsid.tracking import load_train_config

    return dict(load_train_config(path).model.params)
