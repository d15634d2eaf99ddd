"""The OpenAPI at `/`: authenticate a request, route it by action and answer it.

- DTS (`Version=2020-01-01`): DescribeInitializationStatus (paged by `PageNum` and
  `PageSize`), DescribeSynchronizationObjectModifyStatus, DescribeDtsJobs (see
  `discovery`).
- STS (`Version=2015-04-01`): AssumeRoleWithOIDC (unsigned), AssumeRole (see `sts`).

Any other version is 400 `InvalidVersion`, any other action 404 `InvalidAction.NotFound`.
Faults injected for the object a call names replace or delay its answer (see `calls`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl

from dts_exporter.base.api import (
    API_VERSION,
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
from dts_exporter.simulator.discovery import list_jobs, parse_query
from dts_exporter.simulator.render import DEFAULT_HOST_ID, ApiError
from dts_exporter.simulator.scenario import JOB_LIST_FIELDS, Fault
from dts_exporter.simulator.sts import (
    ASSUME_ROLE_ACTION,
    OIDC_ACTION,
    STS_ACTIONS,
    STS_VERSION,
    StsService,
)

ACTIONS = (DESCRIBE_INITIALIZATION_STATUS, DESCRIBE_MODIFY_STATUS, DESCRIBE_DTS_JOBS)


class Backend(Protocol):
    """What answering a call needs of the server: credentials, bodies, faults, counters."""

    authenticator: Authenticator
    sts: StsService

    def count(self, action: str) -> None: ...

    def faults_for(self, object_id: str, *, wildcard: bool = True) -> tuple[Fault, ...]: ...

    def job_body(self, job_id: str) -> Mapping[str, Any] | None: ...

    def task_body(self, task_id: str) -> Mapping[str, Any] | None: ...

    def dts_jobs(self, region: str) -> Sequence[Mapping[str, Any]]: ...


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

    return with_faults(backend.faults_for(job_id), call, page_num, normal)


def _describe_modify_status(backend: Backend, call: Call) -> Reply:
    task_id = call.params.get("TaskId", "")
    if not task_id:
        raise ApiError(400, "MissingTaskId", "TaskId is mandatory for this action.")

    def normal() -> Reply:
        stored = backend.task_body(task_id)
        if stored is None:
            return business_error(call, "InvalidTaskId", "The specified task does not exist.")
        return answer(call, stored)

    return with_faults(backend.faults_for(task_id), call, None, normal)


def _describe_dts_jobs(backend: Backend, call: Call) -> Reply:
    query = parse_query(call.params)

    def normal() -> Reply:
        return answer(call, list_jobs(backend.dts_jobs(query.region), query))

    return with_faults(backend.faults_for(DESCRIBE_DTS_JOBS), call, query.page_number, normal)


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
        if signed.action == DESCRIBE_INITIALIZATION_STATUS:
            return _describe_initialization_status(backend, call)
        if signed.action == DESCRIBE_DTS_JOBS:
            return _describe_dts_jobs(backend, call)
        return _describe_modify_status(backend, call)
    except ApiError as error:
        return error_reply(error, request_id, host_id, xml, product)
