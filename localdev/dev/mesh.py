"""Dev component: the mesh demo. orders calls payments (v1 x2, v2 x1) through sidecars, with a 90/10 canary.

Apps listen on 127.0.0.1:19000-19099; each sidecar takes three ports of its own in 15100-15199 so several share
one host. Routing comes from localdev/demo/config/mesh.yaml, which the seed component applied to the config table.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from localdev.dev.edge import FRONT_DOOR_PORT
from localdev.dev.run import DevRun


@dataclass(frozen=True)
class DemoInstance:
    service: str
    version: str
    app_port: int
    admin_port: int  # outbound = admin + 1, inbound = admin + 2

    @property
    def name(self) -> str:
        return f"{self.service}-{self.version}-{self.app_port}"


ORDERS = DemoInstance("orders", "v1", 19001, 15100)
INSTANCES = [
    ORDERS,
    DemoInstance("payments", "v1", 19011, 15110),
    DemoInstance("payments", "v1", 19012, 15120),
    DemoInstance("payments", "v2", 19021, 15130),
]


SECTION = "the mesh: orders -> payments behind sidecars"
TCP_UPSTREAMS = "15105=tcp-echo:19042"  # localdev/dev/tcp.py (which imports this module, so it is spelled here)


def start(run: DevRun) -> None:
    py = sys.executable
    for inst in INSTANCES[1:] + INSTANCES[:1]:  # payments first, so orders finds them on its first call
        outbound = inst.admin_port + 1
        app = [
            py,
            "-m",
            "localdev.demo.app",
            "--service",
            inst.service,
            "--version",
            inst.version,
            "--port",
            str(inst.app_port),
            "--instance",
            inst.name,
        ]
        if inst.service == "orders":
            app += ["--outbound", f"127.0.0.1:{outbound}"]
        run.spawn(f"app-{inst.name}", app)
        run.spawn(
            f"sidecar-{inst.name}",
            [
                py,
                "-m",
                "portico",
                "sidecar",
                "--service",
                inst.service,
                "--app-port",
                str(inst.app_port),
                "--labels",
                f"version={inst.version}",
                "--instance-id",
                inst.name,
                "--admin-port",
                str(inst.admin_port),
                "--outbound-port",
                str(outbound),
                "--inbound-port",
                str(inst.admin_port + 2),
            ],
            # orders also reaches the TCP demo through a local listener of its sidecar (localdev/dev/tcp.py)
            env={
                "PORTICO_HEARTBEAT_INTERVAL": "2",
                **({"PORTICO_TCP_UPSTREAMS": TCP_UPSTREAMS} if inst is ORDERS else {}),
            },
            ready_url=f"http://127.0.0.1:{inst.admin_port}/ready",
        )
        # recorded for `portico graph`; prints the /stats hint and where the JSON access log goes
        run.sidecar(inst.name, f"http://127.0.0.1:{inst.admin_port}", log=f"sidecar-{inst.name}")
    run.facts["mesh"] = f"orders -> payments (v1 x2, v2 x1, 90/10), {len(INSTANCES)} sidecars on 15100-15132"
    via = f"127.0.0.1:{ORDERS.admin_port + 1}"
    run.hint(f"python -m localdev.demo.split --via {via} -n 500     # the 90/10 canary, counted", SECTION)
    run.hint(
        f"curl -s http://127.0.0.1:{ORDERS.app_port}/order     # orders calls payments through its sidecar", SECTION
    )
    run.hint(
        f"curl -s -x http://{via} -X POST http://payments/charge     # the sidecar as HTTP_PROXY; GET / is 403 "
        "(the demo AuthorizationPolicy lets orders POST /charge only)",
        SECTION,
    )
    run.hint("portico services     # the registry: instances, labels, health, weights", SECTION)
    run.hint(
        f"curl -s http://127.0.0.1:{ORDERS.admin_port}/stats | grep upstream_requests     # per-subset counters",
        SECTION,
    )
    run.hint(
        f"curl -si http://127.0.0.1:{FRONT_DOOR_PORT}/shop/orders/7     # edge -> orders (mTLS as .../sa/edge) -> "
        f"payments; grep {run.log_dir}/ for its x-request-id: one trace_id in every hop's log line",
        SECTION,
    )
