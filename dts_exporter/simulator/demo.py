"""The built-in demo: four synchronization jobs and four modify tasks that evolve with time.

Everything is a pure function of the seconds elapsed since the simulator started, so a
given elapsed time always yields the same answer. Bodies are shaped exactly like recorded
DescribeInitializationStatus / DescribeSynchronizationObjectModifyStatus answers (numbers
as strings, key order of the API samples) and are paged by the server like scenario bodies.

- orders (MySQL): 18 tables over about 75 minutes; one table fails; a view, a function
  (failed), a procedure and a trigger; incremental details per table.
- billing (MySQL): 12 small tables, all done within 5 minutes; one table fails with a
  NumberFormatException, one table's schema already exists on the destination.
- catalog (PostgreSQL): 25 tables over about 45 minutes; sequences, a type, a function,
  a failing view, nested constraints and indexes (one needs PostGIS and fails).
- analytics (MySQL): 40 large tables, staggered so some are migrating for over 2 hours.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

DEMO_ACCESS_KEY_ID = "LTAI5tDtsExporterDemo"
# The demo credentials are published on purpose: the simulator is a local test double.
DEMO_ACCESS_KEY_SECRET = "dts-exporter-demo-secret"

NOT_STARTED = "NotStarted"
MIGRATING = "Migrating"
FAILED = "Failed"
FINISHED = "Finished"


@dataclass(frozen=True)
class DemoJob:
    job_id: str
    name: str
    task_ids: tuple[str, ...]


ORDERS = DemoJob("dtsi01orders8x2k", "orders", ("k71r16fj13ga",))
BILLING = DemoJob("dtsi02billing5m7q", "billing", ("m2q8zt5c0vb7",))
CATALOG = DemoJob("dtsi03catalog3p9w", "catalog", ("c5j2rk8u6ya0",))
ANALYTICS = DemoJob("dtsi04analytics6r1t", "analytics", ("p9d3xw7h4ne1",))
DEMO_JOBS: tuple[DemoJob, ...] = (ORDERS, BILLING, CATALOG, ANALYTICS)

WALKING_TASK, PRECHECK_FAILED_TASK, FAILING_TASK, LONG_TASK = (
    ORDERS.task_ids[0],
    BILLING.task_ids[0],
    CATALOG.task_ids[0],
    ANALYTICS.task_ids[0],
)

NUMBER_FORMAT_ERROR = 'java.lang.NumberFormatException: For input string: ""'
GEOMETRY_ERROR = 'DTS-1020042 Execute sql error sql: ERROR: type "geometry" does not exist'
INCREMENTAL_ERROR = "The task has failed for a long time and cannot be recovered."
CONNECT_SRC_ERROR = (
    "DTS-070211: Connect Source DB failed. cause by [com.mysql.jdbc.exceptions.jdbc4."
    "MySQLNonTransientConnectionException:Could not create connection to database server. "
    "Attempted reconnect 3 times. Giving up.][com.mysql.jdbc.exceptions.jdbc4."
    "CommunicationsException:Communications link failure\n\nThe last packet sent "
    "successfully to the server was 0 milliseconds ago. The driver has not received any "
    "packets from the server.][java.net.ConnectException:Connection timed out (Connection "
    "timed out)] About more information in [https://yq.aliyun.com/articles/499178]."
)
PRECHECK_ITEMS = (
    "CHECK_CONN_SRC",
    "CHECK_CONN_DEST",
    "CHECK_AUTH_SRC",
    "CHECK_AUTH_DEST",
    "CHECK_BINLOG_ON",
    "CHECK_BINLOG_MODE",
    "CHECK_BINLOG_ROW_IMAGE",
    "CHECK_SERVER_ID",
    "CHECK_BINLOG_EXIST",
    "CHECK_ENGINE",
    "CHECK_MYSQL_PASSOWRD_FORMAT",
    "CHECK_SRC",
    "CHECK_SAME_OBJ",
    "CHECK_SQL_MODE",
    "CHECK_SAME_USER",
    "CHECK_TOPOLOGY",
)


def _unit(*parts: object) -> float:
    """A deterministic pseudo-random number in [0, 1) derived from `parts`."""
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()
    return int(digest[:13], 16) / float(16**13)


# --- plans: what each job contains and when things happen ------------------------------


@dataclass(frozen=True)
class _Constraint:
    name: str
    object_type: str  # Constraint or Index
    definition: str
    error: str | None = None


@dataclass(frozen=True)
class _Table:
    name: str
    total: int
    start: float  # seconds after simulator start when full data begins
    duration: float
    gap: int  # FinishRowNum - TotalRowNum once finished
    definition: str
    fail_after: float | None = None  # seconds after `start`
    error: str = ""
    structure_error: str | None = None
    constraints: tuple[_Constraint, ...] = ()


@dataclass(frozen=True)
class _Object:
    name: str
    object_type: str
    definition: str
    error: str | None = None


@dataclass(frozen=True)
class _Plan:
    job: DemoJob
    source_db: str
    dest_db: str
    tables: tuple[_Table, ...]
    objects: tuple[_Object, ...]
    incremental: bool

    @property
    def structure_count(self) -> int:
        return len(self.tables) + len(self.objects)


_COLUMNS = (
    ("created_at", "datetime", "timestamp(6)"),
    ("updated_at", "datetime", "timestamp(6)"),
    ("status", "varchar(32)", "varchar(32)"),
    ("amount", "decimal(18,2)", "numeric(18,2)"),
    ("user_id", "bigint(20)", "int8"),
    ("name", "varchar(255)", "varchar(255)"),
    ("payload", "json", "jsonb"),
    ("currency", "char(3)", "bpchar(3)"),
    ("quantity", "int(11)", "int4"),
    ("remark", "varchar(512)", "text"),
)


def _columns(table: str) -> list[tuple[str, str, str]]:
    count = 3 + int(_unit(table, "columns") * 3)
    ranked = sorted(_COLUMNS, key=lambda column: _unit(table, column[0]))
    return ranked[:count]


def _mysql_table(db: str, table: str, total: int) -> str:
    lines = ["`id`  bigint(20) unsigned   auto_increment  COMMENT ''   NOT NULL   "]
    for name, mysql_type, _ in _columns(table):
        charset = (
            "  CHARSET `utf8mb4` COLLATE `utf8mb4_general_ci`  "
            if mysql_type.startswith(("varchar", "char"))
            else "   "
        )
        lines.append(f"`{name}`  {mysql_type}{charset}  COMMENT ''   NULL   ")
    return (
        f"CREATE TABLE `{db}`.`{table}` (\n"
        + ", \n".join(lines)
        + f"\n, PRIMARY KEY (`id`)) engine=InnoDB AUTO_INCREMENT={total + 1} "
        "DEFAULT CHARSET=`utf8mb4` DEFAULT COLLATE `utf8mb4_general_ci` "
        "ROW_FORMAT= Dynamic comment = '' ;\n"
    )


def _pg_table(table: str) -> str:
    lines = [f'"id" int8 NOT NULL DEFAULT nextval(\'"public"."{table}_id_seq"\'::regclass)']
    lines += [f'"{name}" {pg_type}' for name, _, pg_type in _columns(table)]
    if table.endswith("locations") or table == "stores":
        lines.append('"geom" "public"."geometry"(Point,4326)')
    return (
        f'CREATE TABLE "public"."{table}" (\n'
        + ",\n".join(lines)
        + f'\n,CONSTRAINT "{table}_pkey" PRIMARY KEY ("id")\n);\n'
    )


def _mysql_index(db: str, table: str) -> _Constraint:
    column = _columns(table)[0][0]
    name = f"idx_{table}_{column}"
    return _Constraint(name, "Index", f"CREATE INDEX `{name}` ON `{db}`.`{table}` (`{column}`) ;")


def _pg_constraints(table: str) -> tuple[_Constraint, ...]:
    items = [
        _Constraint(
            f"{table}_pkey",
            "Constraint",
            f'ALTER TABLE "public"."{table}" ADD CONSTRAINT "{table}_pkey" PRIMARY KEY ("id");',
        )
    ]
    if table == "stores":
        items.append(
            _Constraint(
                "idx_stores_geom",
                "Index",
                'CREATE INDEX "idx_stores_geom" ON "public"."stores" USING gist ("geom");',
                GEOMETRY_ERROR,
            )
        )
    elif _unit(table, "index") < 0.5:
        column = _columns(table)[0][0]
        items.append(
            _Constraint(
                f"idx_{table}_{column}",
                "Index",
                f'CREATE INDEX "idx_{table}_{column}" ON "public"."{table}" '
                f'USING btree ("{column}");',
            )
        )
    return tuple(items)


@dataclass(frozen=True)
class _Timing:
    first_start: float
    stagger: float
    min_duration: float
    max_duration: float
    min_rows_log10: float
    max_rows_log10: float


def _tables(
    job: DemoJob,
    names: tuple[str, ...],
    timing: _Timing,
    postgres: bool,
    db: str,
    failures: dict[str, tuple[float, str]],
    structure_errors: dict[str, str],
) -> tuple[_Table, ...]:
    tables = []
    for index, name in enumerate(names):
        span = timing.max_rows_log10 - timing.min_rows_log10
        total = int(10 ** (timing.min_rows_log10 + span * _unit(job.job_id, name, "rows")))
        duration = timing.min_duration + (timing.max_duration - timing.min_duration) * _unit(
            job.job_id, name, "duration"
        )
        gap = 0
        if _unit(job.job_id, name, "gap") < 0.35:
            size = max(1, int(total * 0.0015 * _unit(job.job_id, name, "gap-size")))
            gap = size if _unit(job.job_id, name, "gap-sign") < 0.6 else -size
        fail_after, error = failures.get(name, (None, ""))
        if postgres:
            definition, constraints = _pg_table(name), _pg_constraints(name)
        else:
            definition = _mysql_table(db, name, total)
            use_index = _unit(job.job_id, name, "index") < 0.3
            constraints = (_mysql_index(db, name),) if use_index else ()
        tables.append(
            _Table(
                name=name,
                total=total,
                start=timing.first_start + index * timing.stagger,
                duration=duration,
                gap=gap,
                definition=definition,
                fail_after=None if fail_after is None else fail_after * duration,
                error=error,
                structure_error=structure_errors.get(name),
                constraints=constraints,
            )
        )
    return tuple(tables)


def _exec_error(sql_error: str) -> str:
    return f"DTS-1020042 Execute sql error sql: {sql_error}"


def _orders_plan() -> _Plan:
    db = "orders_db"
    names = (
        "orders", "order_items", "order_status_history", "order_notes", "order_discounts",
        "order_shipments", "shipment_tracking", "returns", "return_items", "refunds",
        "carts", "cart_items", "customers", "customer_addresses", "coupons",
        "coupon_redemptions", "payments", "gift_cards",
    )  # fmt: skip
    objects = (
        _Object(
            "v_daily_revenue",
            "View",
            f"CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `{db}`.`v_daily_revenue` "
            "AS select cast(`o`.`created_at` as date) AS `day`,sum(`o`.`amount`) AS `revenue` "
            f"from `{db}`.`orders` `o` group by cast(`o`.`created_at` as date) ;",
        ),
        _Object(
            "calc_order_total",
            "Function",
            f"CREATE FUNCTION `{db}`.`calc_order_total`(p_order_id BIGINT) RETURNS "
            "decimal(18,2)\nBEGIN\n  DECLARE v_total DECIMAL(18,2);\n  SELECT SUM(amount) "
            "INTO v_total FROM order_items WHERE order_id = p_order_id;\n  RETURN "
            "IFNULL(v_total, 0);\nEND ;",
            _exec_error(
                "This function has none of DETERMINISTIC, NO SQL, or READS SQL DATA in its "
                "declaration and binary logging is enabled (you *might* want to use the less "
                "safe log_bin_trust_function_creators variable)"
            ),
        ),
        _Object(
            "sp_archive_orders",
            "Procedure",
            f"CREATE PROCEDURE `{db}`.`sp_archive_orders`(IN p_before DATE)\nBEGIN\n  DELETE "
            "FROM orders WHERE status = 'archived' AND created_at < p_before;\nEND ;",
        ),
        _Object(
            "trg_orders_updated_at",
            "Trigger",
            f"CREATE TRIGGER `{db}`.`trg_orders_updated_at` BEFORE UPDATE ON `{db}`.`orders` "
            "FOR EACH ROW SET NEW.updated_at = NOW() ;",
        ),
    )
    timing = _Timing(40.0, 150.0, 300.0, 1800.0, 3.7, 6.5)
    failures = {"order_notes": (0.55, _exec_error(f"Table '{db}.order_notes' already exists"))}
    tables = _tables(ORDERS, names, timing, False, db, failures, {})
    return _Plan(ORDERS, db, db, tables, objects, incremental=True)


def _billing_plan() -> _Plan:
    db = "billing"
    names = (
        "invoices", "invoice_lines", "payments", "payment_events", "payment_methods",
        "subscriptions", "subscription_items", "plans", "credit_notes", "tax_rates",
        "ledger_entries", "billing_accounts",
    )  # fmt: skip
    objects = (
        _Object(
            "v_unpaid_invoices",
            "View",
            f"CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `{db}`.`v_unpaid_invoices` "
            f"AS select `i`.`id` AS `id`,`i`.`amount` AS `amount` from `{db}`.`invoices` `i` "
            "where (`i`.`status` = 'unpaid') ;",
        ),
    )
    timing = _Timing(20.0, 10.0, 20.0, 150.0, 3.3, 5.3)
    failures = {"payment_events": (0.4, NUMBER_FORMAT_ERROR)}
    structure_errors = {"invoices": _exec_error("Table 'invoices' already exists")}
    tables = _tables(BILLING, names, timing, False, "billing_db", failures, structure_errors)
    return _Plan(BILLING, "billing_db", "billing_db", tables, objects, incremental=False)


def _catalog_plan() -> _Plan:
    names = (
        "products", "product_variants", "product_images", "product_attributes",
        "attribute_values", "categories", "category_products", "brands", "suppliers",
        "supplier_products", "inventory_levels", "warehouses", "stores", "store_locations",
        "price_lists", "price_list_items", "promotions", "promotion_rules", "reviews",
        "review_votes", "tags", "product_tags", "collections", "collection_products",
        "search_synonyms",
    )  # fmt: skip
    sequences = tuple(
        _Object(
            f"{name}_id_seq",
            "Sequence",
            f'CREATE SEQUENCE "public"."{name}_id_seq" MINVALUE 1 MAXVALUE 9223372036854775807 '
            f"START {1 + int(_unit(name, 'seq') * 90000)} INCREMENT BY 1 ;",
        )
        for name in names[:6]
    )
    objects = (
        *sequences,
        _Object(
            "product_status",
            "Type",
            "CREATE TYPE \"public\".\"product_status\" AS ENUM ('draft', 'active', 'retired');",
        ),
        _Object(
            "update_modified_column",
            "Function",
            'CREATE OR REPLACE FUNCTION "public"."update_modified_column"() RETURNS trigger '
            "LANGUAGE plpgsql AS $function$\nBEGIN\n  NEW.updated_at = now();\n  RETURN NEW;\n"
            "END;\n$function$;",
        ),
        _Object(
            "v_active_products",
            "View",
            'CREATE VIEW "public"."v_active_products" AS SELECT p.id, p.name, s.rating FROM '
            "products p JOIN product_stats s ON s.product_id = p.id WHERE p.status = 'active';",
            _exec_error('ERROR: relation "product_stats" does not exist'),
        ),
    )
    timing = _Timing(55.0, 60.0, 180.0, 1200.0, 3.0, 5.9)
    failures = {"store_locations": (0.0, GEOMETRY_ERROR)}
    structure_errors = {"store_locations": GEOMETRY_ERROR}
    tables = _tables(CATALOG, names, timing, True, "catalog_db", failures, structure_errors)
    return _Plan(CATALOG, "catalog_db", "catalog_db", tables, objects, incremental=True)


def _analytics_plan() -> _Plan:
    db = "analytics"
    monthly = tuple(f"events_2024{month:02d}" for month in range(1, 13))
    names = (
        *monthly, "page_views", "sessions", "clickstream_daily", "ad_impressions",
        "ad_clicks", "conversions", "funnel_steps", "user_profiles", "user_segments",
        "segment_members", "cohort_retention", "daily_active_users", "experiments",
        "experiment_assignments", "experiment_metrics", "attribution_touchpoints",
        "campaign_costs", "email_sends", "email_opens", "push_deliveries", "search_queries",
        "recommendations_served", "recommendation_clicks", "device_fingerprints",
        "geo_lookups", "referrers", "utm_parameters", "kpi_snapshots",
    )  # fmt: skip
    objects = (
        _Object(
            "v_weekly_active_users",
            "View",
            f"CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `{db}`.`v_weekly_active_users`"
            f" AS select yearweek(`s`.`created_at`) AS `week`,count(distinct `s`.`user_id`) AS "
            f"`users` from `{db}`.`sessions` `s` group by yearweek(`s`.`created_at`) ;",
        ),
        _Object(
            "sp_rollup_kpis",
            "Procedure",
            f"CREATE DEFINER=`etl`@`%` PROCEDURE `{db}`.`sp_rollup_kpis`()\nBEGIN\n  INSERT "
            "INTO kpi_snapshots SELECT NOW(), COUNT(*) FROM sessions;\nEND ;",
            _exec_error(
                "Access denied; you need (at least one of) the SUPER or SET_USER_ID "
                "privilege(s) for this operation"
            ),
        ),
    )
    timing = _Timing(65.0, 180.0, 900.0, 3000.0, 4.7, 6.6)
    tables = _tables(ANALYTICS, names, timing, False, db, {}, {})
    return _Plan(ANALYTICS, db, "analytics_dw", tables, objects, incremental=False)


_PLANS: dict[str, _Plan] = {
    plan.job.job_id: plan
    for plan in (_orders_plan(), _billing_plan(), _catalog_plan(), _analytics_plan())
}
_STRUCTURE_STEP = 1.5  # seconds per schema object; the schema phase precedes full data


# --- state at a given elapsed time --------------------------------------------------------


def _progress(fraction: float) -> float:
    """Smooth, strictly increasing progress curve from 0 to 1 with a gentle wobble."""
    fraction = min(max(fraction, 0.0), 1.0)
    return fraction + 0.035 * math.sin(2 * math.pi * fraction)


def _structure_status(index: int, elapsed: float, error: str | None) -> str:
    begin = index * _STRUCTURE_STEP
    if elapsed < begin:
        return NOT_STARTED
    if elapsed < begin + _STRUCTURE_STEP:
        return MIGRATING
    return FAILED if error else FINISHED


def _data_state(table: _Table, elapsed: float) -> tuple[str, int, float]:
    """(Status, FinishRowNum, UsedTime) of a table's full data at `elapsed`."""
    if elapsed < table.start:
        return NOT_STARTED, 0, 0.0
    running = elapsed - table.start
    if table.fail_after is not None and running >= table.fail_after:
        rows = int(table.total * _progress(table.fail_after / table.duration))
        return FAILED, rows, table.fail_after
    if running < table.duration:
        rows = min(int(table.total * _progress(running / table.duration)), table.total - 1)
        return MIGRATING, max(rows, 0), running
    return FINISHED, table.total + table.gap, table.duration


def _structure_item(
    plan: _Plan, name: str, object_type: str, definition: str, status: str, error: str | None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "Status": status,
        "ObjectType": object_type,
        "ObjectDefinition": definition,
        "SourceOwnerDBName": plan.source_db,
        "DestinationOwnerDBName": plan.dest_db,
        "ObjectName": name,
    }
    if status == FAILED and error:
        item["ErrorMessage"] = error
    return item


def _constraints(plan: _Plan, table: _Table, data_status: str) -> list[dict[str, Any]]:
    """Constraints and indexes are created once the table's full data is in."""
    items = []
    for constraint in table.constraints:
        if data_status == FINISHED:
            status = FAILED if constraint.error else FINISHED
        else:
            status = NOT_STARTED
        items.append(
            _structure_item(
                plan,
                constraint.name,
                constraint.object_type,
                constraint.definition,
                status,
                constraint.error,
            )
        )
    return items


def _job_body(plan: _Plan, elapsed: float) -> dict[str, Any]:
    structure: list[dict[str, Any]] = []
    data: list[dict[str, Any]] = []
    incremental: list[dict[str, Any]] = []
    for index, table in enumerate(plan.tables):
        data_status, rows, used = _data_state(table, elapsed)
        status = _structure_status(index, elapsed, table.structure_error)
        item = _structure_item(
            plan, table.name, "Table", table.definition, status, table.structure_error
        )
        if table.constraints:
            item["Constraints"] = _constraints(plan, table, data_status)
        structure.append(item)
        row: dict[str, Any] = {
            "Status": data_status,
            "TableName": table.name,
            "TotalRowNum": str(table.total),
            "UsedTime": f"{used:.1f}",
            "SourceOwnerDBName": plan.source_db,
            "DestinationOwnerDBName": plan.dest_db,
            "FinishRowNum": str(rows),
        }
        if data_status == FAILED:
            row["ErrorMessage"] = table.error
        data.append(row)
        if plan.incremental:
            incremental.append(_incremental_item(plan, table, data_status))
    for offset, obj in enumerate(plan.objects, start=len(plan.tables)):
        status = _structure_status(offset, elapsed, obj.error)
        structure.append(
            _structure_item(plan, obj.name, obj.object_type, obj.definition, status, obj.error)
        )
    body: dict[str, Any] = {
        "StructureInitializationDetails": structure,
        "RequestId": "",
        "DataInitializationDetails": data,
    }
    if plan.incremental:
        body["DataSynchronizationDetails"] = incremental
    body["Success"] = True
    return body


def _incremental_item(plan: _Plan, table: _Table, data_status: str) -> dict[str, Any]:
    status = {FINISHED: MIGRATING, FAILED: FAILED}.get(data_status, NOT_STARTED)
    item: dict[str, Any] = {
        "Status": status,
        "TableName": table.name,
        "SourceOwnerDBName": plan.source_db,
        "DestinationOwnerDBName": plan.dest_db,
    }
    if status == FAILED:
        item["ErrorMessage"] = INCREMENTAL_ERROR
    return item


def demo_job_endpoints(job_id: str) -> tuple[str, str, str] | None:
    """(engine, source database, destination database) of a demo job, or None."""
    plan = _PLANS.get(job_id)
    if plan is None:
        return None
    engine = "PostgreSQL" if plan.job == CATALOG else "MySQL"
    return engine, plan.source_db, plan.dest_db


def demo_job_body(job_id: str, elapsed: float) -> dict[str, Any] | None:
    """The full (unpaged) DescribeInitializationStatus body of a demo job, or None."""
    plan = _PLANS.get(job_id)
    return None if plan is None else _job_body(plan, max(elapsed, 0.0))


# --- modify tasks -----------------------------------------------------------------------


def _stage(status: str, percent: float, progress: int) -> dict[str, Any]:
    return {"Status": status, "Progress": str(progress), "Percent": str(int(percent))}


def _sync(status: str, delay: int, percent: int) -> dict[str, Any]:
    return {"Status": status, "Delay": str(delay), "Percent": str(percent)}


def _precheck(status: str, percent: float, items: int) -> dict[str, Any]:
    detail = [{"CheckStatus": "Success", "ItemName": name} for name in PRECHECK_ITEMS[:items]]
    return {"Status": status, "Percent": str(int(percent)), "Detail": detail}


def _task_body(
    status: str,
    precheck: dict[str, Any],
    structure: dict[str, Any],
    data: dict[str, Any],
    sync: dict[str, Any],
    error: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"Status": status, "PrecheckStatus": precheck}
    if error:
        body["ErrorMessage"] = error
    body.update(
        {
            "DataInitializationStatus": data,
            "DataSynchronizationStatus": sync,
            "RequestId": "",
            "Success": True,
            "StructureInitializationStatus": structure,
        }
    )
    return body


WALK_PRECHECK_END = 90.0
WALK_STRUCTURE_END = 150.0
WALK_DATA_END = 510.0
WALK_FINISHED = 600.0
WALK_TABLES = 8
WALK_ROWS = 1_284_336


def _walking_task(elapsed: float) -> dict[str, Any]:
    """Prechecking, then schema and full data, catching up, Finished after 10 minutes."""
    not_started = _stage(NOT_STARTED, 0, 0)
    if elapsed < WALK_PRECHECK_END:
        fraction = elapsed / WALK_PRECHECK_END
        items = int(len(PRECHECK_ITEMS) * fraction)
        return _task_body(
            "Prechecking",
            _precheck(MIGRATING, 100 * fraction, items),
            not_started,
            not_started,
            _sync(NOT_STARTED, 0, 0),
        )
    precheck = _precheck(FINISHED, 100, len(PRECHECK_ITEMS))
    if elapsed < WALK_STRUCTURE_END:
        fraction = (elapsed - WALK_PRECHECK_END) / (WALK_STRUCTURE_END - WALK_PRECHECK_END)
        structure = _stage(MIGRATING, 100 * fraction, int(WALK_TABLES * fraction))
        return _task_body(MIGRATING, precheck, structure, not_started, _sync(NOT_STARTED, 0, 0))
    structure = _stage(FINISHED, 100, WALK_TABLES)
    if elapsed < WALK_DATA_END:
        fraction = _progress((elapsed - WALK_STRUCTURE_END) / (WALK_DATA_END - WALK_STRUCTURE_END))
        data = _stage(MIGRATING, 100 * fraction, int(WALK_ROWS * fraction))
        return _task_body(MIGRATING, precheck, structure, data, _sync(NOT_STARTED, 0, 0))
    data = _stage(FINISHED, 100, WALK_ROWS)
    if elapsed < WALK_FINISHED:
        delay = int(45 * (WALK_FINISHED - elapsed) / (WALK_FINISHED - WALK_DATA_END))
        return _task_body(MIGRATING, precheck, structure, data, _sync(MIGRATING, delay, 100))
    return _task_body(FINISHED, precheck, structure, data, _sync(FINISHED, 0, 100))


def _precheck_failed_task() -> dict[str, Any]:
    precheck = _precheck(FAILED, 100, len(PRECHECK_ITEMS))
    precheck["Detail"][0] = {
        "CheckStatus": "Failed",
        "ErrorMessage": (
            "Original error: Access denied for user 'dtstest'@'100.104.xxx.xx' "
            "(using password: YES)"
        ),
        "ItemName": "CHECK_CONN_SRC",
        "RepairMethod": "CHECK_ERROR_SRC_CONN_REPAIR2",
    }
    not_started = _stage(NOT_STARTED, 0, 0)
    return _task_body(
        "PrecheckFailed", precheck, not_started, not_started, _sync(NOT_STARTED, 0, 0)
    )


FAILING_AT = 240.0
FAILING_ROWS = 2_310_452


def _failing_task(elapsed: float) -> dict[str, Any]:
    """Full data runs for four minutes, then the source connection is lost for good."""
    precheck = _precheck(FINISHED, 100, len(PRECHECK_ITEMS))
    structure = _stage(FINISHED, 100, 6)
    fraction = 0.63 * min(elapsed, FAILING_AT) / FAILING_AT
    rows = int(FAILING_ROWS * fraction)
    if elapsed < FAILING_AT:
        data = _stage(MIGRATING, 100 * fraction, rows)
        return _task_body(MIGRATING, precheck, structure, data, _sync(NOT_STARTED, 0, 0))
    data = _stage(FAILED, 100 * fraction, rows)
    data["ErrorMessage"] = CONNECT_SRC_ERROR
    return _task_body(
        FAILED, precheck, structure, data, _sync(NOT_STARTED, 0, 0), CONNECT_SRC_ERROR
    )


def wandering_delay(elapsed: float) -> int:
    """Incremental delay in seconds: smooth, deterministic, always within 0-120."""
    value = (
        60.0
        + 32.0 * math.sin(2 * math.pi * elapsed / 1800.0)
        + 18.0 * math.sin(2 * math.pi * elapsed / 420.0 + 1.3)
        + 9.0 * math.sin(2 * math.pi * elapsed / 95.0 + 0.4)
    )
    return round(min(max(value, 0.0), 120.0))


def _long_task(elapsed: float) -> dict[str, Any]:
    """Schema and full data done; incremental synchronization runs for hours."""
    return _task_body(
        MIGRATING,
        _precheck(FINISHED, 100, len(PRECHECK_ITEMS)),
        _stage(FINISHED, 100, 40),
        _stage(FINISHED, 100, 48_213_377),
        _sync(MIGRATING, wandering_delay(elapsed), 100),
    )


def demo_task_body(task_id: str, elapsed: float) -> dict[str, Any] | None:
    """The DescribeSynchronizationObjectModifyStatus body of a demo task, or None."""
    elapsed = max(elapsed, 0.0)
    if task_id == WALKING_TASK:
        return _walking_task(elapsed)
    if task_id == PRECHECK_FAILED_TASK:
        return _precheck_failed_task()
    if task_id == FAILING_TASK:
        return _failing_task(elapsed)
    if task_id == LONG_TASK:
        return _long_task(elapsed)
    return None
