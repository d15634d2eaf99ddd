"""A simulator of the Alibaba Cloud DTS OpenAPI endpoint, faithful enough for the official SDK.

It verifies signatures v1 and v3, answers DescribeInitializationStatus and
DescribeSynchronizationObjectModifyStatus from a scenario file or a built-in demo that
evolves with time, and injects faults (throttling, 5xx, latency, broken bodies, resets).
"""

from dts_exporter.simulator.demo import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_JOBS,
    DemoJob,
)
from dts_exporter.simulator.scenario import (
    FAULT_KINDS,
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
    "FAULT_KINDS",
    "DemoJob",
    "Fault",
    "Scenario",
    "SimulatorServer",
    "load_scenario",
    "parse_faults",
    "parse_scenario",
    "start_simulator",
]
