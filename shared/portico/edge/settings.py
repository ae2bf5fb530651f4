"""Edge settings from the environment, validated once at init so a bad value fails the cold start, not a request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from portico.core.hop import UnderscoreAction, underscore_action
from portico.core.iprules import IpNetwork, IpRuleSet
from portico.edge.filters.limits import Limits


class SettingsError(ValueError):
    """A PORTICO_* variable has a bad value; the message names it."""


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    config_table: str
    config_file: str | None
    refresh_interval: float
    allow_loopback: bool
    limits: Limits
    cors_origins: tuple[str, ...]
    portal: bool = True
    portal_title: str = "Portico API"
    api_name: str = "portico"
    metrics_namespace: str = "Portico"
    access_log: bool = True
    metrics: bool = True
    xray: bool = False
    ip_policy: IpRuleSet = field(default_factory=IpRuleSet)
    trusted_proxies: tuple[IpNetwork, ...] = ()
    underscores: UnderscoreAction = "drop"
    history_keep: int = 100  # PORTICO_HISTORY_LIMIT: history records kept after a portal key change (as the CLI)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> EdgeSettings:
        return cls(
            config_table=env.get("PORTICO_CONFIG_TABLE", "portico-config"),
            config_file=env.get("PORTICO_CONFIG_FILE") or None,
            refresh_interval=_number(env, "PORTICO_CONFIG_REFRESH_SECONDS", 5.0, 0.0),
            allow_loopback=_flag(env, "PORTICO_ALLOW_LOOPBACK_UPSTREAMS"),
            limits=Limits(
                max_headers=int(_number(env, "PORTICO_MAX_HEADERS", 100, 1)),
                max_header_bytes=int(_number(env, "PORTICO_MAX_HEADER_BYTES", 16 * 1024, 256)),
                max_body_bytes=int(_number(env, "PORTICO_MAX_BODY_BYTES", 6 * 1024 * 1024, 0)),
            ),
            cors_origins=tuple(o.strip() for o in env.get("PORTICO_CORS_ALLOW_ORIGINS", "").split(",") if o.strip()),
            # the developer portal under /_portico/ (docs/composition.md); off hides it (404)
            portal=_flag(env, "PORTICO_PORTAL", default=True),
            portal_title=env.get("PORTICO_PORTAL_TITLE", "").strip() or "Portico API",
            api_name=_name(env, "PORTICO_API_NAME", "portico"),
            metrics_namespace=_name(env, "PORTICO_METRICS_NAMESPACE", "Portico"),
            access_log=_flag(env, "PORTICO_ACCESS_LOG", default=True),
            metrics=_flag(env, "PORTICO_METRICS", default=True),
            xray=_flag(env, "PORTICO_XRAY"),
            # the global IP policy and the proxies whose X-Forwarded-For hops are believed (docs/protection.md)
            ip_policy=IpRuleSet(_cidrs(env, "PORTICO_IP_ALLOW"), _cidrs(env, "PORTICO_IP_DENY")),
            trusted_proxies=_cidrs(env, "PORTICO_TRUSTED_PROXIES"),
            underscores=_underscores(env),
            history_keep=_history_keep(env),
        )


def _cidrs(env: Mapping[str, str], name: str) -> tuple[IpNetwork, ...]:
    import ipaddress

    out: list[IpNetwork] = []
    for item in env.get(name, "").split(","):
        if item.strip():
            try:
                out.append(ipaddress.ip_network(item.strip(), strict=True))
            except ValueError as exc:
                raise SettingsError(f"{name}: {item.strip()!r} is not a CIDR: {exc}") from None
    return tuple(out)


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum:g}")
    return value


def _history_keep(env: Mapping[str, str]) -> int:
    if "PORTICO_HISTORY_LIMIT" not in env:
        return 100  # history.DEFAULT_KEEP, without importing the history module at every cold start
    from portico.core.config.history import history_limit

    try:
        return history_limit(env)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _underscores(env: Mapping[str, str]) -> UnderscoreAction:
    try:
        return underscore_action(env.get("PORTICO_HEADERS_WITH_UNDERSCORES"), "PORTICO_HEADERS_WITH_UNDERSCORES")
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _name(env: Mapping[str, str], name: str, default: str) -> str:
    """A metric namespace or dimension value: 1-255 printable characters (CloudWatch's limits)."""
    raw = env.get(name, "").strip() or default
    if len(raw) > 255 or not raw.isprintable():
        raise SettingsError(f"{name}={raw!r} must be 1-255 printable characters")
    return raw


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name}={raw!r} must be true or false")
