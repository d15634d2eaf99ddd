"""Property-based fuzzing: whatever the API, a config file or a scenario holds, only the
project's own errors come out, and whatever parses can be exposed.

- both answers with arbitrary JSON values in every documented field (and around them);
- arbitrary bytes as an HTTP body, through `transport.decode_response` and the parsers;
- arbitrary config documents (trees mixing the real key names with anything);
- arbitrary scenario documents, and the answers the simulator would render from them.

Everything that parses goes into a Snapshot, through `exposition.build_families`, and must
come out of `prometheus_client.generate_latest` as text Prometheus can parse back. Runs
derandomized (a fixed seed) so CI sees the same examples every time.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dts_exporter.actions import NAMES, dts_jobs, initialization, modify_status
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS, DESCRIBE_MODIFY_STATUS
from dts_exporter.base.errors import ConfigError, DtsApiError
from dts_exporter.base.families import Options
from dts_exporter.base.fields import error_code
from dts_exporter.config import TOP_LEVEL_KEYS, JobConfig, parse_config
from dts_exporter.exposition import build_families
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.simulator.api import page_job_body
from dts_exporter.simulator.render import render_body
from dts_exporter.simulator.scenario import parse_faults, parse_scenario
from dts_exporter.wire import transport
from tests.conftest import StaticCollector, make_snapshot

# Every @FUZZ property is also marked slow (250 examples each, seconds per test); the
# pinned regressions at the end run in the fast set too.
FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- values ---------------------------------------------------------------------------------

# Text including what JSON escapes can smuggle in: lone surrogates, NUL, newlines, quotes.
nasty_text = st.text(
    alphabet=st.characters(exclude_categories=()) | st.sampled_from('\ud800\udfff\x00\n"\\{}='),
    max_size=20,
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)  # beyond float
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | nasty_text
    | st.sampled_from(["", " ", "12", "-3.5", "1e999", "NaN", "inf", "Finished", "DTS-1020042"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def entries(fields: Iterable[str]) -> st.SearchStrategy[Any]:
    """A list entry: usually an object with the documented fields holding anything."""
    names = list(fields)
    obj = st.fixed_dictionaries({}, optional={name: json_values for name in names})
    return st.one_of(obj, obj, obj, json_values)


def maybe_wrapped(items: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A list as the API sends it, XML-to-JSON wrapped (`{"Item": [...]}`), or anything."""
    as_list = st.lists(items, max_size=5)
    return st.one_of(as_list, as_list, as_list.map(lambda v: {"Item": v}), json_values)


TABLE_FIELDS = (
    "SourceOwnerDBName",
    "DestinationOwnerDBName",
    "TableName",
    "Status",
    "TotalRowNum",
    "FinishRowNum",
    "UsedTime",
    "ErrorMessage",
)
OBJECT_FIELDS = (
    "SourceOwnerDBName",
    "DestinationOwnerDBName",
    "ObjectName",
    "ObjectType",
    "Status",
    "ErrorMessage",
)
SYNC_FIELDS = ("SourceOwnerDBName", "DestinationOwnerDBName", "TableName", "Status", "ErrorMessage")
STAGE_FIELDS = ("Status", "Percent", "Progress", "Delay", "ErrorMessage")
ITEM_FIELDS = ("ItemName", "CheckStatus", "ErrorMessage", "RepairMethod")

structure_entry = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            **{name: json_values for name in OBJECT_FIELDS},
            "Constraints": maybe_wrapped(entries(OBJECT_FIELDS)),
        },
    ),
    json_values,
)
job_bodies = st.fixed_dictionaries(
    {},
    optional={
        "DataInitializationDetails": maybe_wrapped(entries(TABLE_FIELDS)),
        "StructureInitializationDetails": maybe_wrapped(structure_entry),
        "DataSynchronizationDetails": maybe_wrapped(entries(SYNC_FIELDS)),
        "Success": json_values,
        "RequestId": json_values,
        "PageCount": json_values,
    },
)
stage = st.one_of(
    st.fixed_dictionaries({}, optional={name: json_values for name in STAGE_FIELDS}), json_values
)
precheck = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            **{name: json_values for name in STAGE_FIELDS},
            "Detail": st.one_of(maybe_wrapped(entries(ITEM_FIELDS)), entries(ITEM_FIELDS)),
        },
    ),
    json_values,
)
task_bodies = st.fixed_dictionaries(
    {},
    optional={
        "Status": json_values,
        "ErrorMessage": json_values,
        "PrecheckStatus": precheck,
        "StructureInitializationStatus": stage,
        "DataInitializationStatus": stage,
        "DataSynchronizationStatus": stage,
        "Success": json_values,
        "RequestId": json_values,
    },
)
dts_job_lists = st.fixed_dictionaries(
    {},
    optional={
        "DtsJobList": maybe_wrapped(
            entries(
                (
                    "DtsInstanceID",
                    "DtsJobId",
                    "DtsJobName",
                    "Status",
                    "JobType",
                    "Delay",
                    "Checkpoint",
                    "SourceEndpoint",
                    "DestinationEndpoint",
                )
            )
        ),
        "TotalRecordCount": json_values,
    },
)

# -- exposition -----------------------------------------------------------------------------


def expose(
    job_status: Any = None, task_status: Any = None, *, options: Options | None = None
) -> str:
    """Build the families of a snapshot holding these parse results; return the text."""
    job = JobConfig(id="dtsfuzz", name="fuzz", modify_tasks=("taskfuzz",))
    snapshot = make_snapshot(
        [(job, job_status, None if job_status else DtsApiError("X", "x"))],
        [("dtsfuzz", "taskfuzz", task_status, None if task_status else DtsApiError("X", "x"))],
        duration_seconds=0.1,
    )
    stats = ApiStats(NAMES)
    families = build_families(snapshot, stats, *(() if options is None else (options,)))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StaticCollector(families))
    text = generate_latest(registry).decode("utf-8")
    # What Prometheus would do with it: parse it back, every sample a number.
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert isinstance(sample.value, float)
    return text


# -- the properties -------------------------------------------------------------------------


@pytest.mark.slow
@FUZZ
@given(body=job_bodies)
def test_any_initialization_answer(body: dict[str, Any]) -> None:
    try:
        status = initialization.parse(body)
    except DtsApiError as exc:
        assert exc.code == "InvalidResponse"
        return
    expose(status)
    expose(status, options=Options(table_metrics="unfinished", max_table_series_per_job=1))


@pytest.mark.slow
@FUZZ
@given(body=task_bodies)
def test_any_modify_status_answer(body: dict[str, Any]) -> None:
    status = modify_status.parse(body)  # nothing in a modify answer is fatal
    expose(None, status)


@pytest.mark.slow
@FUZZ
@given(body=dts_job_lists)
def test_any_dts_jobs_answer(body: dict[str, Any]) -> None:
    try:
        listed = dts_jobs.parse(body, "cn-hangzhou")
    except DtsApiError as exc:
        assert exc.code == "InvalidResponse"
        return
    assert listed.total is None or isinstance(listed.total, int)
    for job in listed.jobs:
        assert job.job_id


def _decode_and_parse(status: int, content: bytes) -> None:
    for action, parse in (
        (DESCRIBE_INITIALIZATION_STATUS, initialization.parse),
        (DESCRIBE_MODIFY_STATUS, modify_status.parse),
    ):
        try:
            body = transport.decode_response(action, status, content)
            parsed = parse(body)
        except DtsApiError as exc:
            assert re.match(r"^[A-Za-z][A-Za-z0-9._-]*$", exc.code), exc.code
            assert "\n" not in exc.code
            continue
        if action == DESCRIBE_INITIALIZATION_STATUS:
            expose(parsed)
        else:
            expose(None, parsed)


@pytest.mark.slow
@FUZZ
@given(
    status=st.sampled_from([200, 200, 200, 400, 403, 404, 500, 502, 503]),
    content=st.one_of(
        st.binary(max_size=200),
        job_bodies.map(lambda b: json.dumps(b).encode()),
        task_bodies.map(lambda b: json.dumps(b).encode()),
        job_bodies.map(lambda b: json.dumps(b).encode()[: len(json.dumps(b)) // 2]),
        json_values.map(lambda b: json.dumps(b).encode("utf-16")),
    ),
)
def test_any_bytes_as_a_body(status: int, content: bytes) -> None:
    _decode_and_parse(status, content)


# -- config documents -----------------------------------------------------------------------

CONFIG_KEYS = [
    *sorted(TOP_LEVEL_KEYS),  # every top-level key, and the nested ones:
    "id",
    "name",
    "modify_tasks",
    "access_key_id",
    "access_key_secret",
    "security_token",
    "ram_role_arn",
    "role_session_name",
    "external_id",
    "duration_seconds",
    "enabled",
    "regions",
    "name_pattern",
    "refresh_seconds",
]
config_scalars = scalars | st.sampled_from(
    [
        "cn-hangzhou",
        "http://127.0.0.1:8080",
        "127.0.0.1:99999",
        "https://dts.aliyuncs.com/path",
        "dtsi76118o3w92",
        "debug",
        "v1",
        "acs:ram::1234567890123456:role/dts-reader",
        "(unclosed",
        "^prod-",
        "unfinished",
        0,
        1,
        900,
        3600,
        0.5,
        -1,
        10**20,
    ]
)
config_trees = st.recursive(
    config_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(CONFIG_KEYS) | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=25,
)
valid_config = {
    "region": "cn-hangzhou",
    "jobs": [{"id": "dtsi76118o3w92", "modify_tasks": ["k71r16fj13g"]}],
}


@pytest.mark.slow
@FUZZ
@given(
    doc=st.one_of(
        config_trees,
        # a valid document with one subtree replaced by anything
        st.tuples(st.sampled_from(CONFIG_KEYS), config_trees).map(
            lambda kv: {**valid_config, kv[0]: kv[1]}
        ),
        st.tuples(st.sampled_from(CONFIG_KEYS), config_trees).map(
            lambda kv: {**valid_config, "jobs": [{"id": "dtsi1", kv[0]: kv[1]}]}
        ),
        st.tuples(st.sampled_from(CONFIG_KEYS), config_trees).map(
            lambda kv: {**valid_config, "credentials": {kv[0]: kv[1]}}
        ),
        st.tuples(st.sampled_from(CONFIG_KEYS), config_trees).map(
            lambda kv: {**valid_config, "discovery": {kv[0]: kv[1]}}
        ),
    )
)
def test_any_config_document(doc: Any) -> None:
    try:
        config = parse_config(doc, source="fuzz.yaml")
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("fuzz.yaml"), message
        assert "\n" not in message.replace("\\n", ""), message
        return
    assert config.region
    assert repr(config)  # reprs never fail (and hide secrets: see test_secrets)


# -- scenario documents ---------------------------------------------------------------------

SCENARIO_KEYS = ["jobs", "tasks", "dts_jobs", "faults"]
fault_specs = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.sampled_from(["throttling", "latency", "reset", "html", "truncated", "nope"])
        | json_values,
        "seconds": json_values,
        "pages": json_values | st.lists(st.integers(-1, 3), max_size=3),
        "retry_after_ms": json_values,
        "other": json_values,
    },
)


def objects(fields: Iterable[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={name: json_values for name in fields})


# Scenario bodies shaped as the simulator insists (lists of objects, stages as objects),
# with anything in the fields: these get past validation and are rendered and parsed.
shaped_jobs = st.fixed_dictionaries(
    {},
    optional={
        "DataInitializationDetails": st.lists(objects(TABLE_FIELDS), max_size=4),
        "StructureInitializationDetails": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    **{name: json_values for name in OBJECT_FIELDS},
                    "Constraints": st.lists(objects(OBJECT_FIELDS), max_size=3),
                },
            ),
            max_size=3,
        ),
        "DataSynchronizationDetails": st.lists(objects(SYNC_FIELDS), max_size=3),
    },
)
shaped_tasks = st.fixed_dictionaries(
    {},
    optional={
        "Status": json_values,
        "ErrorMessage": json_values,
        "PrecheckStatus": st.fixed_dictionaries(
            {},
            optional={
                **{name: json_values for name in STAGE_FIELDS},
                "Detail": st.lists(objects(ITEM_FIELDS), max_size=3),
            },
        ),
        "StructureInitializationStatus": objects(STAGE_FIELDS),
        "DataInitializationStatus": objects(STAGE_FIELDS),
        "DataSynchronizationStatus": objects(STAGE_FIELDS),
    },
)
scenario_docs = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "jobs": st.dictionaries(st.text(max_size=6), shaped_jobs, max_size=3),
            "tasks": st.dictionaries(st.text(max_size=6), shaped_tasks, max_size=3),
        },
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "jobs": st.dictionaries(st.text(max_size=6), shaped_jobs, max_size=3),
            "tasks": st.dictionaries(st.text(max_size=6), shaped_tasks, max_size=3),
        },
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "jobs": st.dictionaries(st.text(max_size=6), job_bodies | json_values, max_size=3)
            | json_values,
            "tasks": st.dictionaries(st.text(max_size=6), task_bodies | json_values, max_size=3)
            | json_values,
            "dts_jobs": st.dictionaries(
                st.text(max_size=6), st.lists(json_values, max_size=3) | json_values, max_size=2
            )
            | json_values,
            "faults": st.dictionaries(
                st.text(max_size=6), fault_specs | st.lists(fault_specs, max_size=2), max_size=3
            )
            | json_values,
        },
    ),
    st.dictionaries(st.sampled_from(SCENARIO_KEYS) | st.text(max_size=5), json_values, max_size=4),
)


@pytest.mark.slow
@FUZZ
@given(doc=scenario_docs)
def test_any_scenario_document(doc: Any) -> None:
    try:
        scenario = parse_scenario(doc, "fuzz-scenario.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz-scenario.yaml"), str(exc)
        return
    # What the simulator would answer from it parses (or fails with our own error) and
    # can be exposed.
    for body in scenario.jobs.values():
        payload, _ = render_body(
            "DescribeInitializationStatusResponse", page_job_body(body, 1, 100), xml=False
        )
        _decode_and_parse(200, payload)
    for task in scenario.tasks.values():
        payload, _ = render_body(
            "DescribeSynchronizationObjectModifyStatusResponse", task, xml=False
        )
        _decode_and_parse(200, payload)


@pytest.mark.slow
@FUZZ
@given(doc=json_values | st.dictionaries(st.text(max_size=5), fault_specs, max_size=3))
def test_any_faults_document(doc: Any) -> None:
    try:
        parse_faults(doc, "PUT /_simulator/faults")
    except ConfigError as exc:
        assert str(exc).startswith("PUT /_simulator/faults")


# -- found by fuzzing, kept as plain regression tests ---------------------------------------


def test_lone_surrogates_in_names_can_be_exposed() -> None:
    # A JSON escape (`"\ud800"`) decodes to a lone surrogate, which UTF-8 cannot encode.
    body = transport.decode_response(
        DESCRIBE_INITIALIZATION_STATUS,
        200,
        b'{"DataInitializationDetails": [{"TableName": "t\\ud800", "Status": "Finished",'
        b' "SourceOwnerDBName": "db\\udfff", "TotalRowNum": 1, "FinishRowNum": 1}]}',
    )
    text = expose(initialization.parse(body))
    assert 'table="t' in text


def test_a_scenario_with_a_lone_surrogate_is_refused() -> None:
    # The simulator could not encode any answer for it and dropped every connection.
    with pytest.raises(ConfigError) as caught:
        parse_scenario(
            {"jobs": {"dtsx": {"DataInitializationDetails": [{"TableName": "t\ud800"}]}}},
            "s.json",
        )
    assert str(caught.value) == (
        "s.json: jobs.dtsx.DataInitializationDetails[0].TableName: "
        "the string holds a lone surrogate (not UTF-8)"
    )


def test_integers_beyond_float_are_unusable_not_fatal() -> None:
    status = initialization.parse(
        {"DataInitializationDetails": [{"TableName": "t", "TotalRowNum": 10**400}]}
    )
    assert status.tables[0].total_rows is None
    assert status.problems


@pytest.mark.parametrize(
    "message",
    [
        "a." * 20000 + "B" * 20000,
        "a." * 30000,
        ("x" * 100 + ".") * 2000 + "Y" * 1000,
    ],
)
def test_error_code_is_linear_on_hostile_messages(message: str) -> None:
    started = time.perf_counter()
    error_code(message)
    assert time.perf_counter() - started < 0.5


def test_error_code_still_finds_codes() -> None:
    assert error_code("DTS-1020042 Execute sql error") == "DTS-1020042"
    assert error_code("failed: java.lang.NumberFormatException: For input") == (
        "java.lang.NumberFormatException"
    )
    assert error_code("com.mysql.cj.jdbc.exceptions.CommunicationsException: x") == (
        "com.mysql.cj.jdbc.exceptions.CommunicationsException"
    )
    assert error_code("something else") == "Other"
    assert error_code("") == ""
