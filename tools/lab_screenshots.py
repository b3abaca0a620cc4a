"""Browser check of 00_loss_anatomy's sliders in JupyterLab, as a reader would use them.

Starts JupyterLab (this interpreter's, so run it with ``.venv/bin/python``) on a temporary copy of
``notebooks/`` whose ``00_loss_anatomy.ipynb`` has ``interactive = True`` in its parameters cell, with the
project's ``gil`` kernel registered by the Makefile's command into a temporary Jupyter data dir (the real
user's Jupyter set-up is neither read nor changed). In headless Chromium it opens the notebook, runs all
cells, waits for the three sliders and the figures under them, takes a screenshot, drags the λ_u slider,
waits for the figures to be redrawn and takes a second screenshot.

Exits 0 only if the notebook ran under "Python 3 (gil)" without an error, the sliders appeared, and the
figures' image data changed after the slider moved.

Developer tool, not a dependency of the package or of its tests:

    apt-get install -y chromium
    .venv/bin/python -m pip install playwright
    .venv/bin/python tools/lab_screenshots.py /tmp/lab-shots
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "00_loss_anatomy.ipynb"
KERNEL, KERNEL_DISPLAY = "gil", "Python 3 (gil)"
SLIDERS = ("τ", "κ", "λ_u")
SLIDER_TO_MOVE = "λ_u"


class CheckFailed(Exception):
    """The check ran but what it saw is wrong."""


def log(message: str) -> None:
    print(f"[lab_screenshots {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_notebooks(workdir: Path) -> Path:
    """A copy of notebooks/ in which 00's parameters cell says ``interactive = True``."""
    import nbformat

    target = workdir / "notebooks"
    shutil.copytree(ROOT / "notebooks", target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    path = target / NOTEBOOK
    notebook = nbformat.read(path, as_version=4)
    parameters = next(c for c in notebook.cells if c.cell_type == "code")
    if "parameters" not in parameters.metadata.get("tags", []):
        raise CheckFailed(f"{NOTEBOOK}: first code cell is not tagged parameters")
    source, count = re.subn(r"^interactive = False\b", "interactive = True", parameters.source, flags=re.M)
    if count != 1:
        raise CheckFailed(f"{NOTEBOOK}: no line `interactive = False` in the parameters cell")
    parameters.source = source
    kernelspec = notebook.metadata.get("kernelspec", {}).get("name")
    if kernelspec != KERNEL:
        raise CheckFailed(f"{NOTEBOOK}: metadata kernelspec is {kernelspec!r}, not {KERNEL!r}")
    nbformat.write(notebook, path)
    return target


def jupyter_env(workdir: Path) -> dict[str, str]:
    """Jupyter dirs under workdir; the project's kernel registered there with the Makefile's command."""
    env = dict(os.environ)
    env.update(
        JUPYTER_DATA_DIR=str(workdir / "data"),
        JUPYTER_CONFIG_DIR=str(workdir / "config"),
        JUPYTER_RUNTIME_DIR=str(workdir / "runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(workdir / "workspaces"),
        JUPYTERLAB_SETTINGS_DIR=str(workdir / "settings"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    # no "Would you like to get notified about official Jupyter news?" toast over the screenshots
    notification = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--user", "--name", KERNEL, "--display-name", KERNEL_DISPLAY],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return env


def start_lab(notebook_dir: Path, env: dict[str, str], port: int, token: str, log_file) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", "--ServerApp.open_browser=False",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--notebook-dir={notebook_dir}",
    ]  # fmt: skip
    if os.geteuid() == 0:  # containers: Jupyter refuses to run as root without it
        command.append("--allow-root")
    return subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_server(base: str, token: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CheckFailed(f"jupyter lab exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise CheckFailed(f"jupyter lab did not answer within {timeout:.0f} s")


def stop_lab(base: str, token: str, process: subprocess.Popen) -> None:
    """POST /api/shutdown (stops the kernels too), then the process group, whatever is left of it."""
    if process.poll() is None:
        try:
            request = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(request, timeout=5).close()
            process.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # kernels started by this server, if any are left
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def figure_images(interact) -> list[str]:
    """The ``src`` (PNG data URIs) of the images in the interact widget's output."""
    return interact.locator(".widget-output img").evaluate_all("imgs => imgs.map(i => i.src)")


def wait_until_painted(page) -> None:
    """Every figure under the sliders decoded, and two frames drawn since: the screenshot shows them."""
    page.evaluate(
        """async () => {
            const imgs = [...document.querySelectorAll('.widget-interact .widget-output img')];
            await Promise.all(imgs.map(i => i.decode()));
            await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
        }"""
    )


@contextmanager
def expecting(what: str, timeout: float):
    """Turns a playwright timeout inside the block into ``CheckFailed("<what> ...")``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        yield
    except PlaywrightTimeout as error:
        raise CheckFailed(f"{what}: not within {timeout:.0f} s ({error.message.splitlines()[0]})") from None


def wait_for_idle(page, timeout_ms: float) -> None:
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout_ms)


def browser_check(url: str, out: Path, chromium: str, timeout: float) -> None:
    from playwright.sync_api import sync_playwright

    ms = timeout * 1000
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1500, "height": 1900})
        try:
            page.set_default_timeout(ms)
            log(f"opening {NOTEBOOK}")
            page.goto(url)
            with expecting("the notebook open in JupyterLab", timeout):
                page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=ms)
            kernel_name = page.locator(".jp-NotebookPanel-toolbar .jp-KernelName")
            with expecting(f"the kernel {KERNEL_DISPLAY!r} started and idle", timeout):
                page.wait_for_function(
                    """name => document.querySelector('.jp-Dialog')
                        || document.querySelector('.jp-NotebookPanel-toolbar .jp-KernelName')?.innerText === name""",
                    arg=KERNEL_DISPLAY,
                    timeout=ms,
                )
                dialog = page.locator(".jp-Dialog")
                if dialog.count():  # e.g. "Select Kernel": the notebook's kernelspec is not registered
                    raise CheckFailed(f"a dialog instead of the kernel: {dialog.first.inner_text()!r}")
                wait_for_idle(page, ms)
            log(f"kernel {kernel_name.inner_text()!r} idle; Run > Run All Cells")
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

            interact = page.locator(".widget-interact")
            sliders = interact.locator(".widget-slider")
            with expecting(f"{len(SLIDERS)} sliders drawn after Run All Cells", timeout):
                page.wait_for_function(
                    "n => document.querySelectorAll('.widget-interact .widget-slider').length === n",
                    arg=len(SLIDERS),
                    timeout=ms,
                )
            labels = [s.strip() for s in sliders.locator(".widget-label").all_inner_texts()]
            if labels != list(SLIDERS):
                raise CheckFailed(f"slider labels {labels}, expected {list(SLIDERS)}")
            # the figures under the sliders: explore() draws two (maps and training curves)
            with expecting("two figures under the sliders, then the kernel idle", timeout):
                page.wait_for_function(
                    "() => document.querySelectorAll('.widget-interact .widget-output img').length >= 2", timeout=ms
                )
                wait_for_idle(page, ms)
            errors = page.locator("[data-mime-type='application/vnd.jupyter.error']")
            if errors.count():
                raise CheckFailed(f"the notebook raised: {errors.first.inner_text()[:2000]}")
            before = figure_images(interact)
            slider = sliders.nth(SLIDERS.index(SLIDER_TO_MOVE))
            readout = slider.locator(".widget-readout")
            value_before = readout.inner_text()
            cell = page.locator(".jp-Cell", has=interact)
            cell.scroll_into_view_if_needed()
            wait_until_painted(page)
            page.screenshot(path=out / "1-sliders.png")
            cell.screenshot(path=out / "1-sliders-cell.png")
            log(f"{len(before)} figures under the sliders; {SLIDER_TO_MOVE} = {value_before}; dragging it")

            handle = slider.locator(".noUi-handle")
            track = slider.locator(".noUi-target")
            box_handle, box_track = handle.bounding_box(), track.bounding_box()
            x, y = box_handle["x"] + box_handle["width"] / 2, box_handle["y"] + box_handle["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            target = box_track["x"] + 0.75 * box_track["width"]  # to about 1.5 of 0..2
            page.mouse.move(target, y, steps=10)
            page.mouse.up()
            with expecting(f"the {SLIDER_TO_MOVE} slider's value changed by the drag", timeout):
                page.wait_for_function(
                    "([el, v]) => el.innerText !== v", arg=[readout.element_handle(), value_before], timeout=ms
                )
            value_after = readout.inner_text()
            log(f"{SLIDER_TO_MOVE} = {value_after}; waiting for the redraw")
            with expecting("every figure under the sliders redrawn with different image data", timeout):
                page.wait_for_function(
                    """([before]) => {
                        const imgs = document.querySelectorAll('.widget-interact .widget-output img');
                        const src = [...imgs].map(i => i.src);
                        return src.length >= 2 && src.every(s => !before.includes(s));
                    }""",
                    arg=[before],
                    timeout=ms,
                )
                wait_for_idle(page, ms)
            after = figure_images(interact)
            if errors.count():
                raise CheckFailed(f"moving the slider raised: {errors.first.inner_text()[:2000]}")
            cell.scroll_into_view_if_needed()
            wait_until_painted(page)
            page.screenshot(path=out / "2-after-slider.png")
            cell.screenshot(path=out / "2-after-slider-cell.png")
            if len(after) != len(before) or any(a == b for a, b in zip(before, after, strict=True)):
                raise CheckFailed("the figures under the sliders did not change")
            log(f"{SLIDER_TO_MOVE} {value_before} -> {value_after}: all {len(after)} figures redrawn")
        except Exception:
            page.screenshot(path=out / "failure.png")
            raise
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the PNGs (created)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the browser (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds for each wait (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary notebooks and Jupyter dirs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if not Path(args.chromium).exists():
        print(f"no browser at {args.chromium}: apt-get install -y chromium, or pass --chromium", file=sys.stderr)
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="gil-lab-check-"))
    port, token = free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    process = None
    try:
        notebook_dir = prepare_notebooks(workdir)
        env = jupyter_env(workdir)
        with open(args.out / "jupyter-lab.log", "w") as lab_log:
            log(f"jupyter lab on {base}, notebooks in {notebook_dir}")
            process = start_lab(notebook_dir, env, port, token, lab_log)
            try:
                wait_for_server(base, token, process, timeout=60)
                browser_check(f"{base}/lab/tree/{NOTEBOOK}?token={token}", args.out, args.chromium, args.timeout)
            finally:
                stop_lab(base, token, process)
    except CheckFailed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    except Exception as error:  # playwright's timeouts, mostly: the sliders or the redraw never came
        print(f"FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        for png in sorted(args.out.glob("*.png")):
            log(f"wrote {png}")
    print("OK: sliders drawn, figures redrawn after the slider moved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
