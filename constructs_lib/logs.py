"""CloudWatch Logs retention periods by their number of days, as CDK names them."""

from __future__ import annotations

from aws_cdk import aws_logs as logs

from constructs_lib.nag import acknowledge, control_tower

_R = logs.RetentionDays
# The only periods CloudWatch Logs accepts.
_RETENTION = {
    1: _R.ONE_DAY,
    3: _R.THREE_DAYS,
    5: _R.FIVE_DAYS,
    7: _R.ONE_WEEK,
    14: _R.TWO_WEEKS,
    30: _R.ONE_MONTH,
    60: _R.TWO_MONTHS,
    90: _R.THREE_MONTHS,
    120: _R.FOUR_MONTHS,
    150: _R.FIVE_MONTHS,
    180: _R.SIX_MONTHS,
    365: _R.ONE_YEAR,
    400: _R.THIRTEEN_MONTHS,
    545: _R.EIGHTEEN_MONTHS,
    731: _R.TWO_YEARS,
    1096: _R.THREE_YEARS,
    1827: _R.FIVE_YEARS,
    2192: _R.SIX_YEARS,
    2557: _R.SEVEN_YEARS,
    2922: _R.EIGHT_YEARS,
    3288: _R.NINE_YEARS,
    3653: _R.TEN_YEARS,
}


def retention(days: int) -> logs.RetentionDays:
    return _RETENTION[days]


# A year: what the Control Tower control CT.CLOUDWATCH.PR.2 asks of every log group.
YEAR_DAYS = 365


def acknowledge_short_retention(group: logs.LogGroup, days: int, why: str) -> None:
    """Where a log group keeps less than a year by config, say why on that group."""
    if days < YEAR_DAYS:
        acknowledge(group, {control_tower("cloudwatch_log_group_retention_period_check"): f"Kept {days} days by config: {why}"})
