"""The guard's account of what a change adds, changes and removes per stack (tools/guard/changes.py)."""

from __future__ import annotations

from tools.assembly import Stack
from tools.guard.changes import changes, stack_changes


def _stack(resources: dict) -> Stack:
    return Stack(name="daylight-dev", environment="dev", template={"Resources": resources}, termination_protection=False)


TABLE = {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {"TableName": "t", "GlobalSecondaryIndexes": [{"IndexName": "g1"}]}}
ALARM = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Threshold": 1}}
ROLE = {"Type": "AWS::IAM::Role", "Properties": {}}


def test_each_kind_is_counted_and_tables_indexes_and_roles_are_named():
    before = _stack({"TableA": TABLE, "AlarmA": ALARM, "AlarmB": ALARM, "RoleOld": ROLE})
    with_gsi = {**TABLE, "Properties": {**TABLE["Properties"], "GlobalSecondaryIndexes": [{"IndexName": "g1"}, {"IndexName": "g2"}]}}
    after = _stack(
        {
            "TableA": with_gsi,
            "TableB": TABLE,
            "AlarmA": {**ALARM, "Properties": {"Threshold": 5}},
            "AlarmB": ALARM,
            "AlarmC": ALARM,
            "Queue": {"Type": "AWS::SQS::Queue"},
        }
    )
    assert stack_changes(before, after) == (
        "tables +1 (TableB) ~1 (TableA), indexes +2 (TableA/g2, TableB/g1), alarms +1 ~1, roles -1 (RoleOld), other resources +1"
    )


def test_nothing_changed_says_nothing_and_new_and_removed_stacks_say_so():
    stack = _stack({"TableA": TABLE})
    assert stack_changes(stack, stack) is None
    assert changes({"daylight-dev": stack}, {"daylight-dev": stack}) == []
    assert stack_changes(None, stack) == "tables +1 (TableA), indexes +1 (TableA/g1) (new stack)"
    assert changes({"daylight-dev": stack}, {}) == ["  daylight-dev: tables -1 (TableA), indexes -1 (TableA/g1) (removed stack)"]
