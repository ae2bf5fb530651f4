"""Dev component: opaque TCP through the mesh. A TCP echo server behind its sidecar (tcp-echo, app port 19042
declared `tcp`), reached from orders' sidecar through its local listener 127.0.0.1:15105 (--tcp-upstreams).

The sidecar's own health check is HTTP, so tcp-echo also runs the demo HTTP app on its --app-port (19041).
"""

from __future__ import annotations

import sys

from localdev.dev.mesh import TCP_UPSTREAMS, DemoInstance
from localdev.dev.run import DevRun

TCP_ECHO = DemoInstance("tcp-echo", "v1", 19041, 15160)
ECHO_PORT = 19042  # the TCP app port, declared with --app-ports 19042=tcp
ORDERS_LISTENER = 15105  # on orders' sidecar: PORTICO_TCP_UPSTREAMS=15105=tcp-echo:19042 (localdev/dev/mesh.py)
assert f"{ORDERS_LISTENER}=tcp-echo:{ECHO_PORT}" == TCP_UPSTREAMS  # one spelling of the wiring
SECTION = "TCP through the mesh: orders' sidecar -> mTLS -> tcp-echo"


def start(run: DevRun) -> None:
    py = sys.executable
    inst = TCP_ECHO
    echo = [py, "-m", "localdev.demo.tcp_echo", "--port", str(ECHO_PORT), "--greeting", "hello from tcp-echo"]
    run.spawn("app-tcp-echo", echo, port=ECHO_PORT)
    health = [py, "-m", "localdev.demo.app", "--service", inst.service, "--port", str(inst.app_port)]
    run.spawn(f"app-{inst.name}", health, port=inst.app_port)
    ports = ["--admin-port", str(inst.admin_port), "--outbound-port", str(inst.admin_port + 1)]
    ports += ["--inbound-port", str(inst.admin_port + 2)]
    sidecar = [py, "-m", "portico", "sidecar", "--service", inst.service, "--app-port", str(inst.app_port)]
    run.spawn(
        f"sidecar-{inst.name}",
        [*sidecar, "--app-ports", f"{ECHO_PORT}=tcp", "--instance-id", inst.name, *ports],
        env={"PORTICO_HEARTBEAT_INTERVAL": "2"},
        ready_url=f"http://127.0.0.1:{inst.admin_port}/ready",
    )
    run.sidecar(inst.name, f"http://127.0.0.1:{inst.admin_port}", log=f"sidecar-{inst.name}")
    run.facts["tcp"] = f"tcp-echo on {ECHO_PORT} behind its sidecar; orders' sidecar listens on {ORDERS_LISTENER}"
    run.hint(
        f'python -m localdev.demo.tcp_echo --say 127.0.0.1:{ORDERS_LISTENER} "hello mesh"     # greeting, echo, '
        "half-close: bytes ride mTLS between the sidecars",
        SECTION,
    )
    run.hint(
        f"curl -s http://127.0.0.1:{inst.admin_port}/stats | grep portico_tcp     # connections and bytes",
        SECTION,
    )
