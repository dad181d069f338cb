"""Alarms, kept apart from the resources they watch: one CloudWatch alarm per alarm kind
(config/alarms.py) and resource it applies to, a table's and its GSIs' and replicas', an
Aurora cluster's instances', or the account's. Every alarm goes to the stack's `AlarmActions`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from constructs_lib.alerts import AlarmActions
from constructs_lib.props import AlarmKind, AlarmScope, AlarmSettings, MathSpec, MetricSpec

_COMPARISONS = {
    ">=": cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    "<=": cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
}


@dataclass(frozen=True)
class AlarmTarget:
    """A resource alarm kinds apply to: its scopes, its metrics' dimensions, how its alarms'
    construct ids are formed from a kind's id, and the values its kinds' names and descriptions
    read."""

    scopes: tuple[AlarmScope, ...]
    dimensions: Mapping[str, str]
    id: str  # "{kind}", "{kind}GSI1", "Writer{kind}"
    values: Mapping[str, object] = field(default_factory=dict)
    provisioned: bool = False

    def takes(self, kind: AlarmKind) -> bool:
        return bool(set(kind.applies_to) & set(self.scopes)) and (self.provisioned or not kind.provisioned_only)


def table_targets(table_name: str, index_names: Sequence[str], replica_regions: Sequence[str], *, provisioned: bool) -> list[AlarmTarget]:
    """A table, each of its GSIs (DynamoDB publishes their metrics under both names) and each replica region."""
    table = {"table": table_name, "resource": table_name, "subject": table_name}
    return [
        AlarmTarget(("table",), {"TableName": table_name}, "{kind}", table, provisioned),
        *(
            AlarmTarget(
                ("index",),
                {"TableName": table_name, "GlobalSecondaryIndexName": index},
                f"{{kind}}{index}",
                {"table": table_name, "index": index, "resource": f"{table_name}-{index}", "subject": f"index {index} of {table_name}"},
                provisioned,
            )
            for index in index_names
        ),
        *(
            AlarmTarget(
                ("replica",), {"TableName": table_name, "ReceivingRegion": region}, f"{{kind}}{region}", {**table, "region": region}
            )
            for region in replica_regions
        ),
    ]


class Alarms(Construct):
    """The catalogue's alarms for some resources: each kind for every target it applies to.

    `by_kind` orders them kind by kind (a table's read throttles, then its GSIs', ...); else
    target by target (each database instance's alarms together). The order is the templates'.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        kinds: Sequence[AlarmKind],
        targets: Sequence[AlarmTarget],
        settings: AlarmSettings,
        actions: AlarmActions,
        by_kind: bool = True,
    ) -> None:
        super().__init__(scope, id)
        pairs = [(k, t) for k in kinds for t in targets] if by_kind else [(k, t) for t in targets for k in kinds]
        self.alarms = [alarm(self, kind, target, settings, actions) for kind, target in pairs if target.takes(kind)]


def alarm(scope: Construct, kind: AlarmKind, target: AlarmTarget, settings: AlarmSettings, actions: AlarmActions) -> cloudwatch.Alarm:
    """One alarm of `kind` on `target`, under `scope`."""
    threshold = settings.thresholds[kind.threshold]
    values = {**target.values, "threshold": threshold}
    return actions.alarm(
        scope,
        target.id.format(kind=kind.id),
        name=kind.name.format(**values),
        description=kind.description.format(**values),
        metric=_metric(kind, target.dimensions),
        threshold=threshold * kind.threshold_scale,
        evaluation_periods=settings.evaluation_periods if kind.evaluation_periods is None else kind.evaluation_periods,
        datapoints_to_alarm=settings.datapoints_to_alarm if kind.datapoints_to_alarm is None else kind.datapoints_to_alarm,
        comparison_operator=_COMPARISONS[kind.comparison],
    )


def _metric(kind: AlarmKind, dimensions: Mapping[str, str]) -> cloudwatch.IMetric:
    period = Duration.seconds(kind.period_seconds)

    def metric(spec: MetricSpec) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=kind.namespace,
            metric_name=spec.name,
            dimensions_map={**dimensions, **dict(spec.dimensions)} or None,
            statistic=spec.statistic,
            period=period,
        )

    if isinstance(kind.metric, MathSpec):
        math = kind.metric
        return cloudwatch.MathExpression(
            expression=math.expression,
            using_metrics={id: metric(spec) for id, spec in math.metrics},
            label=math.label,
            period=period,
        )
    return metric(kind.metric)
