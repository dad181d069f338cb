"""Table alarms are created in one jsii call (constructs_lib/alerts.include_alarms): the
template must be what one CfnAlarm per alarm gives, logical ids and path metadata included.
The app's own alarms are pinned by the template snapshots (recorded with one CfnAlarm each)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from constructs import Construct

from constructs_lib.alerts import AlarmActions, include_alarms, logical_id
from tests.support import region_stack


@pytest.mark.parametrize(
    "path",
    [
        ["Tables", "Main", "Alarms", "ReadThrottles", "Resource"],
        ["Top"],
        ["A", "Default", "B"],
        ["Archive", "ArchiveUsers", "Users", "Resource"],  # a part that ends with the next one
        ["x-y_z", "Q.R", "Resource"],
        ["L" * 130, "M" * 130, "Resource"],  # the readable part is cut at 240 characters
    ],
)
def test_logical_id_is_cdks_own(path):
    stack = region_stack()
    scope: Construct = stack
    for part in path[:-1]:
        scope = Construct(scope, part)
    resource = cdk.CfnResource(scope, path[-1], type="AWS::SNS::Topic")
    assert logical_id(path) == stack.get_logical_id(resource)


def _alarms(actions: AlarmActions) -> list[tuple[str, dict]]:
    metric = {"namespace": "AWS/DynamoDB", "metric_name": "ReadThrottleEvents", "dimensions": [{"name": "TableName", "value": "t"}]}
    math = {
        "metrics": [
            {"id": "e", "expression": "SUM(METRICS())", "label": "sum", "returnData": True},
            {
                "id": "a",
                "metricStat": {"metric": {"namespace": "AWS/DynamoDB", "metricName": "SystemErrors"}, "period": 60, "stat": "Sum"},
                "returnData": False,
            },
        ]
    }
    common = {"threshold": 1, "evaluation_periods": 5, "datapoints_to_alarm": 3}
    return [
        ("Throttles", {**common, "name": "t-throttles", "description": "d", **metric, "statistic": "Sum", "period": 60}),
        ("Errors", {**common, "name": "t-errors", "description": "e", **math}),
    ]


def _template(build) -> dict:
    app = cdk.App(context={"aws:cdk:enable-path-metadata": True})
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="123456789012", region="us-east-1"))
    build(Construct(Construct(stack, "Tables"), "Alarms"))
    return app.synth().get_stack_by_name("S").template


@pytest.mark.parametrize("token_arn", [False, True], ids=["literal topic", "a token: one CfnAlarm each"])
def test_included_alarms_are_the_cfn_alarms_byte_for_byte(token_arn):
    def arns(scope: Construct) -> list[str]:
        return [sns.Topic(scope, "T").topic_arn] if token_arn else ["arn:aws:sns:us-east-1:123456789012:alerts"]

    def one_each(scope: Construct) -> None:
        actions = AlarmActions(scope, topic_arns=arns(scope))
        for id, spec in _alarms(actions):
            actions.cfn_alarm(scope, id, **spec)

    def included(scope: Construct) -> None:
        actions = AlarmActions(scope, topic_arns=arns(scope))
        include_alarms(scope, [(id, actions.alarm_kwargs(**spec)) for id, spec in _alarms(actions)])

    expected, got = _template(one_each), _template(included)
    assert got == expected
    alarms = [r for r in got["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert len(alarms) == 2 and all(r["Metadata"]["aws:cdk:path"].startswith("S/Tables/Alarms/") for r in alarms)
