"""The OpenAPI at `/`: authenticate a request, route it by action and answer it.

- DTS (`Version=2020-01-01`): DescribeInitializationStatus (paged by `PageNum` and
  `PageSize` 1-100), DescribeSynchronizationObjectModifyStatus, DescribeDtsJobs (see
  `discovery`), DescribeDtsJobDetail (`job_state`), DescribeCheckJobs (`check_jobs`).
- STS (`Version=2015-04-01`): AssumeRoleWithOIDC (unsigned), AssumeRole (see `sts`).

Any other version is 400 `InvalidVersion`, any other action 404 `InvalidAction.NotFound`.
With flow control on (see `flow`), an authenticated DTS call past its (RegionId, action)
bucket is 400 `Throttling.User`.
Faults injected for the object a call names replace or delay its answer (see `calls`):
those keyed `<action>:<id>`, then the bare id (job or task id: DescribeInitializationStatus
and DescribeSynchronizationObjectModifyStatus only), then the action, then `*` (see
`scenario`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl

from dts_exporter.base.api import (
    API_VERSION,
    DESCRIBE_CHECK_JOBS,
    DESCRIBE_DTS_JOB_DETAIL,
    DESCRIBE_DTS_JOBS,
    DESCRIBE_INITIALIZATION_STATUS,
    DESCRIBE_MODIFY_STATUS,
)
from dts_exporter.simulator.auth import Authenticator, parse_request
from dts_exporter.simulator.calls import (
    MAX_INT,
    Call,
    Reply,
    answer,
    business_error,
    error_reply,
    int_param,
    with_faults,
)
from dts_exporter.simulator.check_jobs import list_check_jobs, parse_check_query
from dts_exporter.simulator.discovery import list_jobs, parse_query
from dts_exporter.simulator.flow import THROTTLED_CODE, THROTTLED_MESSAGE
from dts_exporter.simulator.job_state import parse_detail_query
from dts_exporter.simulator.render import DEFAULT_HOST_ID, ApiError
from dts_exporter.simulator.scenario import JOB_LIST_FIELDS, Fault
from dts_exporter.simulator.sts import (
    ASSUME_ROLE_ACTION,
    OIDC_ACTION,
    STS_ACTIONS,
    STS_VERSION,
    StsService,
)

ACTIONS = (
    DESCRIBE_INITIALIZATION_STATUS,
    DESCRIBE_MODIFY_STATUS,
    DESCRIBE_DTS_JOBS,
    DESCRIBE_DTS_JOB_DETAIL,
    DESCRIBE_CHECK_JOBS,
)


class Backend(Protocol):
    """What answering a call needs of the server: credentials, bodies, faults, counters."""

    authenticator: Authenticator
    sts: StsService

    def count(self, action: str) -> None: ...

    def admit(self, region: str, action: str) -> bool: ...

    def faults_for(self, object_id: str, *, wildcard: bool = True) -> tuple[Fault, ...]: ...

    def job_body(self, job_id: str) -> Mapping[str, Any] | None: ...

    def task_body(self, task_id: str) -> Mapping[str, Any] | None: ...

    def dts_jobs(self, region: str) -> Sequence[Mapping[str, Any]]: ...

    def job_detail(self, instance_id: str, job_id: str) -> Mapping[str, Any] | None: ...

    def check_jobs(self, instance_id: str | None) -> Sequence[Mapping[str, Any]]: ...


def not_found() -> ApiError:
    return ApiError(
        404,
        "InvalidAction.NotFound",
        "Specified api is not found, please check your url and method.",
    )


def page_job_body(body: Mapping[str, Any], page_num: int, page_size: int) -> dict[str, Any]:
    """Slice each of the three lists independently; absent lists stay absent."""
    start = (page_num - 1) * page_size
    paged = dict(body)
    for name in JOB_LIST_FIELDS:
        value = body.get(name)
        if isinstance(value, list):
            paged[name] = value[start : start + page_size]
    return paged


def _faults(
    backend: Backend, action: str, ids: Sequence[str] = (), *, bare_ids: bool = False
) -> tuple[Fault, ...]:
    """The faults for a call of `action` naming `ids`, most specific key first:
    `<action>:<id>`, the bare id (`bare_ids`: the init-status and modify-status calls
    only), the action, `*`."""
    found: tuple[Fault, ...] = ()
    for object_id in ids:
        found += backend.faults_for(f"{action}:{object_id}", wildcard=False)
        if bare_ids:
            found += backend.faults_for(object_id, wildcard=False)
    return found + backend.faults_for(action)


def _describe_initialization_status(backend: Backend, call: Call) -> Reply:
    job_id = call.params.get("SynchronizationJobId", "")
    if not job_id:
        raise ApiError(
            400,
            "MissingSynchronizationJobId",
            "SynchronizationJobId is mandatory for this action.",
        )
    page_size = int_param(call.params, "PageSize", 30, 1, 100)
    page_num = int_param(call.params, "PageNum", 1, 1, MAX_INT)

    def normal() -> Reply:
        stored = backend.job_body(job_id)
        if stored is None:
            return business_error(
                call, "InvalidJobId", "The specified synchronization job does not exist."
            )
        return answer(call, page_job_body(stored, page_num, page_size))

    return with_faults(
        _faults(backend, call.action, (job_id,), bare_ids=True), call, page_num, normal
    )


def _describe_modify_status(backend: Backend, call: Call) -> Reply:
    task_id = call.params.get("TaskId", "")
    if not task_id:
        raise ApiError(400, "MissingTaskId", "TaskId is mandatory for this action.")

    def normal() -> Reply:
        stored = backend.task_body(task_id)
        if stored is None:
            return business_error(call, "InvalidTaskId", "The specified task does not exist.")
        return answer(call, stored)

    return with_faults(_faults(backend, call.action, (task_id,), bare_ids=True), call, None, normal)


def _describe_dts_jobs(backend: Backend, call: Call) -> Reply:
    query = parse_query(call.params)

    def normal() -> Reply:
        return answer(call, list_jobs(backend.dts_jobs(query.region), query))

    return with_faults(_faults(backend, call.action), call, query.page_number, normal)


def _describe_dts_job_detail(backend: Backend, call: Call) -> Reply:
    query = parse_detail_query(call.params)

    def normal() -> Reply:
        stored = backend.job_detail(query.instance_id, query.job_id)
        if stored is None:
            return business_error(call, "InvalidJobId", "The specified job does not exist.")
        return answer(call, stored)

    return with_faults(_faults(backend, call.action, query.ids()), call, None, normal)


def _describe_check_jobs(backend: Backend, call: Call) -> Reply:
    query = parse_check_query(call.params)
    ids = () if query.instance_id is None else (query.instance_id,)

    def normal() -> Reply:
        return answer(call, list_check_jobs(backend.check_jobs(query.instance_id), query))

    return with_faults(_faults(backend, call.action, ids), call, query.page_number, normal)


_HANDLERS = {
    DESCRIBE_INITIALIZATION_STATUS: _describe_initialization_status,
    DESCRIBE_DTS_JOBS: _describe_dts_jobs,
    DESCRIBE_DTS_JOB_DETAIL: _describe_dts_job_detail,
    DESCRIBE_CHECK_JOBS: _describe_check_jobs,
}


def _sts_call(backend: Backend, call: Call) -> Reply:
    """AssumeRoleWithOIDC or (authenticated) AssumeRole; counted when credentials issue."""

    def normal() -> Reply:
        if call.action == OIDC_ACTION:
            issued = backend.sts.assume_role_with_oidc(call.params)
        else:
            issued = backend.sts.assume_role(call.params)
        backend.count(call.action)
        return answer(call, {"RequestId": "", **issued}, default_success=False)

    return with_faults(backend.faults_for(call.action, wildcard=False), call, None, normal)


def _wants_xml(params: Mapping[str, str], v3: bool) -> bool:
    requested = params.get("Format", "").strip().lower()
    return requested == "xml" if v3 else requested != "json"


def _check_version(version: str, action: str) -> None:
    known = {API_VERSION: ACTIONS, STS_VERSION: STS_ACTIONS}.get(version)
    if known is None:
        raise ApiError(400, "InvalidVersion", "Specified parameter Version is not valid.")
    if action not in known:
        raise not_found()


def handle_api(
    backend: Backend,
    method: str,
    path: str,
    query_string: str,
    headers: Mapping[str, str],
    body: bytes,
    request_id: str,
) -> Reply:
    """Answer one request to the API path `/` (errors included)."""
    query = dict(parse_qsl(query_string, keep_blank_values=True))
    params = dict(query)
    if headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    xml = _wants_xml(params, "authorization" in headers)
    host_id = headers.get("host") or DEFAULT_HOST_ID
    action = params.get("Action") or headers.get("x-acs-action", "")
    version = params.get("Version") or headers.get("x-acs-version", "")
    product = "Sts" if version == STS_VERSION else "Dts"
    try:
        if method not in ("GET", "POST"):
            raise ApiError(405, "UnsupportedHTTPMethod", "This http method is not supported.")
        if version == STS_VERSION and action == OIDC_ACTION:
            # Anonymous by design: the OIDC token is the proof of identity.
            return _sts_call(backend, Call(action, params, request_id, host_id, xml, product))
        signed = parse_request(method, path, query, params, headers, body)
        _check_version(signed.version, signed.action)
        backend.authenticator.verify(signed)
        call = Call(signed.action, params, request_id, host_id, xml, product)
        if signed.action == ASSUME_ROLE_ACTION:
            return _sts_call(backend, call)
        backend.count(signed.action)
        if not backend.admit(params.get("RegionId", ""), signed.action):
            raise ApiError(400, THROTTLED_CODE, THROTTLED_MESSAGE)
        handler = _HANDLERS.get(signed.action, _describe_modify_status)
        return handler(backend, call)
    except ApiError as error:
        return error_reply(error, request_id, host_id, xml, product)
