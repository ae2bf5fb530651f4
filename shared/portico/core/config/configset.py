"""A consistent set of documents, indexed by kind and name, with cross-reference checks between them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: a sidecar's ConfigSet holds mesh kinds and never imports the edge's models
    from portico.core.config.documents import (
        AuthorizationPolicy,
        Consumer,
        DestinationRule,
        Document,
        Issuer,
        Portal,
        RateLimitPolicy,
        Route,
        VirtualService,
    )
    from portico.core.config.istio_networking import Destination


def service_name(host: str) -> str:
    """The short service name of a mesh host: `payments.default.svc.cluster.local` -> `payments`."""
    return host.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class ConfigSet:
    routes: dict[str, Route] = field(default_factory=dict)
    issuers: dict[str, Issuer] = field(default_factory=dict)
    rate_limit_policies: dict[str, RateLimitPolicy] = field(default_factory=dict)
    consumers: dict[str, Consumer] = field(default_factory=dict)
    portals: dict[str, Portal] = field(default_factory=dict)
    virtual_services: dict[str, VirtualService] = field(default_factory=dict)
    destination_rules: dict[str, DestinationRule] = field(default_factory=dict)
    authorization_policies: dict[str, AuthorizationPolicy] = field(default_factory=dict)

    @classmethod
    def of(cls, docs: Iterable[Document]) -> ConfigSet:
        out = cls()
        for doc in docs:
            out.put(doc)
        return out

    def put(self, doc: Document) -> None:
        """Add or replace (by kind and name) one document; only while the set is being built or checked."""
        self._table(doc.kind)[doc.metadata.name] = doc

    def _table(self, kind: str) -> dict[str, Document]:
        tables: dict[str, dict[str, Document]] = {
            "Route": self.routes,  # type: ignore[dict-item]
            "Issuer": self.issuers,  # type: ignore[dict-item]
            "RateLimitPolicy": self.rate_limit_policies,  # type: ignore[dict-item]
            "Consumer": self.consumers,  # type: ignore[dict-item]
            "Portal": self.portals,  # type: ignore[dict-item]
            "VirtualService": self.virtual_services,  # type: ignore[dict-item]
            "DestinationRule": self.destination_rules,  # type: ignore[dict-item]
            "AuthorizationPolicy": self.authorization_policies,  # type: ignore[dict-item]
        }
        return tables[kind]

    def documents(self) -> list[Document]:
        out: list[Document] = []
        for kind in (
            "Issuer",
            "RateLimitPolicy",
            "Consumer",
            "Portal",
            "Route",
            "DestinationRule",
            "VirtualService",
            "AuthorizationPolicy",
        ):
            out.extend(self._table(kind).values())
        return out

    def subsets(self, host: str) -> set[str]:
        """Subset names defined for a mesh service by any DestinationRule."""
        name = service_name(host)
        return {
            s.name
            for dr in self.destination_rules.values()
            if service_name(dr.spec.host) == name
            for s in dr.spec.subsets
        }

    def reference_errors(self) -> list[str]:
        """Every dangling reference, as `<Kind> <name>: <reason>` lines."""
        return [str(d) for d in self.dangling_references()]

    def dangling_references(self) -> list[DanglingReference]:
        """Every reference to a document that is not in this set, with the document that holds it."""
        found: list[DanglingReference] = []
        for name, route in self.routes.items():
            spec = route.spec
            if spec.auth.jwt is not None:
                for issuer in spec.auth.jwt.issuers:
                    if issuer not in self.issuers:
                        found.append(
                            DanglingReference(
                                "Route", name, f"spec.auth.jwt.issuers names Issuer {issuer!r}, which does not exist"
                            )
                        )
            if spec.rate_limit is not None and spec.rate_limit not in self.rate_limit_policies:
                found.append(
                    DanglingReference(
                        "Route", name, f"spec.rateLimit names RateLimitPolicy {spec.rate_limit!r}, which does not exist"
                    )
                )
        for name, consumer in self.consumers.items():
            plan = consumer.spec.plan
            if plan is not None and plan not in self.rate_limit_policies:
                found.append(
                    DanglingReference(
                        "Consumer", name, f"spec.plan names RateLimitPolicy {plan!r}, which does not exist"
                    )
                )
        found.extend(self._portal_references())
        for name, vs in self.virtual_services.items():
            for i, http in enumerate(vs.spec.http):
                targets = [(f"spec.http[{i}].route[{j}]", d.destination) for j, d in enumerate(http.route)]
                if http.mirror is not None:
                    targets.append((f"spec.http[{i}].mirror", http.mirror))
                found.extend(self._missing_subsets(name, targets))
            l4 = [("tcp", i, r.route) for i, r in enumerate(vs.spec.tcp)]
            l4 += [("tls", i, r.route) for i, r in enumerate(vs.spec.tls)]
            for section, i, dests in l4:
                targets = [(f"spec.{section}[{i}].route[{j}]", d.destination) for j, d in enumerate(dests)]
                found.extend(self._missing_subsets(name, targets))
        return found

    def _missing_subsets(self, name: str, targets: list[tuple[str, Destination]]) -> list[DanglingReference]:
        found: list[DanglingReference] = []
        for path, dest in targets:
            if dest.subset is not None and dest.subset not in self.subsets(dest.host):
                reason = f"{path} uses subset {dest.subset!r} of {dest.host!r}, which no DestinationRule defines"
                found.append(DanglingReference("VirtualService", name, reason))
        return found

    @property
    def portal(self) -> Portal | None:
        """The one Portal document, if any (more than one is a reference error)."""
        return next(iter(self.portals.values()), None) if len(self.portals) == 1 else None

    def _portal_references(self) -> list[DanglingReference]:
        found: list[DanglingReference] = []
        for name, portal in self.portals.items():
            if len(self.portals) > 1:
                found.append(DanglingReference("Portal", name, "at most one Portal document may exist"))
            spec = portal.spec
            issuer = self.issuers.get(spec.sign_in.issuer)
            if issuer is None:
                reason = f"spec.signIn.issuer names Issuer {spec.sign_in.issuer!r}, which does not exist"
                found.append(DanglingReference("Portal", name, reason))
            elif issuer.spec.authorization_endpoint is None or issuer.spec.token_endpoint is None:
                reason = f"Issuer {spec.sign_in.issuer!r} must set authorizationEndpoint and tokenEndpoint for sign-in"
                found.append(DanglingReference("Portal", name, reason))
            for field_name, policy in (("plan", spec.plan), ("rateLimit", spec.rate_limit)):
                if policy is not None and policy not in self.rate_limit_policies:
                    reason = f"spec.{field_name} names RateLimitPolicy {policy!r}, which does not exist"
                    found.append(DanglingReference("Portal", name, reason))
        return found

    def without(self, keys: Iterable[tuple[str, str]]) -> ConfigSet:
        """The same set less the documents keyed (kind, name)."""
        drop = set(keys)
        return ConfigSet.of(d for d in self.documents() if (d.kind, d.metadata.name) not in drop)


@dataclass(frozen=True, slots=True)
class DanglingReference:
    """A document that names another one which is not there: the holder, and what it names."""

    kind: str
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r}: {self.reason}"
