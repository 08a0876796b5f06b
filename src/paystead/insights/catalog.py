"""The KPI catalog: every metric the post-launch framework names, defined once.

Each KPI has a unit, a direction (which way is better), the data source it is computed
from and its formula in words (``docs/kpis.md`` lists them all; a test keeps the two in
step). A KPI whose source has not landed yet says so through ``source``; the scorecard
then shows "no data" with that reason, never a made-up value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class Unit(StrEnum):
    PERCENT = "percent"
    MILLISECONDS = "ms"
    SECONDS = "s"
    HOURS = "h"
    PER_SECOND = "per_second"
    COUNT = "count"
    SCORE = "score"  # NPS: -100..100
    MONEY = "money"  # minor units of the report's base currency


class Source(StrEnum):
    TELEMETRY = "telemetry"  # request metrics, probes, host samples
    PAYMENTS = "payments"
    LEDGER = "ledger"
    BILLING = "billing"  # subscriptions and invoices (billing issue)
    SURVEYS = "surveys"  # NPS / CSAT responses, by API or CSV import
    SUPPORT = "support"  # tickets, by API or CSV import
    MARKETING = "marketing"  # spend, for CAC
    MANUAL = "manual"  # entered by a person, recorded with who and when
    RELEASES = "releases"  # release markers
    ML_FRAUD = "ml_fraud"  # the fraud model's labelled outcomes
    ML_CHURN = "ml_churn"  # the churn model's labelled outcomes


@dataclass(frozen=True, slots=True)
class Kpi:
    key: str
    name: str
    unit: Unit
    direction: Direction
    source: Source
    formula: str


def _kpi(key: str, name: str, unit: Unit, better: str, source: Source, formula: str) -> Kpi:
    direction = Direction.HIGHER_IS_BETTER if better == "up" else Direction.LOWER_IS_BETTER
    return Kpi(key, name, unit, direction, source, formula)


P, MS, S, H = Unit.PERCENT, Unit.MILLISECONDS, Unit.SECONDS, Unit.HOURS

CATALOG: tuple[Kpi, ...] = (
    # -- core system
    _kpi(
        "availability",
        "Availability",
        P,
        "up",
        Source.TELEMETRY,
        "successful synthetic probes / all probes over the window x 100",
    ),
    _kpi(
        "api_response_time_avg",
        "API response time (average)",
        MS,
        "down",
        Source.TELEMETRY,
        "mean duration of API requests over the window",
    ),
    _kpi(
        "api_response_time_p95",
        "API response time (p95)",
        MS,
        "down",
        Source.TELEMETRY,
        "95th percentile of API request durations (histogram, exact to the bucket)",
    ),
    _kpi(
        "api_response_time_p99",
        "API response time (p99)",
        MS,
        "down",
        Source.TELEMETRY,
        "99th percentile of API request durations (histogram, exact to the bucket)",
    ),
    _kpi(
        "error_rate",
        "Error rate",
        P,
        "down",
        Source.TELEMETRY,
        "API responses with status >= 500 / all API responses x 100",
    ),
    _kpi(
        "critical_errors",
        "Critical errors",
        Unit.COUNT,
        "down",
        Source.TELEMETRY,
        "count of 5xx responses and failed probes in the window",
    ),
    _kpi(
        "throughput_tps",
        "Throughput",
        Unit.PER_SECOND,
        "up",
        Source.PAYMENTS,
        "payments created in the window / window length in seconds (peak minute also shown)",
    ),
    # -- payments
    _kpi(
        "payment_success_rate",
        "Payment success rate",
        P,
        "up",
        Source.PAYMENTS,
        "payments that succeeded or await capture / payments that reached a final answer x 100",
    ),
    _kpi(
        "mobile_payment_success_rate",
        "Mobile payment success",
        P,
        "up",
        Source.PAYMENTS,
        "payment success rate restricted to channel android or ios",
    ),
    _kpi(
        "payment_conversion_rate",
        "Payment conversion rate",
        P,
        "up",
        Source.PAYMENTS,
        "payments that succeeded / payment attempts started (checkouts) x 100",
    ),
    _kpi(
        "payment_processing_time",
        "Payment processing time",
        S,
        "down",
        Source.PAYMENTS,
        "mean time from payment creation to its final status",
    ),
    _kpi(
        "fraud_detection_accuracy",
        "Fraud detection accuracy",
        P,
        "up",
        Source.ML_FRAUD,
        "correct fraud decisions / labelled decisions x 100",
    ),
    _kpi(
        "fraud_false_positive_rate",
        "Fraud false-positive rate",
        P,
        "down",
        Source.ML_FRAUD,
        "legitimate payments blocked / legitimate payments screened x 100",
    ),
    # -- infrastructure
    _kpi(
        "db_query_time",
        "Database query time",
        MS,
        "down",
        Source.TELEMETRY,
        "mean duration of database statements (cursor execute, all statements)",
    ),
    _kpi(
        "cache_hit_rate",
        "Cache hit rate",
        P,
        "up",
        Source.TELEMETRY,
        "cache hits / cache lookups x 100 (the API-key cache)",
    ),
    _kpi(
        "cold_start_share",
        "Cold starts",
        P,
        "down",
        Source.TELEMETRY,
        "API requests served by a process in its first minute / all API requests x 100",
    ),
    _kpi(
        "cdn_latency",
        "CDN / static asset latency",
        MS,
        "down",
        Source.TELEMETRY,
        "mean duration of static asset responses (none are served yet)",
    ),
    # -- revenue
    _kpi(
        "mrr",
        "Monthly recurring revenue",
        Unit.MONEY,
        "up",
        Source.BILLING,
        "active and past_due subscriptions' licensed amounts net of coupons, normalised to a month, "
        "at the window's end (base currency at that day's rate)",
    ),
    _kpi(
        "mrr_growth",
        "MRR growth",
        P,
        "up",
        Source.BILLING,
        "(MRR at window end - MRR at window start) / MRR at window start x 100 (constant currency)",
    ),
    _kpi(
        "average_order_value",
        "Average order value",
        Unit.MONEY,
        "up",
        Source.LEDGER,
        "captured amount / succeeded payments in the window (base currency)",
    ),
    _kpi(
        "revenue",
        "Revenue",
        Unit.MONEY,
        "up",
        Source.LEDGER,
        "merchant revenue minus refunds posted in the window (base currency)",
    ),
    _kpi(
        "revenue_growth",
        "Revenue growth",
        P,
        "up",
        Source.LEDGER,
        "(revenue in window - revenue in baseline window) / baseline revenue x 100",
    ),
    _kpi(
        "customer_retention",
        "Customer retention",
        P,
        "up",
        Source.BILLING,
        "customers active or past_due at window start with a subscription not ended at its end "
        "/ active at start x 100",
    ),
    _kpi(
        "churn_prediction_accuracy",
        "Churn prediction accuracy",
        P,
        "up",
        Source.ML_CHURN,
        "correct churn predictions / labelled predictions x 100",
    ),
    _kpi(
        "processing_cost_per_transaction",
        "Processing cost per transaction",
        Unit.MONEY,
        "down",
        Source.LEDGER,
        "gateway fees posted in the window / captured payments",
    ),
    _kpi(
        "customer_acquisition_cost",
        "Customer acquisition cost",
        Unit.MONEY,
        "down",
        Source.MARKETING,
        "marketing spend in the window / customers acquired in the window",
    ),
    # -- customer experience
    _kpi(
        "nps",
        "Net promoter score",
        Unit.SCORE,
        "up",
        Source.SURVEYS,
        "% of 0-10 answers that are 9-10 minus % that are 0-6",
    ),
    _kpi(
        "csat",
        "Customer satisfaction",
        P,
        "up",
        Source.SURVEYS,
        "satisfied answers (4-5 of 5) / all answers x 100",
    ),
    _kpi(
        "support_ticket_volume",
        "Support tickets",
        Unit.COUNT,
        "down",
        Source.SUPPORT,
        "tickets opened in the window",
    ),
    _kpi(
        "time_to_resolution",
        "Time to resolution",
        H,
        "down",
        Source.SUPPORT,
        "mean of resolved_at - opened_at for tickets resolved in the window",
    ),
    # -- operational efficiency
    _kpi(
        "manual_interventions",
        "Manual interventions",
        Unit.COUNT,
        "down",
        Source.MANUAL,
        "interventions recorded in the window (manual refunds, state fixes, reconciliations)",
    ),
    _kpi(
        "staff_productivity",
        "Staff productivity",
        P,
        "up",
        Source.MANUAL,
        "change in work items completed per staff hour against the baseline x 100",
    ),
    _kpi(
        "compliance_audit_time",
        "Compliance audit time",
        H,
        "down",
        Source.MANUAL,
        "hours spent preparing the latest compliance audit",
    ),
    _kpi(
        "feature_releases",
        "Feature releases",
        Unit.COUNT,
        "up",
        Source.RELEASES,
        "release markers of kind 'feature' in the window",
    ),
)

BY_KEY: dict[str, Kpi] = {kpi.key: kpi for kpi in CATALOG}
