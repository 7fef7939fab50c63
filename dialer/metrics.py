"""The service's Prometheus metrics (prometheus-client), all prefixed ``dialer_``.

Two kinds of figures:

* counted in this process as things happen (calls by outcome, gate decisions
  by reason, store write latency): fed by ``observe_event`` (the runner's
  progress events) and ``observe_store_write`` (``Database`` timing hook);
* read when scraped, from the engine (active calls per server, FastAGI
  sessions, AMI reconnects, campaign progress) and from the store
  (revocations by channel: they also arrive through other processes, the
  hotline AGI script and ``dialer sms receive``, so only the store knows them all).

Each ``Metrics`` has its own registry: several services (tests) never collide.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from dialer.store.store import Store

#: store write transactions: most take a few ms; a large import holds the lock for seconds
STORE_WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _StoreCounts(Collector):
    """Revocations by channel, as counted in the store at the last refresh."""

    def __init__(self) -> None:
        self.revocations: dict[str, int] = {}

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "dialer_revocations",
            "Consent revocations recorded, by channel (C5)",
            labels=["channel"],
        )
        for channel, count in sorted(self.revocations.items()):
            family.add_metric([channel], count)
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calls = Counter(
            "dialer_calls", "Call attempts finished, by outcome", ["outcome"], registry=r
        )
        self.gate = Counter(
            "dialer_gate_decisions",
            "Gate decisions right before an attempt (C2), by reason",
            ["reason"],
            registry=r,
        )
        self.active_calls = Gauge(
            "dialer_active_calls", "Calls in progress, by Asterisk server", ["server"], registry=r
        )
        self.ami_up = Gauge(
            "dialer_ami_up", "1 when the AMI link to the server is up", ["server"], registry=r
        )
        self.ami_reconnects = Gauge(
            "dialer_ami_reconnects_total",
            "AMI reconnections since the service started, by server",
            ["server"],
            registry=r,
        )
        self.fastagi_active = Gauge(
            "dialer_fastagi_sessions_active", "FastAGI sessions in progress", registry=r
        )
        self.fastagi_sessions = Gauge(
            "dialer_fastagi_sessions_total",
            "FastAGI sessions started since the service started",
            registry=r,
        )
        self.store_write = Histogram(
            "dialer_store_write_seconds",
            "Duration of store write transactions (lock wait included)",
            buckets=STORE_WRITE_BUCKETS,
            registry=r,
        )
        self.campaign_done = Gauge(
            "dialer_campaign_done", "Contacts done in the current run", ["campaign"], registry=r
        )
        self.campaign_total = Gauge(
            "dialer_campaign_total", "Contacts to do in the current run", ["campaign"], registry=r
        )
        self.campaign_rate = Gauge(
            "dialer_campaign_calls_per_second",
            "Recent attempts per second",
            ["campaign"],
            registry=r,
        )
        self._store_counts = _StoreCounts()
        r.register(self._store_counts)

    def observe_event(self, event: Mapping[str, Any]) -> None:
        """A runner progress event (``CampaignRunner`` ``progress`` callback)."""
        kind = event.get("event")
        if kind == "outcome":
            self.calls.labels(str(event["outcome"])).inc()
        elif kind == "blocked":
            self.gate.labels(str(event["reason"])).inc()
        elif kind == "dialing":
            self.gate.labels("allowed").inc()

    def observe_store_write(self, seconds: float) -> None:
        self.store_write.observe(seconds)

    async def refresh(
        self,
        store: Store,
        progress: Mapping[str, Mapping[str, Any]],
        components: Mapping[str, Any] | None = None,
    ) -> None:
        """Read the scrape-time figures (the store's counts, the engine's state)."""
        self._store_counts.revocations = await store.consent.revocations_by_channel()
        self.campaign_done.clear()
        self.campaign_total.clear()
        self.campaign_rate.clear()
        for name, figures in progress.items():
            self.campaign_done.labels(name).set(float(figures.get("done", 0)))
            self.campaign_total.labels(name).set(float(figures.get("total", 0)))
            self.campaign_rate.labels(name).set(float(figures.get("calls_per_second", 0.0)))
        if components is None:
            return
        for server in components.get("ami", []):
            name = str(server.get("server", "default"))
            self.ami_up.labels(name).set(1.0 if server.get("ok") else 0.0)
            self.active_calls.labels(name).set(float(server.get("active_calls", 0)))
            self.ami_reconnects.labels(name).set(float(server.get("reconnects", 0)))
        agi = components.get("fastagi", {})
        self.fastagi_active.set(float(agi.get("active_sessions", 0)))
        self.fastagi_sessions.set(float(agi.get("sessions_started", 0)))
