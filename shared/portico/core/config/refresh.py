"""Keeps a config snapshot in memory and reloads it only when the store's version item changes."""

from __future__ import annotations

import logging

from portico.core.config.context import ValidationSettings
from portico.core.config.loader import Kinds
from portico.core.config.snapshot import LoadedConfig, load_snapshot
from portico.core.ports import ConfigStore

log = logging.getLogger("portico.config")


class ConfigCache:
    """Readers call `current(now)` per request; the store is asked for its version at most every `interval` seconds.

    If the store is down, the last good snapshot keeps serving: a control-plane outage never takes the data path down.
    `now` is a monotonic reading passed in by the caller, so this stays free of clock reads.
    """

    def __init__(
        self,
        store: ConfigStore,
        *,
        interval: float = 5.0,
        settings: ValidationSettings | None = None,
        kinds: Kinds | None = None,
    ) -> None:
        self._store = store
        self._interval = interval
        self._settings = settings
        self._kinds = kinds  # only these kinds are validated and kept (the sidecar: the mesh kinds)
        self._loaded: LoadedConfig | None = None
        self._checked_at = float("-inf")

    def current(self, now: float) -> LoadedConfig:
        if self._loaded is None:
            self._loaded = load_snapshot(self._store.snapshot(), self._settings, self._kinds)
            self._checked_at = now
        elif now - self._checked_at >= self._interval:
            self._checked_at = now
            self._refresh()
        return self._loaded

    def _refresh(self) -> None:
        try:
            version = self._store.version()
            if self._loaded is not None and version == self._loaded.version:
                return
            self._loaded = load_snapshot(self._store.snapshot(), self._settings, self._kinds)
        except Exception:  # the store's failure modes are many (throttling, network); keep serving the last snapshot
            log.exception("config refresh failed; serving version %s", self._loaded.version if self._loaded else None)
