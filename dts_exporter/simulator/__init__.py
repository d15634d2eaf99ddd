"""A simulator of the Alibaba Cloud DTS OpenAPI endpoint, faithful enough for the official SDK.

It verifies signatures v1 and v3, answers DescribeInitializationStatus,
DescribeSynchronizationObjectModifyStatus, DescribeDtsJobs, DescribeDtsJobDetail and
DescribeCheckJobs from a scenario file or a built-in demo that evolves with time, refuses
parameters outside the SDK's documented values, and injects faults (throttling, 5xx, latency, broken
bodies, resets). Beside DTS it stands in for the services a credential chain talks to:
STS (AssumeRoleWithOIDC, AssumeRole), the ECS instance metadata service and a credentials
URI, all issuing expiring temporary credentials that then sign DTS calls. Modules: `server`
(HTTP, state, routing by path), `api` (the OpenAPI actions at `/`, paging), `admin` (the
`/_simulator/` paths), `auth` and `identities` (signatures, accepted credentials), `sts`,
`metadata`, `discovery` (DescribeDtsJobs), `job_state` (DescribeDtsJobDetail), `check_jobs`
(DescribeCheckJobs), `demo`, `demo_tasks`, `demo_jobs` and `demo_health` (the built-in
demo's code; its data is in `data/`), `scenario` and `scenario_values`, `calls` and `render`.
"""

from dts_exporter.simulator.demo import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_JOBS,
    DemoJob,
)
from dts_exporter.simulator.demo_jobs import DEMO_MIGRATION_JOB_ID, DEMO_REGION
from dts_exporter.simulator.flow import FlowSettings
from dts_exporter.simulator.scenario import (
    FAULT_KINDS,
    HOSTILE_FAULT_KINDS,
    Fault,
    Scenario,
    load_scenario,
    parse_faults,
    parse_scenario,
)
from dts_exporter.simulator.server import SimulatorServer, start_simulator

__all__ = [
    "DEMO_ACCESS_KEY_ID",
    "DEMO_ACCESS_KEY_SECRET",
    "DEMO_JOBS",
    "DEMO_MIGRATION_JOB_ID",
    "DEMO_REGION",
    "FAULT_KINDS",
    "HOSTILE_FAULT_KINDS",
    "DemoJob",
    "Fault",
    "FlowSettings",
    "Scenario",
    "SimulatorServer",
    "load_scenario",
    "parse_faults",
    "parse_scenario",
    "start_simulator",
]
