"""Adaptive flow control: the client's limiter (fake clock: rates and waits, never timings),
the simulator's flow control (counts of throttled answers), and both together."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from dts_exporter import actions
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.base.api import DESCRIBE_MODIFY_STATUS as MODIFY
from dts_exporter.base.errors import ConfigError, DtsApiError
from dts_exporter.cli import main
from dts_exporter.config import Config, JobConfig, JobStatusConfig, VerificationConfig
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.simulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    Fault,
    FlowSettings,
    parse_scenario,
)
from dts_exporter.simulator.flow import ServiceFlow
from dts_exporter.startup import build_exporter, make_client
from dts_exporter.wire.client import DtsClient
from dts_exporter.wire.flow import BETA, AdaptiveLimiter, FlowControl, FlowShare
from tests.conftest import DEMO_CREDS, Scrape, make_tables, start_scenario

REGION = "cn-hangzhou"
RATE_METRIC = "dts_exporter_api_rate_limit_requests_per_second"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(t: FakeTime, ceiling: float = 0.0) -> AdaptiveLimiter:
    return AdaptiveLimiter(ceiling, name="test", clock=t.clock, sleep=t.sleep)


def send(lim: AdaptiveLimiter, t: FakeTime, calls: int, every: float) -> list[float]:
    """`calls` calls `every` seconds apart, answered at once without throttling."""
    sent: list[float] = []
    for _ in range(calls):
        ticket = lim.acquire()
        assert ticket is not None
        sent.append(ticket)
        lim.feedback(ticket, throttled=False)
        t.now += every
    return sent


def throttle_at(lim: AdaptiveLimiter, t: FakeTime, rate: float) -> float:
    """Send at `rate` for two seconds, then have the last call throttled: the new rate."""
    sent = send(lim, t, int(2 * rate), 1 / rate)
    lim.feedback(sent[-1], throttled=True)
    assert lim.rate is not None
    return lim.rate


# -- the client's limiter -------------------------------------------------------------------


def test_unconstrained_until_the_service_throttles() -> None:
    t = FakeTime()
    lim = limiter(t)
    send(lim, t, 500, 0.001)  # 1,000 calls a second
    assert t.slept == [] and lim.rate is None


def test_a_throttled_answer_cuts_the_measured_rate_by_beta() -> None:
    t = FakeTime()
    lim = limiter(t)
    assert throttle_at(lim, t, 50.0) == pytest.approx(BETA * 50.0, rel=0.05)
    assert lim.throttled == 1


def test_throttled_calls_sent_before_the_cut_do_not_cut_again() -> None:
    t = FakeTime()
    lim = limiter(t)
    in_flight = [lim.acquire() for _ in range(16)]
    t.now += 0.5
    sent = send(lim, t, 40, 0.025)
    lim.feedback(sent[-1], throttled=True)
    first = lim.rate
    for ticket in in_flight:  # answers to calls sent at the old rate
        assert ticket is not None
        lim.feedback(ticket, throttled=True)
    assert lim.rate == first and lim.throttled == 17
    t.now += 0.1
    later = lim.acquire()
    assert later is not None
    lim.feedback(later, throttled=True)  # sent under the new rate: cut again
    assert first is not None and lim.rate == pytest.approx(BETA * first, rel=0.01)


def test_the_rate_recovers_along_a_cubic_curve() -> None:
    t = FakeTime()
    lim = limiter(t)
    peak = 20.0
    cut = throttle_at(lim, t, peak)
    rates = []
    for _ in range(60):  # 6 busy seconds, a success every 0.1 s
        t.now += 0.1
        ticket = lim.acquire()
        assert ticket is not None
        lim.feedback(ticket, throttled=False)
        assert lim.rate is not None
        rates.append(lim.rate)
    assert cut < rates[0] < rates[10] < peak  # concave: quickly back towards the peak...
    steps = [b - a for a, b in itertools.pairwise(rates)]
    plateau = min(range(len(steps)), key=lambda i: steps[i])
    assert 15 < plateau < 35  # ...flattest near the peak (K is 2.47 s for 20/s)...
    assert rates[plateau] == pytest.approx(peak, rel=0.05)
    assert steps[-1] > steps[plateau] * 10 and rates[-1] > peak  # ...then faster past it


def test_a_pause_does_not_count_towards_recovery() -> None:
    t = FakeTime()
    lim = limiter(t)
    throttle_at(lim, t, 20.0)  # cut to 14
    t.now += 3600  # an hour without calls
    ticket = lim.acquire()
    assert ticket is not None
    lim.feedback(ticket, throttled=False)
    # on the plateau: the rate last throttled, neither the 14 of the cut nor what an hour
    # of CUBIC growth would give
    assert lim.rate == pytest.approx(20.0, rel=0.05)  # (+1 s of the pause counted: 20.4)


def test_the_rate_never_exceeds_the_ceiling() -> None:
    t = FakeTime()
    lim = limiter(t, ceiling=10.0)
    assert throttle_at(lim, t, 50.0) == 10.0  # 0.7 x 50 = 35, capped
    for _ in range(200):
        t.now += 0.5
        ticket = lim.acquire()
        assert ticket is not None
        lim.feedback(ticket, throttled=False)
        assert lim.rate is not None and lim.rate <= 10.0


def test_the_ceiling_bounds_all_calls_together() -> None:
    t = FakeTime()
    flow = FlowControl(5.0, clock=t.clock, sleep=t.sleep)
    for index in range(15):  # three actions, never throttled
        assert flow.acquire(REGION, f"Action{index % 3}") is not None
    assert sum(t.slept) == pytest.approx(2.0)  # 5 at once, then 10 more at 5/s
    assert flow.rates() == {}


def test_limiters_are_kept_per_region_and_action() -> None:
    t = FakeTime()
    flow = FlowControl(clock=t.clock, sleep=t.sleep)
    for _ in range(40):
        sent = flow.acquire(REGION, INIT)
        assert sent is not None
        flow.feedback(REGION, INIT, sent, throttled=False)
        t.now += 0.05
    flow.feedback(REGION, INIT, t.now, throttled=True)
    assert list(flow.rates()) == [(REGION, INIT)]
    slept = len(t.slept)
    for key in ((REGION, MODIFY), ("cn-shanghai", INIT)):
        for _ in range(100):
            assert flow.acquire(*key) is not None
    assert len(t.slept) == slept  # other keys are not slowed down
    assert flow.limiter(REGION, INIT) is flow.limiter(REGION, INIT)


def test_acquire_never_waits_past_the_deadline() -> None:
    t = FakeTime()
    lim = limiter(t)
    throttle_at(lim, t, 2.0)  # 1.4 calls a second, no token left
    assert lim.acquire(deadline=t.now + 0.5) is None
    assert t.slept == []
    assert lim.acquire(deadline=t.now + 5.0) is not None
    assert 0 < sum(t.slept) <= 1 / 1.4 + 1e-9


def test_the_process_keeps_one_flow_control_across_reloads() -> None:
    stats = ApiStats(actions.NAMES)
    first = make_client(Config(region=REGION, max_requests_per_second=0), DEMO_CREDS, stats)
    second = make_client(Config(region=REGION, max_requests_per_second=7), DEMO_CREDS, stats)
    assert first.flow is second.flow and isinstance(second.flow, FlowControl)
    assert second.flow.ceiling == 7
    first.close()
    second.close()


# -- the simulator's flow control -----------------------------------------------------------


def test_the_service_lets_a_burst_through_then_throttles() -> None:
    t = FakeTime()
    flow = ServiceFlow(FlowSettings(20.0, 20.0), t.clock)
    verdicts = [flow.admit(REGION, INIT) for _ in range(50)]
    assert verdicts.count(True) == 20 and verdicts[20:] == [False] * 30
    assert flow.admit(REGION, MODIFY)  # its own bucket
    t.now += 0.5
    assert [flow.admit(REGION, INIT) for _ in range(15)].count(True) == 10


def test_off_unless_asked_for() -> None:
    assert ServiceFlow(None, FakeTime().clock).admit(REGION, INIT)
    assert parse_scenario({}, "s").flow_control is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("fast", "s: flow_control: expected a mapping"),
        ({"burst": 3}, "s: flow_control.requests_per_second: missing"),
        ({"requests_per_second": 0}, "s: flow_control.requests_per_second: expected a number > 0"),
        ({"requests_per_second": 5, "rate": 1}, "s: flow_control.rate: unknown key"),
    ],
)
def test_bad_flow_control_is_named(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_scenario({"flow_control": value}, "s")


def test_throttled_answers_are_the_real_error_and_counted(tmp_path: Path) -> None:
    scenario = {
        "jobs": {"dtsa": {"DataInitializationDetails": make_tables(1)}},
        "flow_control": {"requests_per_second": 0.001, "burst": 3},
    }
    sim = start_scenario(tmp_path, scenario)
    stats = ApiStats(actions.NAMES)
    client = make_client(Config(region=REGION, endpoint=sim.url, max_retries=0), DEMO_CREDS, stats)
    try:
        codes = []
        for _ in range(5):
            try:
                client.call(INIT, {"SynchronizationJobId": "dtsa", "RegionId": REGION})
                codes.append("Success")
            except DtsApiError as exc:
                codes.append(exc.code)
                assert exc.message == "Request was denied due to user flow control."
        assert codes == ["Success"] * 3 + ["Throttling.User"] * 2
        assert sim.request_counts() == {INIT: 5, f"{INIT}:Throttling.User": 2}
        assert isinstance(client.flow, FlowControl)
        assert list(client.flow.rates()) == [(REGION, INIT)]
        # The admin path turns it off (buckets full again) or changes it.
        off = requests.put(f"{sim.url}/_simulator/flow_control", data="{}", timeout=5)
        assert off.status_code == 204
        client.call(INIT, {"SynchronizationJobId": "dtsa", "RegionId": REGION})
        bad = requests.put(
            f"{sim.url}/_simulator/flow_control", data=json.dumps({"burst": 1}), timeout=5
        )
        assert bad.status_code == 400 and "requests_per_second: missing" in bad.text
    finally:
        client.close()
        sim.close()


def test_simulate_wants_a_rate_with_a_burst() -> None:
    result = CliRunner().invoke(main, ["simulate", "--flow-control-burst", "5"])
    assert result.exit_code == 2
    assert "--flow-control-burst needs --flow-control-rate" in result.output


def test_the_client_says_timeout_rather_than_wait_past_the_deadline() -> None:
    t = FakeTime()
    flow = FlowControl(clock=t.clock, sleep=t.sleep)
    flow.feedback(REGION, INIT, t.now, throttled=True)  # about 1.4 calls a second, no token
    client = DtsClient(
        region=REGION,
        endpoint="http://127.0.0.1:9",  # never reached
        credentials=DEMO_CREDS,
        timeout_seconds=5.0,
        pool_size=1,
        flow=flow,
        clock=t.clock,
        sleep=t.sleep,
    )
    try:
        with pytest.raises(DtsApiError) as caught:
            client.call(INIT, {"SynchronizationJobId": "dtsa"}, deadline=t.now + 0.2)
    finally:
        client.close()
    assert caught.value.code == "Timeout" and "flow control" in caught.value.message
    assert t.slept == []


def test_the_official_sdk_sees_the_same_throttling(tmp_path: Path) -> None:
    sdk = pytest.importorskip("alibabacloud_dts20200101.client")
    models = pytest.importorskip("alibabacloud_dts20200101.models")
    open_api = pytest.importorskip("alibabacloud_tea_openapi.models")
    exceptions = pytest.importorskip("alibabacloud_tea_openapi.exceptions")
    runtime = pytest.importorskip("darabonba.runtime")
    scenario = {
        "tasks": {"task1": {"Status": "Migrating"}},
        "flow_control": {"requests_per_second": 0.001, "burst": 1},
    }
    sim = start_scenario(tmp_path, scenario)
    client = sdk.Client(
        open_api.Config(
            access_key_id=DEMO_ACCESS_KEY_ID,
            access_key_secret=DEMO_ACCESS_KEY_SECRET,
            endpoint=sim.url.removeprefix("http://"),
            protocol="http",
            region_id=REGION,
        )
    )
    request = models.DescribeSynchronizationObjectModifyStatusRequest(
        task_id="task1", region_id=REGION
    )
    options = runtime.RuntimeOptions(read_timeout=5000, connect_timeout=2000)
    caught = []
    try:
        client.describe_synchronization_object_modify_status_with_options(request, options)
        with pytest.raises(exceptions.ClientException) as flow:  # past the bucket
            client.describe_synchronization_object_modify_status_with_options(request, options)
        caught.append(flow.value)
        sim.set_flow_control(None)
        sim.set_faults({"task1": [Fault("throttling")]})  # the fault the tests always used
        with pytest.raises(exceptions.ClientException) as fault:
            client.describe_synchronization_object_modify_status_with_options(request, options)
        caught.append(fault.value)
    finally:
        sim.close()
    seen = [(type(e), e.code, e.status_code, e.message.split(" request id")[0]) for e in caught]
    assert seen[0] == seen[1]
    assert seen[0][1:] == (
        "Throttling.User",
        400,
        "code: 400, Request was denied due to user flow control.",
    )


# -- together -------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_third_scrape_reads_every_id_behind_flow_control(tmp_path: Path) -> None:
    ids = [f"dtsflow{i:03d}" for i in range(60)]
    scenario = {
        "jobs": {job_id: {"DataInitializationDetails": make_tables(2)} for job_id in ids},
        "flow_control": {"requests_per_second": 20, "burst": 20},
    }
    sim = start_scenario(tmp_path, scenario)
    config = Config(
        region=REGION,
        endpoint=sim.url,
        jobs=tuple(JobConfig(job_id) for job_id in ids),
        job_status=JobStatusConfig(enabled=False),
        verification=VerificationConfig(enabled=False),
    )
    exporter = build_exporter(config, DEMO_CREDS, ApiStats(actions.NAMES))
    throttled_key = f"{INIT}:Throttling.User"
    try:
        throttled = []
        for _ in range(3):
            before = sim.request_counts().get(throttled_key, 0)
            data = Scrape(exporter.registry)
            throttled.append(sim.request_counts().get(throttled_key, 0) - before)
        assert throttled[0] > 0  # the service did throttle: there was something to learn
        up = [value for (name, _), value in data.values.items() if name == "dts_up"]
        assert up == [1.0] * len(ids)
        assert throttled[2] <= 10
        rate = data.get(RATE_METRIC, region=REGION, action=INIT)
        assert rate is not None and 0 < rate < 60
    finally:
        exporter.close()
        sim.close()


# -- the probes' share -----------------------------------------------------------------------


def test_probes_may_use_a_quarter_of_a_throttled_rate_and_nothing_is_paced_before() -> None:
    t = FakeTime()
    control = FlowControl(clock=t.clock, sleep=t.sleep)
    probes = control.share(0.25)
    assert probes.limit("cn-hangzhou", INIT) is None  # never throttled: not paced
    for _ in range(50):
        assert probes.acquire("cn-hangzhou", INIT) is not None
    assert t.slept == []
    rate = throttle_at(control.limiter("cn-hangzhou", INIT), t, 20.0)
    share = probes.limit("cn-hangzhou", INIT)
    assert share == pytest.approx(0.25 * rate)
    # Probes sending flat out for 10 s get about a quarter of the learnt rate through.
    started = t.now
    sent = 0
    while t.now < started + 10:
        if probes.acquire("cn-hangzhou", INIT, deadline=started + 10) is None:
            break
        sent += 1
    assert share is not None
    assert share * 10 - 1 <= sent <= share * 11 + 1  # 10 s at the share, + one second's burst
    # Another action, never throttled, stays unpaced for probes.
    assert probes.limit("cn-hangzhou", MODIFY) is None


def test_the_probe_client_takes_a_share_of_the_process_flow_control() -> None:
    stats = ApiStats(actions.NAMES)
    config = Config(region=REGION, max_requests_per_second=8)
    exporter = build_exporter(config, DEMO_CREDS, stats)
    try:
        assert exporter.probe_collection is not None
        probe_flow = exporter.probe_collection.client.flow
        assert isinstance(probe_flow, FlowShare)
        assert probe_flow.parent is stats.flow_control(8)
        assert probe_flow.limit(REGION, INIT) == 2.0  # a quarter of the ceiling
    finally:
        exporter.close()


class _TurnOnce:
    """A flow control that lets the first call go and refuses every later one."""

    def __init__(self) -> None:
        self.turns = 0

    def acquire(self, region: str, action: str, deadline: float | None = None) -> float | None:
        self.turns += 1
        return 1.0 if self.turns == 1 else None

    def feedback(self, region: str, action: str, sent: float, throttled: bool) -> None:
        pass


def test_a_retry_the_flow_control_refuses_reports_what_the_service_said(tmp_path: Path) -> None:
    server = start_scenario(
        tmp_path,
        {
            "jobs": {"dtsa": {"DataInitializationDetails": make_tables(1)}},
            "faults": {"dtsa": [{"kind": "throttling"}]},
        },
    )
    flow = _TurnOnce()
    client = DtsClient(
        endpoint=server.url,
        region=REGION,
        credentials=DEMO_CREDS,
        timeout_seconds=5,
        pool_size=1,
        flow=flow,
        sleep=lambda _: None,
    )
    try:
        with pytest.raises(DtsApiError) as info:
            client.call(INIT, {"SynchronizationJobId": "dtsa", "RegionId": REGION}, deadline=1e12)
    finally:
        client.close()
        server.close()
    assert flow.turns == 2  # one answer, one retry refused before sending
    assert info.value.code == "Throttling.User"
    assert server.request_counts() == {INIT: 1}
