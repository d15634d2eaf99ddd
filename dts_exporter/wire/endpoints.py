"""Which host serves DTS for a region (mirrors the official SDK's endpoint map)."""

from __future__ import annotations

# Regions served by the central endpoint; every other region has its own host.
CENTRAL_HOST = "dts.aliyuncs.com"
CENTRAL_REGIONS = frozenset(
    {
        "ap-northeast-2-pop",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-5",
        "cn-beijing",
        "cn-beijing-finance-1",
        "cn-beijing-finance-pop",
        "cn-beijing-gov-1",
        "cn-beijing-nu16-b01",
        "cn-chengdu",
        "cn-edge-1",
        "cn-fujian",
        "cn-haidian-cm12-c01",
        "cn-hangzhou",
        "cn-hangzhou-bj-b01",
        "cn-hangzhou-finance",
        "cn-hangzhou-internal-prod-1",
        "cn-hangzhou-internal-test-1",
        "cn-hangzhou-internal-test-2",
        "cn-hangzhou-internal-test-3",
        "cn-hangzhou-test-306",
        "cn-hongkong",
        "cn-hongkong-finance-pop",
        "cn-huhehaote",
        "cn-huhehaote-nebula-1",
        "cn-north-2-gov-1",
        "cn-qingdao",
        "cn-qingdao-nebula",
        "cn-shanghai",
        "cn-shanghai-et15-b01",
        "cn-shanghai-et2-b01",
        "cn-shanghai-finance-1",
        "cn-shanghai-inner",
        "cn-shanghai-internal-test-1",
        "cn-shenzhen",
        "cn-shenzhen-finance-1",
        "cn-shenzhen-inner",
        "cn-shenzhen-st4-d01",
        "cn-shenzhen-su18-b01",
        "cn-wuhan",
        "cn-wulanchabu",
        "cn-yushanfang",
        "cn-zhangbei-na61-b01",
        "cn-zhangjiakou",
        "cn-zhangjiakou-na62-a01",
        "cn-zhengzhou-nebula-1",
        "eu-central-1",
        "eu-west-1",
        "eu-west-1-oxs",
        "me-east-1",
        "rus-west-1-pop",
        "us-east-1",
        "us-west-1",
    }
)


def endpoint_for_region(region: str) -> str:
    """The https base URL of the DTS OpenAPI for `region`."""
    host = CENTRAL_HOST if region in CENTRAL_REGIONS else f"dts.{region}.aliyuncs.com"
    return f"https://{host}"
