"""Scenario files: safe YAML, schema errors with key paths, extends and overrides."""

from __future__ import annotations

import pytest

from optimizer.core.errors import InputError
from optimizer.core.scenario import load_scenario
from tests.conftest import SCENARIOS


def write(tmp_path, text: str, name: str = "s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, expected", [
    ("name: a\nname: b\n", "duplicate key 'name'"),
    ("a: &x [1]\nb: *x\n", "anchors (&x) are not allowed"),
    ("name: !!python/object/apply:os.system [ls]\n", "tag"),
    ("name: [1,\n", "not valid scenario YAML"),
    ("- a\n- b\n", "top level must be a mapping"),
    ("", "empty"),
])
def test_unsafe_or_broken_yaml_is_refused_with_the_file_and_line(tmp_path, text, expected):
    with pytest.raises(InputError) as err:
        load_scenario(write(tmp_path, text))
    assert expected in err.value.line()
    assert "s.yaml" in err.value.line()


def test_large_file_is_refused(tmp_path):
    with pytest.raises(InputError, match="larger than"):
        load_scenario(write(tmp_path, "name: x\n" + "# pad\n" * 60_000))


def test_unknown_key_names_its_path_and_the_nearest_valid_key(tmp_path):
    text = (SCENARIOS / "texas_counties.yaml").read_text().replace("tolerance:", "tolerence:")
    path = write(tmp_path, text.replace("../data/", str(SCENARIOS.parent / "data") + "/"))
    with pytest.raises(InputError) as err:
        load_scenario(path)
    assert "unknown key `balance.tolerence`" in err.value.line()
    assert "did you mean `tolerance`?" in err.value.line()


def test_extends_merges_and_overrides_apply_last(tmp_path):
    child = write(tmp_path, f"extends: {SCENARIOS / 'texas_counties.yaml'}\nname: tight\n"
                            "overrides:\n  balance.tolerance: 0.03\n  territories.count: 18\n")
    scenario = load_scenario(child)
    assert scenario.name == "tight"
    assert scenario.balance.tolerance == 0.03
    assert scenario.territories.count == 18
    assert scenario.units.include == {"state": ["TX"]}
    assert scenario.units.dataset.is_file(), "the base's dataset path stays relative to the base file"


def test_extends_cycle_is_refused(tmp_path):
    write(tmp_path, "extends: b.yaml\nname: a\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\nname: b\n", "b.yaml")
    with pytest.raises(InputError, match="cycle"):
        load_scenario(tmp_path / "a.yaml")


def test_count_and_bases_must_agree(tmp_path):
    text = (SCENARIOS / "texas_counties.yaml").read_text()
    text = text.replace("  count: 20", "  count: 3\n  bases: [{unit: '48201'}]")
    path = write(tmp_path, text.replace("../data/", str(SCENARIOS.parent / "data") + "/"))
    with pytest.raises(InputError, match="`count` is 3 but 1 bases are listed"):
        load_scenario(path)


def test_unknown_kind_is_refused_with_the_known_kinds(tmp_path):
    with pytest.raises(InputError, match="unknown kind `alignmnt`.*alignment"):
        load_scenario(write(tmp_path, "kind: alignmnt\nname: x\n"))


def test_scenario_hash_changes_with_the_request():
    base = load_scenario(SCENARIOS / "texas_counties.yaml")
    other = load_scenario(SCENARIOS / "texas_counties.yaml", {"balance.tolerance": 0.04})
    assert base.digest() != other.digest()
    assert base.digest() == load_scenario(SCENARIOS / "texas_counties.yaml").digest()


def test_override_can_reach_a_list_item(tmp_path):
    from optimizer.core.scenario import _set_dotted

    raw = {"segments": [{"curve": {"shape": 1.0}}, {"curve": {"shape": 2.0}}]}
    _set_dotted(raw, "segments.1.curve.shape", 3.5, "test")
    assert raw["segments"][1]["curve"]["shape"] == 3.5
    with pytest.raises(InputError, match="`5` is not an item of segments"):
        _set_dotted(raw, "segments.5.curve.shape", 1.0, "test")
