"""Passive outlier detection as in Envoy: consecutive 5xx or gateway errors eject a host for base x n seconds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portico.core.mesh.registry import Instance

GATEWAY_ERRORS = frozenset({502, 503, 504})
MAX_EJECTION_TIME = 300.0  # Envoy's max_ejection_time default: the multiplier cannot push an ejection past 5 minutes


@dataclass(frozen=True, slots=True)
class OutlierSettings:
    """Istio/Envoy defaults. `consecutive_gateway_errors` 0 disables that detector, as in Istio."""

    consecutive_5xx: int = 5
    consecutive_gateway: int = 0
    interval: float = 10.0
    base_ejection_time: float = 30.0
    max_ejection_percent: int = 10
    min_health_percent: int = 0


@dataclass(slots=True)
class _HostState:
    consecutive_5xx: int = 0
    consecutive_gateway: int = 0
    ejected_until: float | None = None
    ejections: int = 0


class OutlierDetector:
    """Per-cluster outlier state. A connect failure or reset counts as a 503 (Envoy's local-origin mapping).

    Ejection is decided at the failing response, as Envoy does for consecutive errors. The ejection multiplier
    decreases by one for each sweep `interval` a host spends healthy, so a flapping host stays out longer.
    """

    def __init__(self, settings: OutlierSettings) -> None:
        self.settings = settings
        self._hosts: dict[str, _HostState] = {}
        self._last_sweep = float("-inf")

    def record(self, key: str, status: int | None, now: float, pool_size: int) -> bool:
        """Count one outcome (None = no response at all). Returns True when this outcome ejected the host."""
        state = self._hosts.setdefault(key, _HostState())
        code = 503 if status is None else status
        if code < 500:
            state.consecutive_5xx = 0
            state.consecutive_gateway = 0
            return False
        state.consecutive_5xx += 1
        if code in GATEWAY_ERRORS:
            state.consecutive_gateway += 1
        s = self.settings
        tripped = (s.consecutive_5xx > 0 and state.consecutive_5xx >= s.consecutive_5xx) or (
            s.consecutive_gateway > 0 and state.consecutive_gateway >= s.consecutive_gateway
        )
        if not tripped or self.is_ejected(key, now) or not self._may_eject(now, pool_size):
            return False
        state.ejections += 1
        state.ejected_until = now + min(s.base_ejection_time * state.ejections, MAX_EJECTION_TIME)
        state.consecutive_5xx = 0
        state.consecutive_gateway = 0
        return True

    def _may_eject(self, now: float, pool_size: int) -> bool:
        # Envoy checks the share already ejected *before* adding one, so one host of three can go at 10%.
        ejected = sum(1 for k in self._hosts if self.is_ejected(k, now))
        return pool_size > 0 and 100 * ejected / pool_size < self.settings.max_ejection_percent

    def is_ejected(self, key: str, now: float) -> bool:
        state = self._hosts.get(key)
        return state is not None and state.ejected_until is not None and now < state.ejected_until

    def sweep(self, now: float) -> None:
        """Once per `interval`: forget finished ejections and let healthy hosts earn their multiplier back."""
        if now - self._last_sweep < self.settings.interval:
            return
        self._last_sweep = now
        for state in self._hosts.values():
            if state.ejected_until is not None and now >= state.ejected_until:
                state.ejected_until = None
            elif state.ejected_until is None and state.ejections > 0:
                state.ejections -= 1

    def available(self, candidates: Sequence[Instance], now: float) -> list[Instance]:
        """Candidates minus ejected hosts, unless too few would be left (minHealthPercent: then use them all)."""
        healthy = [i for i in candidates if not self.is_ejected(i.key, now)]
        if not candidates:
            return []
        if not healthy or 100 * len(healthy) / len(candidates) < self.settings.min_health_percent:
            return list(candidates)  # panic mode: a degraded pool beats no pool
        return healthy

    def ejected(self, now: float) -> list[str]:
        return sorted(k for k in self._hosts if self.is_ejected(k, now))

    def forget(self, live_keys: set[str]) -> None:
        """Drop state of hosts that left the registry so memory stays bounded by the registry's size."""
        for key in [k for k in self._hosts if k not in live_keys]:
            del self._hosts[key]
