"""A system's tables: one `DataTable` per table of its catalogue entry, each with its alarms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib.alerts import AlarmActions
from constructs_lib.specs import SystemSpec
from constructs_lib.table import DataTable, TableSettings


class SystemTables(Construct):
    """Every table of `system`, named by `names` (table id -> physical name), encrypted with
    `key`; those in `stream_readers` (archived) stream old images, readable by those principals
    only. A scope of their own, so a table id can never collide with another construct of the stack."""

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
        stream_readers: Mapping[str, Sequence[str]] | None = None,
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
                stream_readers=(stream_readers or {}).get(spec.id, ()),
            )
            for spec in system.tables
        }
