# SPDX-License-Identifier: GPL-3.0-or-later
"""Class tables and the semantic map, from names and synthetic id maps."""

import json

import pytest
from ground_truth.core.classes import ClassTableError, class_table, numbered, read_table


def test_names_are_numbered_by_code_point_whatever_their_order():
    names = ["tree", "Car", "car", "Äpfel", "bush", "tree"]
    assert numbered(names) == {"Car": 1, "bush": 2, "car": 3, "tree": 4, "Äpfel": 5}
    assert numbered(reversed(names)) == numbered(names)


def test_the_user_s_table_fixes_the_ids_and_must_hold_every_name(tmp_path):
    path = tmp_path / "classes.json"
    path.write_text(json.dumps({"car": 7, "tree": 3, "unused": 40}))
    assert class_table({"car", "tree"}, str(path)) == {"car": 7, "tree": 3, "unused": 40}
    with pytest.raises(ClassTableError, match=r"has no id for the classes 'bush', 'rock' that the scene uses"):
        class_table({"car", "bush", "rock"}, str(path))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "want a JSON object"),
        ('{"car": "7"}', "the id of 'car' is '7', want a whole number ≥ 1"),
        ('{"car": 0}', "the id of 'car' is 0"),
        ('{"car": true}', "the id of 'car' is True"),
        ('{"car": 2, "bus": 2}', "'car' and 'bus' share id 2"),
        ("{car: 1}", "is not JSON"),
    ],
)
def test_a_bad_table_gets_one_line(tmp_path, text, message):
    path = tmp_path / "classes.json"
    path.write_text(text)
    with pytest.raises(ClassTableError, match=message):
        read_table(path)
    with pytest.raises(ClassTableError, match="No such file"):
        read_table(tmp_path / "missing.json")
