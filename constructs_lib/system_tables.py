"""A system's tables: one `DataTable` per table of its catalogue entry, each with its alarms."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib.alerts import AlarmActions
from constructs_lib.specs import SystemSpec
from constructs_lib.table import DataTable, TableSettings


class SystemTables(Construct):
    """Every table of `system`, named by `names` (table id -> physical name), encrypted with
    `key`; the `streamed` ones (archived) stream old images. A scope of their own, so a table
    id can never collide with another construct of the stack."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        system: SystemSpec,
        names: Mapping[str, str],
        key: kms.IKey,
        settings: TableSettings,
        alarm_actions: AlarmActions,
        streamed: Collection[str] = (),
    ) -> None:
        super().__init__(scope, id)
        self.tables = {
            spec.id: DataTable(
                self,
                spec.id,
                spec=spec,
                table_name=names[spec.id],
                key=key,
                settings=settings,
                alarm_actions=alarm_actions,
                stream=spec.id in streamed,
            )
            for spec in system.tables
        }
