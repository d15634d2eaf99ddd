"""The simulator's own admin paths, unsigned, for tests and benchmarks to steer it.

- `GET /_simulator/requests`: successful or authenticated requests per action (also
  `ecs-metadata-token`, `ecs-metadata-credentials`, `credentials-uri`); with flow control,
  also `<action>:Throttling.User`: those of them the flow control throttled.
- `PUT /_simulator/faults`: a JSON body shaped like a scenario's `faults`; replaces the
  faults, answers 204.
- `PUT /_simulator/flow_control`: a JSON body shaped like a scenario's `flow_control`
  (`{}` or `null`: off); replaces it with full buckets, answers 204.

A known path with another method is 405 `UnsupportedHTTPMethod`, any other path under
`/_simulator/` 404 `NotFound`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Protocol

from dts_exporter.base.errors import ConfigError
from dts_exporter.simulator.calls import Reply
from dts_exporter.simulator.flow import FlowSettings, parse_flow_control
from dts_exporter.simulator.render import render_json
from dts_exporter.simulator.scenario import Fault, parse_faults

ADMIN_PREFIX = "/_simulator/"
_REQUESTS = f"{ADMIN_PREFIX}requests"
_FAULTS = f"{ADMIN_PREFIX}faults"
_FLOW = f"{ADMIN_PREFIX}flow_control"


class Controls(Protocol):
    """What the admin paths read and change on the server."""

    def request_counts(self) -> dict[str, int]: ...

    def set_faults(self, faults: Mapping[str, Sequence[Fault]]) -> None: ...

    def set_flow_control(self, settings: FlowSettings | None) -> None: ...


def _invalid_faults(message: str) -> Reply:
    return Reply(400, render_json({"Code": "InvalidFaults", "Message": message}))


def _put_flow_control(server: Controls, body: bytes) -> Reply:
    source = "PUT /_simulator/flow_control"
    try:
        data = json.loads(body.decode("utf-8") or "null")
        server.set_flow_control(parse_flow_control(data, source))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Reply(
            400,
            render_json({"Code": "InvalidFlowControl", "Message": f"{source}: not JSON: {exc}"}),
        )
    except ConfigError as exc:
        return Reply(400, render_json({"Code": "InvalidFlowControl", "Message": str(exc)}))
    return Reply(204)


def handle_admin(server: Controls, method: str, path: str, body: bytes) -> Reply:
    """Answer one request to a path under `/_simulator/`."""
    if path == _REQUESTS and method == "GET":
        return Reply(200, render_json(server.request_counts()))
    if path == _FAULTS and method == "PUT":
        source = "PUT /_simulator/faults"
        try:
            data = json.loads(body.decode("utf-8") or "{}")
            server.set_faults(parse_faults(data, source))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _invalid_faults(f"{source}: body is not JSON: {exc}")
        except ConfigError as exc:
            return _invalid_faults(str(exc))
        return Reply(204)
    if path == _FLOW and method == "PUT":
        return _put_flow_control(server, body)
    status, code = (
        (405, "UnsupportedHTTPMethod") if path in (_REQUESTS, _FAULTS, _FLOW) else (404, "NotFound")
    )
    return Reply(status, render_json({"Code": code, "Message": f"{method} {path}"}))
