"""The Athena tables of template.yaml against the consumer's object keys.

Partition projection only finds what the consumer writes if the table's
storage.location.template, filled with projected values, is exactly
events_api.store.stored_objects.partition_prefix(...) under the events bucket. These tests
project the values the way Athena does (injected, date, integer) and compare them with the keys the
consumer writes, so a change on either side that breaks queries fails here.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest

from events_api.analytics import table as events_table
from events_api.ingest.http_api import DATASET_RULE
from events_api.store.enrichment import STORED_FIELDS
from events_api.store.stored_objects import ObjectPlan, partition_prefix
from events_api.timestamps import rfc3339
from events_api_cli.local.template.deployment import STACK, Deployment
from events_api_cli.local.template.document import ROOT, resources, template

pytestmark = pytest.mark.unit

TABLES = ("EventsTable", "EventsRawTable")
PARTITION_KEYS = ["dataset", "dt", "hour"]
SAMPLE_DATASETS = ["logs", "a", "0", "my_dataset-2", "x" * 64]
#: Java DateTimeFormatter letters used by date projections, as strftime directives.
JAVA_DATE_LETTERS = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H"}
OPERATIONS_DOC = ROOT / "docs" / "operations.md"


def table_input(name: str) -> dict[str, Any]:
    return resources()[name]["Properties"]["TableInput"]


def projection(stack: Deployment, name: str) -> dict[str, str]:
    return stack.resolve(table_input(name)["Parameters"])


def fill(location_template: str, values: dict[str, str]) -> str:
    """storage.location.template with ${column} replaced, as Athena fills it."""
    filled = re.sub(r"\$\{(\w+)\}", lambda match: values[match.group(1)], location_template)
    assert "${" not in filled
    return filled


def strftime_format(java_format: str) -> str:
    converted = java_format
    for letters, directive in JAVA_DATE_LETTERS.items():
        converted = converted.replace(letters, directive)
    assert not re.search(
        r"[A-Za-z]", converted.replace("%Y", "").replace("%m", "").replace("%d", "")
    )
    return converted


def integer_values(properties: dict[str, str], column: str) -> list[str]:
    low, high = (int(bound) for bound in properties[f"projection.{column}.range"].split(","))
    step = int(properties.get(f"projection.{column}.interval", "1"))
    digits = int(properties.get(f"projection.{column}.digits", "1"))
    return [f"{value:0{digits}d}" for value in range(low, high + 1, step)]


def date_bounds(properties: dict[str, str], column: str, today: date) -> tuple[date, date]:
    text_format = strftime_format(properties[f"projection.{column}.format"])
    bounds = []
    for bound in properties[f"projection.{column}.range"].split(","):
        bound = bound.strip()
        if bound == "NOW":
            bounds.append(today)
        else:
            bounds.append(datetime.strptime(bound, text_format).replace(tzinfo=UTC).date())
    return bounds[0], bounds[1]


def received_times() -> list[str]:
    """RFC 3339 receive times as the ingest function writes them: every hour of a day,
    both sides of month and year ends, a leap day, and now."""
    moments = [datetime(2026, 11, 26, hour, 59, 59, 999_000, tzinfo=UTC) for hour in range(24)]
    moments += [
        datetime(2026, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
        datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC),
        datetime(2028, 2, 29, 12, 0, 0, tzinfo=UTC),
        datetime.now(UTC),
    ]
    return [rfc3339(moment) for moment in moments]


# ---------------------------------------------------------------- projection vs object keys


@pytest.mark.parametrize("table", TABLES)
def test_partition_keys_are_dataset_dt_and_hour_strings(table: str) -> None:
    keys = table_input(table)["PartitionKeys"]
    assert [key["Name"] for key in keys] == PARTITION_KEYS
    assert {key["Type"] for key in keys} == {"string"}


@pytest.mark.parametrize("table", TABLES)
def test_every_partition_key_is_projected_and_in_the_location_template(table: str) -> None:
    properties = projection(Deployment(), table)
    assert properties["projection.enabled"] == "true"
    location = properties["storage.location.template"]
    assert set(re.findall(r"\$\{(\w+)\}", location)) == set(PARTITION_KEYS)
    assert properties["projection.dataset.type"] == "injected"
    assert properties["projection.dt.type"] == "date"
    assert properties["projection.hour.type"] == "integer"


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("dataset", SAMPLE_DATASETS)
def test_location_template_filled_with_projected_values_is_the_consumers_prefix(
    table: str, dataset: str
) -> None:
    stack = Deployment()
    properties = projection(stack, table)
    bucket = f"s3://{stack.refs['EventsBucket']}/"
    date_format = strftime_format(properties["projection.dt.format"])
    hours = integer_values(properties, "hour")
    today = datetime.now(UTC).date()
    low, high = date_bounds(properties, "dt", today)
    assert DATASET_RULE.fullmatch(dataset)
    for received_at in received_times():
        moment = datetime.fromisoformat(received_at.replace("Z", "+00:00"))
        # What Athena would project for the partition this event is in...
        dt = moment.strftime(date_format)
        hour = f"{moment.hour:0{len(hours[0])}d}"
        assert hour in hours
        if moment.date() <= today:
            assert low <= moment.date() <= high, received_at
        projected = fill(
            properties["storage.location.template"], {"dataset": dataset, "dt": dt, "hour": hour}
        )
        # ...is the prefix the consumer writes the event's object under.
        assert projected == bucket + partition_prefix(dataset, received_at)


@pytest.mark.parametrize("table", TABLES)
def test_hour_projection_yields_every_hour_00_to_23_and_nothing_else(table: str) -> None:
    properties = projection(Deployment(), table)
    written = {partition_prefix("logs", t).split("/")[2] for t in received_times()[:24]}
    assert written == {f"hour={hour:02d}" for hour in range(24)}
    assert integer_values(properties, "hour") == [f"{hour:02d}" for hour in range(24)]


@pytest.mark.parametrize("table", TABLES)
def test_date_projection_runs_from_before_any_deployment_until_today(table: str) -> None:
    properties = projection(Deployment(), table)
    assert properties["projection.dt.format"] == "yyyy-MM-dd"
    assert properties["projection.dt.range"].split(",")[1] == "NOW"
    low, high = date_bounds(properties, "dt", datetime.now(UTC).date())
    assert low <= date(2026, 1, 1)
    assert high == datetime.now(UTC).date()
    # Daily steps: no day between two deployed days is skipped.
    assert properties.get("projection.dt.interval", "1") == "1"
    assert properties.get("projection.dt.interval.unit", "DAYS") == "DAYS"


@pytest.mark.parametrize("table", TABLES)
def test_objects_the_consumer_writes_are_under_the_table_and_gzip_by_name(table: str) -> None:
    stack = Deployment()
    storage = stack.resolve(table_input(table)["StorageDescriptor"])
    properties = projection(stack, table)
    assert properties["storage.location.template"].startswith(storage["Location"])
    assert storage["Location"] == f"s3://{stack.refs['EventsBucket']}/"
    received_at = received_times()[0]
    plan = ObjectPlan(prefix=partition_prefix("logs", received_at), name_keys=["shard:1"])
    key = plan.key("kinesis")
    assert f"s3://{stack.refs['EventsBucket']}/{key}".startswith(
        fill(
            properties["storage.location.template"],
            {"dataset": "logs", "dt": received_at[:10], "hour": received_at[11:13]},
        )
    )
    # TextInputFormat decompresses by file suffix.
    assert key.endswith(".gz")
    assert storage["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"


# ---------------------------------------------------------------- columns and SerDe


def test_events_table_reads_json_with_the_openx_serde_tolerantly() -> None:
    serde = table_input("EventsTable")["StorageDescriptor"]["SerdeInfo"]
    assert serde["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert serde["Parameters"]["ignore.malformed.json"] == "true"
    assert serde["Parameters"]["case.insensitive"] == "true"


def test_events_table_has_a_column_for_every_stored_field_and_common_fields() -> None:
    columns = table_input("EventsTable")["StorageDescriptor"]["Columns"]
    names = [column["Name"] for column in columns]
    # Athena column names are lower case; the SerDe matches JSON keys case-insensitively.
    assert names == [name.lower() for name in names]
    assert len(set(names)) == len(names)
    assert {field.lower() for field in STORED_FIELDS} <= set(names)
    assert {"message", "level", "requestid", "duration", "error"} <= set(names)
    assert not set(names) & set(PARTITION_KEYS)
    # Free-form events: a typed column would fail whole queries on one odd value.
    assert {column["Type"] for column in columns} == {"string"}


def test_raw_table_holds_each_stored_line_in_one_column() -> None:
    storage = table_input("EventsRawTable")["StorageDescriptor"]
    assert [column["Name"] for column in storage["Columns"]] == ["line"]
    serde = storage["SerdeInfo"]
    assert serde["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    # The default field delimiter, \001, which JSON text cannot contain unescaped.
    assert serde["Parameters"].get("field.delim", "\x01") == "\x01"


def test_tables_project_identically() -> None:
    stack = Deployment()
    first, second = (
        {
            k: v
            for k, v in projection(stack, table).items()
            if k.startswith(("projection.", "storage."))
        }
        for table in TABLES
    )
    assert first == second


# ---------------------------------------------------------------- database, workgroup, queries


def test_database_name_is_the_stack_name_in_athenas_alphabet() -> None:
    database = resources()["AnalyticsDatabase"]["Properties"]["DatabaseInput"]["Name"]
    name = Deployment().resolve(database)
    assert name == STACK.replace("-", "_")
    assert re.fullmatch(r"[a-z0-9_]+", name)
    for table in TABLES:
        assert resources()[table]["Properties"]["DatabaseName"] == {"Ref": "AnalyticsDatabase"}
    assert {table_input(table)["Name"] for table in TABLES} == {"events_json", "events_raw"}


def test_workgroup_writes_encrypted_results_to_the_expiring_results_bucket() -> None:
    stack = Deployment()
    workgroup = stack.resolve(resources()["QueryWorkGroup"]["Properties"])
    configuration = workgroup["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    results = configuration["ResultConfiguration"]
    assert results["OutputLocation"] == f"s3://{stack.refs['QueryResultsBucket']}/"
    assert results["EncryptionConfiguration"]["EncryptionOption"] in {"SSE_S3", "SSE_KMS"}
    bucket = resources()["QueryResultsBucket"]["Properties"]
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert 1 <= rule["ExpirationInDays"] <= 31
    assert "Prefix" not in rule
    assert "Filter" not in rule


def test_no_iam_principal_is_created_for_queries() -> None:
    kinds = {"AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::Role", "AWS::IAM::Policy"}
    iam = {name: r for name, r in resources().items() if r["Type"] in kinds}
    # The one role is CloudWatch Logs' own (subscribed log events onto the stream): only
    # that service may assume it, no person or query.
    assert set(iam) == {"LogSubscriptionRole"}
    trust = iam["LogSubscriptionRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [statement["Principal"] for statement in trust] == [{"Service": "logs.amazonaws.com"}]


def named_queries() -> dict[str, str]:
    return {
        name: resource["Properties"]["QueryString"]
        for name, resource in resources("AWS::Athena::NamedQuery").items()
    }


def test_three_saved_queries_run_in_the_workgroup_on_the_database() -> None:
    assert len(named_queries()) == 3
    for resource in resources("AWS::Athena::NamedQuery").values():
        assert resource["Properties"]["Database"] == {"Ref": "AnalyticsDatabase"}
        assert resource["Properties"]["WorkGroup"] == {"Ref": "QueryWorkGroup"}


@pytest.mark.parametrize("name", sorted(named_queries()))
def test_saved_queries_name_their_datasets_and_days(name: str) -> None:
    query = named_queries()[name]
    # dataset is injected: Athena refuses a query without = or IN on it.
    assert re.search(r"\bdataset\s*(=|IN\s*\()", query), name
    assert re.search(r"\bdt\s*(=|BETWEEN|>=)", query), name
    assert re.search(r"\bFROM (events|events_raw)\b", query), name
    # Column names starting with an underscore must be double-quoted in Athena queries.
    for match in re.finditer(r"(?<![\"'$.\w])_[a-z]+", query):
        raise AssertionError(f"{name}: unquoted {match.group()}")


@pytest.mark.parametrize("name", sorted(named_queries()))
def test_saved_queries_are_the_ones_in_the_operations_document(name: str) -> None:
    blocks = re.findall(r"```sql\n(.*?)```", OPERATIONS_DOC.read_text(), flags=re.DOTALL)
    assert named_queries()[name] in blocks, name


def test_outputs_name_the_workgroup_and_database() -> None:
    outputs = template()["Outputs"]
    assert outputs["AthenaWorkGroup"]["Value"] == {"Ref": "QueryWorkGroup"}
    assert outputs["AthenaDatabase"]["Value"] == {"Ref": "AnalyticsDatabase"}


# ---------------------------------------------------------------- compaction and the view

COMPACTION_TABLES = {
    "EventsCompactedTable": (events_table.COMPACTED_TABLE, events_table.COMPACTED_PREFIX),
    "EventsCompactionManifestTable": (events_table.MANIFEST_TABLE, events_table.MANIFEST_PREFIX),
}


def test_no_glue_table_takes_the_name_of_the_events_view() -> None:
    names = {
        resource["Properties"]["TableInput"]["Name"]
        for resource in resources("AWS::Glue::Table").values()
    }
    assert events_table.TABLE not in names
    assert {
        events_table.RAW_TABLE,
        events_table.COMPACTED_TABLE,
        events_table.MANIFEST_TABLE,
    } <= names
    assert table_input("EventsRawTable")["Name"] == events_table.RAW_TABLE


def test_compacted_table_has_exactly_the_columns_of_events_api_table() -> None:
    storage = table_input("EventsCompactedTable")["StorageDescriptor"]
    assert storage["Columns"] == events_table.glue_columns(with_source=True)
    manifest = table_input("EventsCompactionManifestTable")["StorageDescriptor"]
    assert [c["Name"] for c in manifest["Columns"]] == [events_table.MANIFEST_COLUMN, "slot"]


@pytest.mark.parametrize("name", sorted(COMPACTION_TABLES))
def test_compaction_tables_read_what_compaction_writes_where_it_writes_it(name: str) -> None:
    stack = Deployment()
    glue_name, prefix = COMPACTION_TABLES[name]
    assert table_input(name)["Name"] == glue_name
    storage = stack.resolve(table_input(name)["StorageDescriptor"])
    bucket = stack.refs["EventsBucket"]
    assert storage["Location"] == f"s3://{bucket}/{prefix}"
    properties = projection(stack, name)
    raw = projection(stack, "EventsRawTable")
    for key, value in raw.items():
        if key.startswith("projection."):
            assert properties[key] == value, key
    hour = events_table.Hour("logs", "2026-11-28", "03")
    values = {"dataset": "logs", "dt": "2026-11-28", "hour": "03"}
    keys = [k["Name"] for k in table_input(name)["PartitionKeys"]]
    if name == "EventsCompactedTable":
        assert storage["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
        assert storage["InputFormat"].endswith("MapredParquetInputFormat")
        assert properties["classification"] == "parquet"
        assert keys == [*events_table.PARTITIONS, "slot"]
        assert properties["projection.slot.type"] == "enum"
        assert properties["projection.slot.values"].split(",") == list(events_table.SLOTS)
        for slot in events_table.SLOTS:
            filled = fill(properties["storage.location.template"], {**values, "slot": slot})
            assert filled == f"s3://{bucket}/{hour.slot_prefix(slot)}"
    else:
        assert storage["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
        assert keys == list(events_table.PARTITIONS)
        filled = fill(properties["storage.location.template"], values)
        assert f"{filled}{events_table.MANIFEST_NAME}" == f"s3://{bucket}/{hour.manifest_key}"


def test_unload_writes_the_hour_as_events_shows_it_into_a_slot_as_parquet_zstd() -> None:
    hour = events_table.Hour("logs", "2026-11-28", "03")
    sql = events_table.athena_unload(hour, "b", "db", "bucket")
    columns = ", ".join(f'"{n}"' for n in (*events_table.COLUMN_NAMES, "_source"))
    assert sql == (
        f'UNLOAD (SELECT {columns} FROM "db"."events" '
        "WHERE dataset = 'logs' AND dt = '2026-11-28' AND hour = '03') "
        "TO 's3://bucket/compacted/dataset=logs/dt=2026-11-28/hour=03/slot=b/' "
        "WITH (format = 'PARQUET', compression = 'ZSTD')"
    )


def test_sources_are_read_from_the_slot_just_written() -> None:
    hour = events_table.Hour("it's", "2026-11-28", "03")
    sql = events_table.athena_sources(hour, "a", 'we"ird')
    assert sql == (
        'SELECT DISTINCT "_source" FROM "we""ird"."events_compacted" '
        "WHERE dataset = 'it''s' AND dt = '2026-11-28' AND hour = '03' AND slot = 'a'"
    )


def test_view_reads_the_live_slot_for_listed_sources_and_ndjson_for_the_rest() -> None:
    view = events_table.athena_view("events_api_prod")
    assert view.startswith('CREATE OR REPLACE VIEW "events_api_prod"."events" AS SELECT ')
    compacted, raw = view.split(" UNION ALL ")
    assert 'FROM "events_api_prod"."events_compacted" c JOIN (' in compacted
    assert 'm.slot = c.slot AND m.source = c."_source"' in compacted
    assert 'FROM "events_api_prod"."events_raw" r LEFT JOIN (' in raw
    assert 'm.source = r."$path" WHERE m.source IS NULL' in raw
    for side in (compacted, raw):
        # The partitions join too, so a query's dataset = '...' reaches the manifest table.
        for partition in events_table.PARTITIONS:
            assert f"m.{partition} = " in side
