"""Progress as JSON lines on stdout — the protocol the C# trainer service reads — and, when an OTLP endpoint is
configured and the OpenTelemetry SDK is installed, as OTLP metrics too."""
from __future__ import annotations

import json
import math
import os
import sys
import time


class Progress:
    def __init__(self, enabled: bool = True, stream=None):
        self.enabled = enabled
        self.stream = stream or sys.stdout
        self._otlp = _OtlpGauges.create() if enabled and os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") else None

    def emit(self, event: str, **fields) -> None:
        if not self.enabled:
            return
        record = {"event": event, "time": round(time.time(), 3), **{k: _finite(v) for k, v in fields.items()}}
        self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()
        if self._otlp and event == "step":
            self._otlp.record(record)

    def close(self) -> None:
        if self._otlp:
            self._otlp.shutdown()


def _finite(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value


class _OtlpGauges:
    NAMES = ("loss", "lr", "grad_norm", "tokens_per_s", "mfu")

    def __init__(self, provider, meter):
        self.provider = provider
        self.gauges = {n: meter.create_gauge(f"amdistill.trainer.{n}") for n in self.NAMES}

    @classmethod
    def create(cls):
        try:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        except ImportError:
            return None
        provider = MeterProvider(metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=5000)])
        return cls(provider, provider.get_meter("AmDistill.Trainer"))

    def record(self, step: dict) -> None:
        for name, gauge in self.gauges.items():
            if isinstance(step.get(name), (int, float)):
                gauge.set(step[name])

    def shutdown(self) -> None:
        self.provider.shutdown()
