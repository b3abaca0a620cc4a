"""The project's kernel, registered as `make kernel` does, starts under a Jupyter server and runs this checkout.

No browser: the server's REST API and a kernel's websocket, with every Jupyter directory under tmp_path (the
real user's kernels and settings are neither read nor changed). The browser check of the notebooks' sliders
is tools/lab_screenshots.py (CONTRIBUTING.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 60.0  # the whole module: server, kernel, shutdown (the registration is conftest's gil_kernel)
DISPLAY_NAME = f"Python 3 (gil: {ROOT})"  # `make kernel`: named for this checkout


@dataclass
class Server:
    url: str
    token: str
    data_dir: Path
    kernel: str  # the name `make kernel` gave this checkout's kernel
    install_output: str
    deadline: float

    def left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"over the {BUDGET_S:.0f} s budget of this module")
        return left

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=min(15.0, self.left())) as response:
            text = response.read().decode()
        return json.loads(text) if text else {}


def _stop(server: subprocess.Popen, url: str, token: str) -> None:
    """Asks the server to shut down (its kernels with it), then kills whatever is left of its process group."""
    if server.poll() is None:
        try:
            request = urllib.request.Request(
                f"{url}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
            )
            urllib.request.urlopen(request, timeout=5).close()
            server.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory, gil_kernel) -> Iterator[Server]:
    """A Jupyter server of this interpreter on 127.0.0.1 with the `gil` kernel registered as `make kernel` does
    (conftest's ``gil_kernel``)."""
    deadline = time.monotonic() + BUDGET_S
    home = tmp_path_factory.mktemp("jupyter")
    env = gil_kernel.env(
        JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"), PYTHONUNBUFFERED="1"
    )
    token = uuid.uuid4().hex
    command = [
        *(sys.executable, "-m", "jupyter_server", "--no-browser", "--ServerApp.open_browser=False"),
        *("--ServerApp.ip=127.0.0.1", "--ServerApp.port=0", f"--IdentityProvider.token={token}"),
        f"--ServerApp.root_dir={home}",
    ]
    if os.geteuid() == 0:  # containers
        command.append("--allow-root")
    log = open(home / "server.log", "w")  # noqa: SIM115 - closed below, after the server has stopped
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = None
    try:
        # port 0: the server picks a free port and writes it into its runtime file, jpserver-<pid>.json
        info = home / "runtime" / f"jpserver-{server.pid}.json"
        while url is None or not _answers(url, token):
            if server.poll() is not None:
                pytest.fail(f"jupyter_server exited with {server.returncode}:\n{(home / 'server.log').read_text()}")
            if time.monotonic() > deadline - 30:  # leave time for the kernel
                pytest.fail(f"jupyter_server did not answer within {BUDGET_S - 30:.0f} s")
            if url is None and info.exists():
                try:
                    url = json.loads(info.read_text())["url"].rstrip("/")
                except (ValueError, KeyError):  # being written
                    pass
            time.sleep(0.2)
        yield Server(url, token, gil_kernel.data_dir, gil_kernel.name, gil_kernel.install_output, deadline)
    finally:
        _stop(server, url or "http://127.0.0.1:1", token)
        log.close()


def _answers(url: str, token: str) -> bool:
    try:
        request = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


async def _execute(ws_url: str, code: str, timeout: float) -> tuple[str, dict]:
    """Sends one execute_request on the shell channel; returns the cell's stdout and its execute_reply content."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    async def run() -> tuple[str, dict]:
        connection = await websocket_connect(HTTPRequest(ws_url, connect_timeout=10, request_timeout=10))
        try:
            msg_id = uuid.uuid4().hex
            message = {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "username": "test",
                    "session": uuid.uuid4().hex,
                    "date": "",
                    "version": "5.3",
                },
                "parent_header": {},
                "metadata": {},
                "content": {"code": code, "silent": False, "store_history": False, "allow_stdin": False},
                "buffers": [],
                "channel": "shell",
            }
            await connection.write_message(json.dumps(message))
            stdout, reply, idle = [], None, False
            while reply is None or not idle:
                raw = await connection.read_message()
                assert raw is not None, "the kernel's websocket closed before the execute_reply"
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["header"]["msg_type"], msg["content"]
                if kind == "stream" and content["name"] == "stdout":
                    stdout.append(content["text"])
                elif kind == "error":
                    stdout.append("\n".join(content["traceback"]))
                elif kind == "execute_reply":
                    reply = content
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
            return "".join(stdout), reply
        finally:
            connection.close()

    return await asyncio.wait_for(run(), timeout)


def test_make_kernel_registers_into_the_jupyter_data_dir(jupyter):
    """`make kernel` (--user) writes the spec under JUPYTER_DATA_DIR, named for this checkout (another checkout's
    `make kernel` gets another name, so neither replaces the other), with this interpreter in its argv."""
    assert re.fullmatch(r"gil-\d+", jupyter.kernel), jupyter.kernel
    spec = json.loads((jupyter.data_dir / "kernels" / jupyter.kernel / "kernel.json").read_text())
    assert spec["display_name"] == DISPLAY_NAME
    assert spec["argv"][0] == sys.executable
    assert str(jupyter.data_dir / "kernels" / jupyter.kernel) in jupyter.install_output
    other = subprocess.run(["make", "-s", "-n", "-C", str(ROOT), "kernel", "CURDIR=/elsewhere/gil"],
                           capture_output=True, text=True)  # fmt: skip
    assert other.returncode == 0 and jupyter.kernel not in other.stdout and "--name gil-" in other.stdout


def test_server_lists_the_gil_kernelspec(jupyter):
    """GET /api/kernelspecs names this checkout's kernel, "Python 3 (gil: <checkout>)", whose argv runs this
    interpreter's ipykernel."""
    specs = jupyter.request("GET", "/api/kernelspecs")["kernelspecs"]
    assert jupyter.kernel in specs, sorted(specs)
    spec = specs[jupyter.kernel]["spec"]
    assert spec["display_name"] == DISPLAY_NAME
    argv = spec["argv"]
    assert argv[0] == sys.executable and argv[argv.index("-m") + 1] == "ipykernel_launcher", argv


def test_gil_kernel_imports_this_checkout_with_this_interpreter(jupyter):
    """This checkout's kernel started through the REST API runs this interpreter and imports gil from it."""
    kernel = jupyter.request("POST", "/api/kernels", {"name": jupyter.kernel})
    try:
        assert kernel["name"] == jupyter.kernel
        ws_url = jupyter.url.replace("http", "ws", 1) + f"/api/kernels/{kernel['id']}/channels?token={jupyter.token}"
        code = "import gil, sys\nprint(gil.__file__)\nprint(sys.executable)\nprint(sys.prefix)"
        stdout, reply = asyncio.run(_execute(ws_url, code, timeout=min(30.0, jupyter.left())))
        assert reply["status"] == "ok", stdout
        gil_file, executable, prefix = stdout.splitlines()
        assert Path(gil_file).resolve() == ROOT / "gil" / "__init__.py"
        assert executable == sys.executable
        assert prefix == sys.prefix
    finally:
        jupyter.request("DELETE", f"/api/kernels/{kernel['id']}")
    assert kernel["id"] not in {k["id"] for k in jupyter.request("GET", "/api/kernels")}
