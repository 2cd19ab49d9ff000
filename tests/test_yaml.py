"""Every YAML file needsid reads refuses aliases, deep nesting and huge documents."""

import re
import time

import pytest

import needsid as ni
from needsid._yaml import MAX_DEPTH, UnsafeYAMLError, safe_load
from needsid.tracking import ConfigError, load_train_config

# 9 levels of 9 aliases: 387 million strings once expanded (the "billion laughs")
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_aliases_are_refused_before_they_expand():
    start = time.perf_counter()
    with pytest.raises(UnsafeYAMLError, match=re.escape("bomb.yaml, line 2: YAML aliases (*a)")):
        safe_load(LAUGHS, "bomb.yaml")
    assert time.perf_counter() - start < 5


def test_deep_nesting_is_a_named_error_not_a_recursion_error():
    deep = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    with pytest.raises(UnsafeYAMLError, match=f"nested deeper than {MAX_DEPTH} levels"):
        safe_load(deep, "deep.yaml")
    very_deep = "[" * 5000 + "]" * 5000
    with pytest.raises(UnsafeYAMLError):
        safe_load(very_deep, "deeper.yaml")


def test_anchors_without_aliases_and_ordinary_files_load():
    assert safe_load("x: &a 1\ny: 2") == {"x": 1, "y": 2}
    assert ni.rules.load("default").ids  # the packaged rule set


@pytest.mark.parametrize("what", ["rules", "train", "features", "mpi"])
def test_every_loader_refuses_a_bomb(tmp_path, what):
    bomb = tmp_path / f"{what}.yaml"
    bomb.write_text(LAUGHS)
    with pytest.raises((UnsafeYAMLError, ConfigError, ValueError)) as err:
        if what == "rules":
            ni.rules.load(bomb)
        elif what == "train":
            load_train_config(bomb)
        elif what == "features":
            ni.features.load_spec(bomb)
        else:
            ni.mpi.load_spec(bomb)
    assert "YAML aliases (*a) are refused" in str(err.value)
    assert len(str(err.value)) < 1000
