"""Push every OTLP metric type the Python SDK can produce, and logs, to Tidewater.

Usage: push_all.py --protocol grpc|http --grpc HOST:PORT --http http://HOST:PORT --service NAME

Prints one JSON object on stdout describing what was sent (ids, values) so the
Rust test can check the stored rows exactly. Exits non-zero if an export fails.
"""

import argparse
import json
import logging
import sys

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor


class Checked:
    """Wraps an exporter and remembers whether every export succeeded."""

    def __init__(self, inner, ok):
        self._inner = inner
        self._ok = ok
        self._preferred_temporality = getattr(inner, "_preferred_temporality", {})
        self._preferred_aggregation = getattr(inner, "_preferred_aggregation", {})

    def export(self, batch, *args, **kwargs):
        result = self._inner.export(batch, *args, **kwargs)
        # Metric and log exporters return different enums; both name success SUCCESS.
        if getattr(result, "name", None) != "SUCCESS":
            print(f"export returned {result!r}", file=sys.stderr)
            self._ok.append(False)
        return result

    def __getattr__(self, name):
        return getattr(self._inner, name)


def exporters(protocol, grpc, http):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        return (
            OTLPMetricExporter(endpoint=f"http://{grpc}", insecure=True),
            OTLPLogExporter(endpoint=f"http://{grpc}", insecure=True),
        )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    return (
        OTLPMetricExporter(endpoint=f"{http}/v1/metrics"),
        OTLPLogExporter(endpoint=f"{http}/v1/logs"),
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", choices=["grpc", "http"], required=True)
    ap.add_argument("--grpc", required=True)
    ap.add_argument("--http", required=True)
    ap.add_argument("--service", required=True)
    args = ap.parse_args()

    ok = []
    metric_exporter, log_exporter = exporters(args.protocol, args.grpc, args.http)
    resource = Resource.create({"service.name": args.service, "deployment.environment": "test"})
    reader = PeriodicExportingMetricReader(Checked(metric_exporter, ok), export_interval_millis=3_600_000)
    # One export only (at force_flush): no second, shutdown-time export of
    # the same cumulative points, so the test can count rows exactly.
    provider = MeterProvider(
        shutdown_on_exit=False,
        resource=resource,
        metric_readers=[reader],
        views=[
            View(instrument_name="py.latency", aggregation=ExplicitBucketHistogramAggregation(boundaries=[10.0, 100.0])),
            View(instrument_name="py.payload", aggregation=ExponentialBucketHistogramAggregation(max_size=160)),
        ],
    )
    meter = provider.get_meter("push_all", "1.0")

    counter = meter.create_counter("py.requests", unit="1", description="requests served")
    counter.add(5, {"route": "/a"})
    counter.add(2, {"route": "/a"})
    counter.add(1, {"route": "/b"})
    updown = meter.create_up_down_counter("py.inflight")
    updown.add(10)
    updown.add(-4)
    gauge = meter.create_gauge("py.temperature")
    gauge.set(21.25, {"room": "lab"})
    hist = meter.create_histogram("py.latency", unit="ms")
    for v in [1.0, 5.0, 50.0, 500.0]:
        hist.record(v, {"route": "/a"})
    exp = meter.create_histogram("py.payload", unit="By")
    exp_values = [1.0, 2.0, 4.0, 1000.0]
    for v in exp_values:
        exp.record(v)
    if not provider.force_flush(timeout_millis=20_000):
        print("metrics flush timed out", file=sys.stderr)
        return 1

    tracer = TracerProvider(resource=resource).get_tracer("push_all")
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(Checked(log_exporter, ok)))
    handler_cls = None
    try:
        from opentelemetry.sdk._logs import LoggingHandler as handler_cls  # noqa: N813
    except ImportError:
        from opentelemetry.instrumentation.logging.handler import LoggingHandler as handler_cls  # noqa: N813
    pylog = logging.getLogger("push_all")
    pylog.setLevel(logging.DEBUG)
    pylog.propagate = False
    pylog.addHandler(handler_cls(level=logging.DEBUG, logger_provider=logger_provider))
    with tracer.start_as_current_span("checkout") as span:
        ctx = span.get_span_context()
        pylog.error("payment failed for order %s", "42", extra={"order.id": "42"})
    pylog.info("all good")
    logger_provider.force_flush()
    logger_provider.shutdown()
    if ok:
        print("an export failed", file=sys.stderr)
        return 1
    json.dump(
        {
            "trace_id": format(ctx.trace_id, "032x"),
            "span_id": format(ctx.span_id, "016x"),
            "exp_values": exp_values,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
