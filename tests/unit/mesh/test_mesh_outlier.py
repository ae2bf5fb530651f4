"""Outlier detection: consecutive errors eject, ejections last base x count, percentages cap and panic."""

from __future__ import annotations

from portico.core.mesh.outlier import OutlierDetector, OutlierSettings
from portico.core.mesh.registry import Instance


def _inst(n: int) -> Instance:
    return Instance("svc", f"i{n}", "10.0.0.1", 15000 + n, heartbeat=0.0)


def test_five_consecutive_5xx_eject_and_a_success_resets() -> None:
    od = OutlierDetector(OutlierSettings(max_ejection_percent=100))
    for _ in range(4):
        assert not od.record("a", 500, 0.0, 3)
    od.record("a", 200, 0.0, 3)
    for _ in range(4):
        assert not od.record("a", 500, 0.0, 3)
    assert od.record("a", 500, 0.0, 3)
    assert od.is_ejected("a", 1.0)


def test_connect_failures_count_as_gateway_errors() -> None:
    od = OutlierDetector(OutlierSettings(consecutive_5xx=0, consecutive_gateway=2, max_ejection_percent=100))
    od.record("a", None, 0.0, 3)
    assert od.record("a", None, 0.0, 3)


def test_ejection_time_grows_with_each_ejection() -> None:
    od = OutlierDetector(
        OutlierSettings(consecutive_5xx=1, base_ejection_time=30, interval=1, max_ejection_percent=100)
    )
    od.record("a", 503, 0.0, 3)
    assert od.is_ejected("a", 29.9) and not od.is_ejected("a", 30.0)
    od.sweep(30.0)
    od.record("a", 503, 31.0, 3)
    assert od.is_ejected("a", 31.0 + 59.9) and not od.is_ejected("a", 31.0 + 60.0)


def test_max_ejection_percent_caps_ejections() -> None:
    od = OutlierDetector(OutlierSettings(consecutive_5xx=1))  # 10%: one host of three (Envoy checks before adding)
    assert od.record("a", 503, 0.0, 3)
    assert not od.record("b", 503, 0.0, 3)


def test_panic_below_min_health_percent_uses_every_host() -> None:
    od = OutlierDetector(OutlierSettings(consecutive_5xx=1, max_ejection_percent=100, min_health_percent=60))
    hosts = [_inst(1), _inst(2), _inst(3)]
    od.record(hosts[0].key, 503, 0.0, 3)
    assert [h.key for h in od.available(hosts, 0.0)] == [hosts[1].key, hosts[2].key]
    od.record(hosts[1].key, 503, 0.0, 3)
    assert len(od.available(hosts, 0.0)) == 3  # 33% healthy < 60%: outlier detection steps aside
