"""The DTS OpenAPI's vocabulary: the API version, the action names, and what ids look like.

Every layer names actions through these constants; the wire layer, the action modules, the
collector, the CLI and the tests all agree because there is one spelling.
"""

from __future__ import annotations

import re

API_VERSION = "2020-01-01"

DESCRIBE_INITIALIZATION_STATUS = "DescribeInitializationStatus"
DESCRIBE_MODIFY_STATUS = "DescribeSynchronizationObjectModifyStatus"
DESCRIBE_DTS_JOBS = "DescribeDtsJobs"
DESCRIBE_DTS_JOB_DETAIL = "DescribeDtsJobDetail"
DESCRIBE_CHECK_JOBS = "DescribeCheckJobs"

# A region id such as cn-hangzhou or ap-southeast-1.
REGION_RE = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+$")
# A SynchronizationJobId, DtsJobId or TaskId.
ID_RE = re.compile(r"^[A-Za-z0-9_.*-]{1,128}$")
