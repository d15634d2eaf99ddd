"""The exporter against the contract of the official SDK (`alibabacloud-dts20200101`).

The SDK's generated models are the API's contract: `<Action>Request` holds every parameter
an action takes, `<Action>ResponseBody` (and its nested models) every field it answers.
What the exporter really sends and really reads is recorded, then held to those models:

a. every parameter sent (as signed, RegionId included) is a field of the request model;
b. every field read (a key path such as `DtsJobList[].RetryState.RetryTarget`) is a field
   of the response model;
c. the simulator's answers load through the response models, carry no field the models
   lack, and carry every field the exporter reads at least once;
d. docs/api-coverage.md has a row for every field read and every parameter sent, and
   lists every field of the response models the exporter reads into.

How it records: a `DtsClient` subclass keeps each answer and hands the parsers a
`Recorded` view of it, a Mapping that notes each key looked up (present or not) by its
path; lists come back as lists of such views (`Fields`, `list_field`, `struct`, `unwrap`
and `.get` all read through `Mapping.__getitem__`). `rpc.sign` is wrapped to see the
parameters as they go on the wire. The answers are the in-process simulator's (its
built-in demo at two moments, and a scenario of the repo's fixtures), read by each action
module's `request` and `parse` and once by a whole collection (`build_exporter`, with
discovery, tags, job status, verification and a modify task). Each answer is also parsed
"hollowed out" (every scalar removed) so that fallbacks read only when a field is missing
(`DtsInstanceID or DtsInstanceId or DtsJobId`) are recorded too.

How it knows the models: `response_paths` runs a model's own `from_map` over a probe that
notes every key asked for and, when iterated, yields one nested probe: the paths are
exactly what `from_map` reads, nested models and lists included (checked against a
`from_map`/`to_map` round trip of every path). A parameter is a field of a request model
when `Model().from_map({key: value}).to_map()` keeps it (generated `from_map` copies only
the fields the model declares, case-sensitively).

Every field the exporter reads is carried by some simulated answer (the modify tasks'
stage ErrorMessages by two tasks of tests/fixtures/simulator_scenario.yaml).
"""

from __future__ import annotations

import copy
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from dts_exporter.actions import (
    check_jobs,
    dts_job_detail,
    dts_jobs,
    initialization,
    modify_status,
)
from dts_exporter.base.api import (
    DESCRIBE_CHECK_JOBS,
    DESCRIBE_DTS_JOB_DETAIL,
    DESCRIBE_DTS_JOBS,
    DESCRIBE_INITIALIZATION_STATUS,
    DESCRIBE_MODIFY_STATUS,
)
from dts_exporter.config import (
    Config,
    DiscoveryConfig,
    JobConfig,
    JobStatusConfig,
    VerificationConfig,
)
from dts_exporter.simulator import (
    DEMO_JOBS,
    DEMO_MIGRATION_JOB_ID,
    DEMO_REGION,
    SimulatorServer,
    parse_scenario,
    start_simulator,
)
from dts_exporter.startup import build_exporter
from dts_exporter.wire import rpc
from dts_exporter.wire.client import DtsClient
from tests.conftest import DEMO_CREDS, FIXTURES, ROOT, Scrape, load_fixture

sdk_models = pytest.importorskip("alibabacloud_dts20200101.models")

INIT = DESCRIBE_INITIALIZATION_STATUS
MODIFY = DESCRIBE_MODIFY_STATUS
JOBS = DESCRIBE_DTS_JOBS
DETAIL = DESCRIBE_DTS_JOB_DETAIL
CHECKS = DESCRIBE_CHECK_JOBS
ACTIONS = (INIT, MODIFY, JOBS, DETAIL, CHECKS)
PAGED = frozenset((INIT, JOBS, CHECKS))
# Keys `fetch_pages` writes into the merged answer of a paged action: not on the wire.
PAGING_KEYS = frozenset(("PageCount",))
DOC = ROOT / "docs" / "api-coverage.md"
# The demo at two moments: early (a precheck running, nothing failed yet) and later (a
# task failed, the others further along).
DEMO_OFFSETS = (60.0, 420.0)


# -- the SDK's models -----------------------------------------------------------------------


def request_model(action: str) -> Any:
    return getattr(sdk_models, f"{action}Request")


def response_model(action: str) -> Any:
    return getattr(sdk_models, f"{action}ResponseBody")


def request_knows(action: str, key: str, value: object = "x") -> bool:
    """The request model declares `key`: its from_map copies it and to_map gives it back."""
    return key in request_model(action)().from_map({key: value}).to_map()


class _Probe:
    """Stands for any value in `from_map`: notes every key asked for; iterated, it is a
    list of one nested probe."""

    def __init__(self, path: str, paths: set[str]) -> None:
        self.path = path
        self.paths = paths

    def get(self, key: str, default: object = None) -> _Probe:
        path = f"{self.path}.{key}" if self.path else key
        self.paths.add(path)
        return _Probe(path, self.paths)

    def __iter__(self) -> Iterator[_Probe]:
        yield _Probe(f"{self.path}[]", self.paths)

    def __bool__(self) -> bool:
        return True


@cache
def response_paths(action: str) -> frozenset[str]:
    """Every key path the action's response model reads, `A[].B` for fields of list entries."""
    paths: set[str] = set()
    response_model(action)().from_map(_Probe("", paths))
    return frozenset(paths)


def parent(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else ""


def nest(path: str, value: object) -> dict[str, Any]:
    """{"A": [{"B": value}]} for `A[].B`."""
    head, _, rest = path.partition(".")
    inner: object = nest(rest, value) if rest else value
    if head.endswith("[]"):
        return {head[:-2]: [inner]}
    return {head: inner}


def has_path(value: object, path: str) -> bool:
    head, _, rest = path.partition(".")
    key = head.removesuffix("[]")
    if not isinstance(value, Mapping) or key not in value:
        return False
    inner = value[key]
    if head.endswith("[]"):
        if not isinstance(inner, list) or not inner:
            return False
        inner = inner[0]
    return has_path(inner, rest) if rest else True


# -- recording what is sent and what is read -----------------------------------------------


@dataclass
class Recorder:
    """Parameters signed, key paths read per action, answers (with where they came from)."""

    sent: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    reads: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    answers: dict[str, list[tuple[str, dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    source: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, action: str, path: str) -> None:
        with self._lock:
            self.reads[action].add(path)

    def answer(self, action: str, body: Mapping[str, Any]) -> None:
        with self._lock:
            self.answers[action].append((self.source, copy.deepcopy(dict(body))))

    def signed(self, action: str, params: Mapping[str, str]) -> None:
        with self._lock:
            self.sent.append((action, dict(params)))


class Recorded(Mapping[str, Any]):
    """A read-only view of an answer object that notes every key looked up, by path."""

    def __init__(self, data: Mapping[str, Any], path: str, action: str, recorder: Recorder) -> None:
        self._data = data
        self._path = path
        self._action = action
        self._recorder = recorder

    def __getitem__(self, key: str) -> Any:
        path = f"{self._path}.{key}" if self._path else key
        self._recorder.read(self._action, path)  # present or not: it was looked up
        return record(self._data[key], path, self._action, self._recorder)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def record(value: object, path: str, action: str, recorder: Recorder) -> Any:
    if isinstance(value, Recorded):
        return value
    if isinstance(value, Mapping):
        return Recorded(value, path, action, recorder)
    if isinstance(value, list):
        return [record(item, f"{path}[]", action, recorder) for item in value]
    return value


def hollow(value: object) -> object:
    """The answer's structure without its scalars: every fallback for a missing field runs."""
    if isinstance(value, Mapping):
        return {k: hollow(v) for k, v in value.items() if isinstance(v, (Mapping, list))}
    if isinstance(value, list):
        return [hollow(item) for item in value if isinstance(item, (Mapping, list))]
    return value


def recording_client(recorder: Recorder) -> type[DtsClient]:
    class RecordingClient(DtsClient):
        """Keeps every answer and hands back a `Recorded` view of it."""

        def call(
            self,
            action: str,
            params: Mapping[str, str],
            *,
            region: str | None = None,
            deadline: float | None = None,
        ) -> dict[str, Any]:
            body = super().call(action, params, region=region, deadline=deadline)
            recorder.answer(action, body)
            # A Mapping, not a dict: what every parser and `fetch_pages` take.
            return cast("dict[str, Any]", Recorded(body, "", action, recorder))

    return RecordingClient


def _parsers(region: str) -> dict[str, Callable[[Mapping[str, Any]], object]]:
    return {
        INIT: initialization.parse,
        MODIFY: modify_status.parse,
        JOBS: lambda body: dts_jobs.parse(body, region),
        DETAIL: lambda body: dts_job_detail.parse(body, region),
        CHECKS: check_jobs.parse,
    }


def parse_recorded(action: str, body: Mapping[str, Any], region: str, rec: Recorder) -> object:
    """Parse an answer (a merged one for paged actions) with its top-level reads recorded."""
    return _parsers(region)[action](record(body, "", action, rec))


def drive(
    client: DtsClient,
    rec: Recorder,
    region: str,
    *,
    listed: Sequence[str] = (),
    initializing: Sequence[str] = (),
    tasks: Sequence[str] = (),
    tags: Sequence[tuple[str, str]] = (),
) -> None:
    """Each action module's `request` with realistic arguments, then its `parse`: the
    region's job list (whole, by tags, by ids), the `listed` jobs' detail and checks, the
    `initializing` jobs' initialization, the modify `tasks`."""
    parse_recorded(JOBS, dts_jobs.request(client, region), region, rec)
    if tags:
        parse_recorded(JOBS, dts_jobs.request(client, region, tags=tags), region, rec)
    if listed:
        parse_recorded(JOBS, dts_jobs.request(client, region, ids=listed), region, rec)
    for job in listed:
        parse_recorded(DETAIL, dts_job_detail.request(client, job, region=region), region, rec)
        parse_recorded(CHECKS, check_jobs.request(client, job, region=region), region, rec)
    for job in initializing:
        parse_recorded(INIT, initialization.request(client, job, region=region), region, rec)
    for task in tasks:
        parse_recorded(MODIFY, modify_status.request(client, task, region=region), region, rec)


def _client(cls: type[DtsClient], server: SimulatorServer, region: str) -> DtsClient:
    return cls(
        region=region,
        credentials=DEMO_CREDS,
        timeout_seconds=5.0,
        pool_size=2,
        endpoint=server.url,
    )


def fixture_scenario() -> dict[str, Any]:
    """The repo's recorded answers (tests/fixtures) as one scenario."""
    data = yaml.safe_load((FIXTURES / "simulator_scenario.yaml").read_text(encoding="utf-8"))
    scenario: dict[str, Any] = {"jobs": dict(data["jobs"]), "tasks": dict(data["tasks"])}
    scenario["jobs"]["dtsi76118o3w92"] = load_fixture("describe_initialization_status.json")
    scenario["tasks"]["k71r16fj13g"] = load_fixture("describe_modify_status.json")
    return scenario


def collect_once(server: SimulatorServer) -> Scrape:
    """One whole collection against the demo: discovery with tags, configured jobs (one
    not listed by DescribeDtsJobs, so read by DescribeDtsJobDetail), a modify task, job
    status and verification."""
    orders = DEMO_JOBS[0]
    config = Config(
        region=DEMO_REGION,
        endpoint=server.url,
        max_requests_per_second=0,
        discovery=DiscoveryConfig(enabled=True, regions=(DEMO_REGION,), tags=("env=production",)),
        job_status=JobStatusConfig(enabled=True),
        verification=VerificationConfig(enabled=True, refresh_seconds=0),
        tags_on_info=("team",),
        jobs=(
            JobConfig(orders.job_id, modify_tasks=orders.task_ids),
            JobConfig(DEMO_MIGRATION_JOB_ID),
        ),
    )
    exporter = build_exporter(config, DEMO_CREDS)
    try:
        return Scrape(exporter.registry)
    finally:
        exporter.close()


@dataclass(frozen=True)
class Contract:
    recorder: Recorder
    hollow_reads: dict[str, set[str]]
    collection: Scrape
    collection_actions: frozenset[str]

    def read_paths(self, action: str) -> set[str]:
        """Every key path read from the wire: real answers and hollowed ones."""
        paths = self.recorder.reads.get(action, set()) | self.hollow_reads.get(action, set())
        return paths - (PAGING_KEYS if action in PAGED else set())


@pytest.fixture(scope="module")
def contract() -> Iterator[Contract]:
    rec = Recorder()
    original_sign = rpc.sign

    def sign(
        endpoint: str, action: str, version: str, params: Mapping[str, str], *args: Any
    ) -> rpc.SignedRequest:
        rec.signed(action, params)
        return original_sign(endpoint, action, version, params, *args)

    cls = recording_client(rec)
    demo = {
        "listed": [job.job_id for job in DEMO_JOBS] + [DEMO_MIGRATION_JOB_ID],
        "initializing": [job.job_id for job in DEMO_JOBS],
        "tasks": [task for job in DEMO_JOBS for task in job.task_ids],
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rpc, "sign", sign)
        for offset in DEMO_OFFSETS:
            rec.source = f"demo+{offset:g}s"
            server = start_simulator("127.0.0.1", 0, demo_offset=offset)
            try:
                client = _client(cls, server, DEMO_REGION)
                drive(client, rec, DEMO_REGION, **demo, tags=[("team", "commerce")])
                client.close()
            finally:
                server.close()

        rec.source = "fixtures"
        scenario = fixture_scenario()
        server = start_simulator("127.0.0.1", 0, scenario=parse_scenario(scenario, "fixtures"))
        try:
            client = _client(cls, server, DEMO_REGION)
            drive(
                client,
                rec,
                DEMO_REGION,
                initializing=list(scenario["jobs"]),
                tasks=list(scenario["tasks"]),
            )
            client.close()
        finally:
            server.close()

        rec.source = "collection"
        start = len(rec.sent)
        server = start_simulator("127.0.0.1", 0, demo_offset=DEMO_OFFSETS[-1])
        try:
            # The collection builds its own client: make it the recording kind.
            patch.setattr("dts_exporter.startup.DtsClient", cls)
            scrape = collect_once(server)
        finally:
            server.close()
        collection_actions = frozenset(action for action, _ in rec.sent[start:])

    hollow_rec = Recorder()
    for action, answers in rec.answers.items():
        for _, body in answers:
            hollowed = hollow(body)
            assert isinstance(hollowed, dict)
            parse_recorded(action, hollowed, DEMO_REGION, hollow_rec)
    hollow_reads = {action: set(paths) for action, paths in hollow_rec.reads.items()}
    yield Contract(rec, hollow_reads, scrape, collection_actions)


# -- the techniques, on known-good and known-bad cases --------------------------------------


def test_a_request_model_keeps_its_own_fields_and_drops_others() -> None:
    assert request_knows(JOBS, "DtsInstanceId")
    assert not request_knows(JOBS, "DtsInstanceID")  # case matters
    assert request_knows(DETAIL, "DtsInstanceID")
    assert not request_knows(DETAIL, "DtsInstanceId")
    assert request_knows(JOBS, "WithoutDbList", "true")
    assert not request_knows(JOBS, "NoSuchParameter")
    assert request_knows(INIT, "RegionId")
    assert not request_knows(CHECKS, "RegionId")


def test_response_paths_are_what_from_map_reads() -> None:
    jobs = response_paths(JOBS)
    assert "DtsJobList[].RetryState.RetryTarget" in jobs
    assert "DtsJobList[].ErrorDetails[].ErrorCode" in jobs
    assert "RetryState.RetryTarget" not in jobs  # only inside the list's entries
    detail = response_paths(DETAIL)
    assert "SubSyncJob[].Performance.Rps" in detail
    assert "Performance.Rps" not in detail
    assert "PrecheckStatus.Detail[].CheckStatus" in response_paths(MODIFY)
    assert "DataSynchronizationStatus.Progress" not in response_paths(MODIFY)
    # Every leaf path (so every path) survives the model's own round trip; a made-up
    # sibling does not.
    for action in ACTIONS:
        model = response_model(action)
        paths = response_paths(action)
        containers = {parent(path) for path in paths}
        for path in paths:
            if path not in containers and f"{path}[]" not in containers:
                assert has_path(model().from_map(nest(path, "1")).to_map(), path), path
            bogus = f"{path}Bogus"
            assert not has_path(model().from_map(nest(bogus, "1")).to_map(), bogus), bogus


def test_the_recorder_notes_every_key_read_by_path() -> None:
    rec = Recorder()
    body = {
        "DtsJobList": [
            {
                "DtsInstanceID": "dtsi1",
                "JobType": "SYNC",
                "RetryState": {"Retrying": "true", "RetryTarget": "srcDB"},
                "TagList": [{"TagKey": "team", "TagValue": "a"}],
            }
        ],
        "TotalRecordCount": 1,
    }
    parse_recorded(JOBS, body, "cn-hangzhou", rec)
    reads = rec.reads[JOBS]
    assert "DtsJobList[].RetryState.RetryTarget" in reads
    assert "DtsJobList[].TagList[].TagValue" in reads
    assert "TotalRecordCount" in reads
    assert "DtsJobList[].Delay" in reads  # looked up, absent: still a read
    hollow_rec = Recorder()
    hollowed = hollow(body)
    assert hollowed == {"DtsJobList": [{"RetryState": {}, "TagList": [{}]}]}
    assert isinstance(hollowed, dict)
    parse_recorded(JOBS, hollowed, "cn-hangzhou", hollow_rec)
    assert "DtsJobList[].RetryState.Retrying" in hollow_rec.reads[JOBS]
    # a fallback is read only when what it stands in for is missing: hollowing finds it
    checks = {"CheckJobs": [{"JobStepId": "s1", "CheckType": 1}], "TotalRecordCount": 1}
    full, emptied = Recorder(), Recorder()
    parse_recorded(CHECKS, checks, "cn-hangzhou", full)
    hollow_checks = hollow(checks)
    assert isinstance(hollow_checks, dict)
    parse_recorded(CHECKS, hollow_checks, "cn-hangzhou", emptied)
    assert "CheckJobs[].JobName" not in full.reads[CHECKS]
    assert "CheckJobs[].JobName" in emptied.reads[CHECKS]


def test_every_action_was_called_directly_and_by_a_collection(contract: Contract) -> None:
    assert {action for action, _ in contract.recorder.sent} == set(ACTIONS)
    assert set(contract.recorder.reads) == set(ACTIONS)
    assert contract.collection_actions == set(ACTIONS)
    scrape = contract.collection
    orders = DEMO_JOBS[0]
    assert scrape.get("dts_up", action=CHECKS, job_id=orders.job_id, task_id="") == 1
    detail = scrape.get("dts_up", action=DETAIL, job_id=DEMO_MIGRATION_JOB_ID, task_id="")
    assert detail == 1
    assert scrape.get("dts_up", action=MODIFY, job_id=orders.job_id, task_id=orders.task_ids[0])


# -- a. parameters --------------------------------------------------------------------------


def test_every_parameter_sent_is_a_field_of_the_request_model(contract: Contract) -> None:
    unknown = sorted(
        {
            (action, key)
            for action, params in contract.recorder.sent
            for key, value in params.items()
            if not request_knows(action, key, value)
        }
    )
    assert not unknown, f"parameters the SDK's request models do not define: {unknown}"


# -- b. fields read -------------------------------------------------------------------------


def test_every_field_read_is_a_field_of_the_response_model(contract: Contract) -> None:
    unknown = {
        action: paths
        for action in ACTIONS
        if (paths := sorted(contract.read_paths(action) - response_paths(action)))
    }
    assert not unknown, f"fields read that the SDK's response models do not define: {unknown}"


# -- c. the simulator's answers and the SDK ------------------------------------------------


def lost(sent: object, loaded: object, path: str = "") -> list[str]:
    """What of `sent` the SDK's `to_map` does not give back (it adds empty lists and drops
    nulls, both fine)."""
    if isinstance(sent, Mapping):
        if not isinstance(loaded, Mapping):
            return [path or "<top>"]
        return [
            item
            for key, value in sent.items()
            if value is not None
            for item in (
                lost(value, loaded[key], f"{path}.{key}" if path else key)
                if key in loaded
                else [f"{path}.{key}" if path else key]
            )
        ]
    if isinstance(sent, list):
        if not isinstance(loaded, list) or len(loaded) != len(sent):
            return [path]
        return [item for a, b in zip(sent, loaded, strict=True) for item in lost(a, b, f"{path}[]")]
    return [] if sent == loaded else [path]


def values_at(value: object, path: str) -> Iterator[object]:
    """Every value an answer has at `path` (one per list entry on the way)."""
    head, _, rest = path.partition(".")
    key = head.removesuffix("[]")
    if not isinstance(value, Mapping) or key not in value:
        return
    inner = value[key]
    items = (inner if isinstance(inner, list) else []) if head.endswith("[]") else [inner]
    for item in items:
        if rest:
            yield from values_at(item, rest)
        else:
            yield item


def test_lost_and_values_at() -> None:
    assert lost({"A": [{"B": 1}], "C": "x"}, {"A": [{"B": 1}], "C": "x", "D": []}) == []
    assert lost({"A": [{"B": 1, "Z": 2}]}, {"A": [{"B": 1}]}) == ["A[].Z"]
    assert lost({"A": None}, {}) == []
    body = {"L": [{"S": {"K": None}}, {"S": {"K": "v"}}]}
    assert list(values_at(body, "L[].S.K")) == [None, "v"]
    assert list(values_at(body, "L[].T")) == []


def test_simulator_answers_load_through_the_response_models(contract: Contract) -> None:
    for action in ACTIONS:
        answers = contract.recorder.answers[action]
        assert answers, action
        for source, body in answers:
            loaded = response_model(action)().from_map(body)  # raises on a wrong shape
            assert loaded.to_map(), (action, source)


def unknown_fields(contract: Contract, action: str) -> dict[str, set[str]]:
    """Fields of the simulated answers that the model lacks, by where they came from:
    from_map keeps only the fields the model declares, so to_map gives back all the
    simulator sent only when the model knows every field of it."""
    unknown: dict[str, set[str]] = defaultdict(set)
    for source, body in contract.recorder.answers[action]:
        unknown[source].update(lost(body, response_model(action)().from_map(body).to_map()))
    return {source: paths for source, paths in unknown.items() if paths}


def test_simulator_answers_hold_only_fields_of_the_models(contract: Contract) -> None:
    failed = {
        (action, source): sorted(paths)
        for action in ACTIONS
        for source, paths in unknown_fields(contract, action).items()
    }
    assert not failed, f"fields of simulated answers that the SDK's models do not know: {failed}"


def test_simulator_answers_carry_every_field_read(contract: Contract) -> None:
    missing = {}
    for action in ACTIONS:
        answers = [body for _, body in contract.recorder.answers[action]]
        used = contract.read_paths(action)
        never = sorted(path for path in used if not carried(answers, path))
        if never:
            missing[action] = never
    assert not missing, f"fields the exporter reads that no simulated answer carries: {missing}"


def carried(answers: Sequence[Mapping[str, Any]], path: str) -> bool:
    """Some answer has a value (not null) at `path`."""
    return any(value is not None for body in answers for value in values_at(body, path))


# -- d. the coverage document ---------------------------------------------------------------

_ROW_RE = re.compile(r"^\|\s*`([^`]+)`\s*\|")


def coverage_doc(path: Path = DOC) -> dict[tuple[str, str], set[str]]:
    """(action, "Request" or "Response") -> the backquoted first cells of its table rows."""
    sections: dict[tuple[str, str], set[str]] = defaultdict(set)
    action = part = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            action, part = line[3:].split()[0], ""
        elif line.startswith("### "):
            part = line[4:].split()[0]
        elif action and part and (match := _ROW_RE.match(line)):
            sections[(action, part)].add(match.group(1))
    return sections


def required_rows(action: str, reads: set[str]) -> set[str]:
    """The fields the document lists for an action: every field read, every top-level
    field of the model, and every field of each object or list entry the exporter reads."""
    model = response_paths(action)
    containers = {parent(path) for path in reads} | {""}
    return reads | {path for path in model if parent(path) in containers}


def test_coverage_doc_has_a_row_for_every_field(contract: Contract) -> None:
    doc = coverage_doc()
    missing = {}
    for action in ACTIONS:
        rows = doc.get((action, "Response"), set())
        absent = sorted(required_rows(action, contract.read_paths(action)) - rows)
        if absent:
            missing[action] = absent
    assert not missing, f"add these rows to {DOC.relative_to(ROOT)}: {missing}"


def test_coverage_doc_rows_are_fields(contract: Contract) -> None:
    doc = coverage_doc()
    stray = {}
    for action in ACTIONS:
        rows = doc.get((action, "Response"), set())
        extra = sorted(rows - response_paths(action) - contract.read_paths(action))
        if extra:
            stray[action] = extra
    assert not stray, f"rows neither a field of the model nor read by the exporter: {stray}"


def test_coverage_doc_names_every_parameter_sent(contract: Contract) -> None:
    doc = coverage_doc()
    missing = sorted(
        {
            (action, key)
            for action, params in contract.recorder.sent
            for key in params
            if key not in doc.get((action, "Request"), set())
        }
    )
    assert not missing, f"add these parameters to {DOC.relative_to(ROOT)}: {missing}"
