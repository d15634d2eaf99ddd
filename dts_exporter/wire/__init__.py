"""The wire layer: signed HTTP calls to Alibaba Cloud, knowing nothing of what they mean.

`signing` (v1 and v3 algorithms), `rpc` (a signed request), `transport` (HTTP with limits;
failures as bounded codes), `endpoints` (region -> endpoint), `retry` (what is retried,
backoff, the token bucket), `client` (one call with retries and deadlines) and `paging`
(one paging loop for every paged action).
"""
