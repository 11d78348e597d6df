"""Helpers for driving JupyterLab in a real (Debian) Chromium with Playwright.

Follows /work/shared/reference/jupyter-testing.md: a JupyterLab server on 127.0.0.1 serving a
*temporary copy* of a notebook folder with isolated Jupyter state, stopped by process group; a fresh
offline Chromium per test; notebooks driven through ``window.jupyterapp`` commands.

Only the standard library is imported at module level, so this module imports (and pytest's
``--doctest-modules`` can collect it) even where playwright or jupyterlab are missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from playwright.sync_api import Locator, Page

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts" / "browser"

#: Chromium flags: headless as root, and offline (DNS for anything but localhost fails at once).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SERVER_START_TIMEOUT = 90.0  # s; ~5 s on an idle 2-core machine
DEFAULT_TIMEOUT_MS = 60_000


def missing_requirements() -> str | None:
    """Why the browser tests cannot run here, or None if they can."""
    missing = []
    if shutil.which("chromium") is None:
        missing.append("`chromium` not on PATH (apt-get install chromium; scripts/setup.sh does)")
    for mod in ("playwright", "jupyterlab", "nbformat", "ipywidgets"):
        if importlib.util.find_spec(mod) is None:
            missing.append(f"python package `{mod}` not importable (pip install -e '.[test]')")
    return "; ".join(missing) or None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------------
class LabServer:
    """A JupyterLab server serving ``root`` (already a temporary copy), in its own process group."""

    def __init__(self, root: Path, state_dir: Path):
        self.root = Path(root)
        self.state_dir = Path(state_dir)
        self.token = secrets.token_hex(16)
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log_path = self.state_dir / "jupyterlab.log"

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for var, sub in [
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_DATA_DIR", "data"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
            ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
            ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
            ("IPYTHONDIR", "ipython"),
        ]:
            d = self.state_dir / sub
            d.mkdir(parents=True, exist_ok=True)
            env[var] = str(d)
        # no "get notified about Jupyter news?" toast over the widgets under test
        notification = self.state_dir / "lab-settings" / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True, exist_ok=True)
        (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        env["PYTHONUNBUFFERED"] = "1"
        env.pop("JUPYTER_TOKEN", None)
        return env

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.allow_root=True",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]

    def start(self, timeout: float = SERVER_START_TIMEOUT, attempts: int = 3) -> "LabServer":
        last = ""
        for _ in range(attempts):  # a free port can be taken between probe and bind: retry
            self.port = free_port()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    self.command(), cwd=self.root, env=self.env(), stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self._status_ok():
                    return self
                time.sleep(0.25)
            last = self.log_tail()
            if self.proc.poll() is None:  # still running but never answered: give up
                self.stop()
                raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s\n{last}")
            self.stop()
        raise RuntimeError(f"JupyterLab failed to start ({attempts} attempts)\n{last}")

    def _status_ok(self) -> bool:
        try:
            with urllib.request.urlopen(self.api_url("status"), timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 15.0) -> None:
        """Shut down via the API (kernels run in their own sessions), then kill the group."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                req = urllib.request.Request(self.api_url("shutdown"), method="POST", data=b"")
                urllib.request.urlopen(req, timeout=5).close()
            except (urllib.error.URLError, OSError):
                pass
            for sig, wait in ((None, timeout), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                if sig is not None:
                    try:
                        os.killpg(proc.pid, sig)
                    except ProcessLookupError:
                        break
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        try:  # stragglers in the server's group (not kernels: they have their own sessions)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # -- urls and content ---------------------------------------------------------------------
    def api_url(self, endpoint: str) -> str:
        return f"{self.base_url}/api/{endpoint}?token={self.token}"

    def lab_url(self, name: str) -> str:
        """URL that opens notebook ``name`` (relative to root) in a fresh workspace."""
        path = urllib.parse.quote(notebook_name(name))
        return f"{self.base_url}/lab/tree/{path}?token={self.token}&reset"

    def api(self, endpoint: str, method: str = "GET") -> Any:
        req = urllib.request.Request(self.api_url(endpoint), method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def running_kernels(self) -> list[dict]:
        return self.api("kernels")

    def shutdown_all_kernels(self) -> None:
        for k in self.running_kernels():
            try:
                self.api(f"kernels/{k['id']}", method="DELETE")
            except urllib.error.HTTPError:
                pass

    def add(self, src: os.PathLike | str, name: str | None = None) -> Path:
        """Copy a notebook (or folder) into the served root; returns the copy's path."""
        src = Path(src)
        dst = self.root / (name or src.name)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        return dst

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "--- jupyterlab log (tail) ---\n" + "\n".join(lines[-n:])


def start_lab(folder: os.PathLike | str | None, workdir: os.PathLike | str | None = None) -> LabServer:
    """Copy ``folder`` (default: the repo's notebooks/) to a temp dir and serve it."""
    folder = Path(folder) if folder is not None else NOTEBOOKS_DIR
    workdir = Path(workdir or tempfile.mkdtemp(prefix="nasnb-lab-"))
    root = workdir / "root"
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", ".pytest_cache")
    if folder.is_dir():
        shutil.copytree(folder, root, ignore=ignore)
    else:
        root.mkdir(parents=True)
    state = workdir / "state"
    state.mkdir(parents=True, exist_ok=True)
    return LabServer(root, state).start()


# --------------------------------------------------------------------------------------------
# Notebooks on disk
# --------------------------------------------------------------------------------------------
def notebook_name(name: str) -> str:
    return name if name.endswith(".ipynb") else f"{name}.ipynb"


def write_notebook(path: os.PathLike | str, cells: Iterable[str | tuple[str, str]]) -> Path:
    """Write a notebook with a python3 kernelspec; cells are code strings or ("markdown", text)."""
    import nbformat
    from nbformat import v4

    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for c in cells:
        kind, src = c if isinstance(c, tuple) else ("code", c)
        nb.cells.append(v4.new_markdown_cell(src) if kind == "markdown" else v4.new_code_cell(src))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


# --------------------------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------------------------
def _route_local_only(route) -> None:
    host = urllib.parse.urlsplit(route.request.url).hostname
    if host in LOCAL_HOSTS:
        route.continue_()
    else:
        route.abort()


def new_context(browser, **kwargs):
    """A browser context that aborts every non-local request."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, **kwargs)
    ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
    ctx.route("**/*", _route_local_only)
    return ctx


_CURRENT = "window.jupyterapp.shell.currentWidget"


def open_notebook(page: "Page", server: LabServer, name: str, timeout: float = DEFAULT_TIMEOUT_MS) -> None:
    """Open ``name`` in Lab (fresh workspace) and wait until its kernel is idle."""
    fname = notebook_name(name)
    page.goto(server.lab_url(fname), wait_until="domcontentloaded", timeout=timeout)
    page.wait_for_function("() => !!window.jupyterapp && !!window.jupyterapp.shell", timeout=timeout)
    page.wait_for_function(
        """(fname) => {
            const w = window.jupyterapp.shell.currentWidget;
            return !!w && !!w.context && w.context.path.split('/').pop() === fname.split('/').pop()
                   && !!w.content && w.content.widgets.length > 0;
        }""",
        arg=fname,
        timeout=timeout,
    )
    page.locator(".jp-NotebookPanel").first.wait_for(state="visible", timeout=timeout)
    wait_kernel_idle(page, timeout=timeout)


def wait_kernel_idle(page: "Page", timeout: float = DEFAULT_TIMEOUT_MS) -> None:
    page.wait_for_function(
        f"""() => {{
            const w = {_CURRENT};
            const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
            return !!k && k.status === 'idle';
        }}""",
        timeout=timeout,
    )


def run_all_cells(page: "Page", timeout: float = 120_000, allow_errors: bool = False) -> list[dict]:
    """Run every cell, wait until all have executed and the kernel is idle.

    Returns the error outputs ({cell, ename, evalue}); raises AssertionError on any unless
    ``allow_errors``.
    """
    wait_kernel_idle(page, timeout=timeout)
    # Start the command without awaiting it in evaluate() (which has no timeout), then poll.
    page.evaluate(
        """() => {
            window.__nasnbRunAll = null;
            window.jupyterapp.commands.execute('notebook:run-all-cells').then(
                ok => { window.__nasnbRunAll = {ok: ok}; },
                err => { window.__nasnbRunAll = {error: String(err)}; });
        }"""
    )
    # done = the command resolved, every non-empty code cell has an execution count, kernel idle
    page.wait_for_function(
        f"""() => {{
            if (!window.__nasnbRunAll) return false;
            const w = {_CURRENT};
            if (!w || !w.content) return false;
            const k = w.sessionContext.session && w.sessionContext.session.kernel;
            if (!k || k.status !== 'idle') return false;
            return w.content.widgets.every(c => c.model.type !== 'code'
                || c.model.sharedModel.getSource().trim() === ''
                || c.model.executionCount !== null
                || c.model.outputs.toJSON().some(o => o.output_type === 'error'));
        }}""",
        timeout=timeout,
    )
    result = page.evaluate("() => window.__nasnbRunAll")
    if "error" in result:
        raise AssertionError(f"notebook:run-all-cells failed: {result['error']}")
    errors = page.evaluate(
        f"""() => {{
            const out = [];
            {_CURRENT}.content.widgets.forEach((c, i) => {{
                if (c.model.type !== 'code') return;
                for (const o of c.model.outputs.toJSON())
                    if (o.output_type === 'error') out.push({{cell: i, ename: o.ename, evalue: o.evalue}});
            }});
            return out;
        }}"""
    )
    if errors and not allow_errors:
        raise AssertionError(f"cells raised: {errors}")
    return errors


def stderr_outputs(page: "Page") -> "Locator":
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")


def assert_no_stderr(page: "Page") -> None:
    """Fail if any cell shows stderr output (warnings, tracebacks)."""
    loc = stderr_outputs(page)
    n = loc.count()
    if n:
        texts = [t.strip()[:500] for t in loc.all_inner_texts()]
        raise AssertionError(f"{n} stderr output(s) in the notebook:\n" + "\n---\n".join(texts))


def shutdown_kernel(page: "Page", timeout: float = 30_000) -> None:
    """Shut down the current notebook's kernel and wait until it is gone."""
    has_kernel = page.evaluate(
        f"() => {{ const w = {_CURRENT}; return !!(w && w.sessionContext && w.sessionContext.session); }}"
    )
    if not has_kernel:
        return
    page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
    page.wait_for_function(
        f"""() => {{
            const w = {_CURRENT};
            const s = w && w.sessionContext && w.sessionContext.session;
            return !s || !s.kernel || s.kernel.status === 'dead' || s.kernel.isDisposed;
        }}""",
        timeout=timeout,
    )


def save_screenshot(target: "Page | Locator", name: str) -> Path:
    """Screenshot a page or locator into test-artifacts/browser/<name>.png."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS_DIR / (name if name.endswith(".png") else f"{name}.png")
    target.screenshot(path=str(path))
    return path


def expect(*args, **kwargs):
    """playwright.sync_api.expect, imported lazily."""
    from playwright.sync_api import expect as _expect

    return _expect(*args, **kwargs)
