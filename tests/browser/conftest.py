"""Fixtures for the browser tests (JupyterLab + Debian Chromium + Playwright).

Everything under tests/browser/ is marked ``browser`` and skipped, with the reason, when
``chromium`` is not on PATH or playwright/jupyterlab/nbformat/ipywidgets are not importable
(under ``CI=true`` they fail instead: CI installs all of them).
Deselect with ``-m "not browser"``.

Fixtures:
  lab_server(folder=None) -> LabServer   session-scoped factory; serves a temp copy of ``folder``
                                         (default: the repo's notebooks/), cached per folder;
                                         all servers are stopped by process group at the end.
  browser_page -> playwright Page        fresh offline Chromium per test; a full-page screenshot
                                         goes to test-artifacts/browser/ when the test fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from . import lab

_HERE = Path(__file__).resolve().parent
_MISSING = lab.missing_requirements()
_IN_CI = bool(os.environ.get("CI"))  # CI installs everything: a missing part fails, never skips


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason=f"browser tests need: {_MISSING}") if _MISSING and not _IN_CI else None
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if skip is not None:
                item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def _require():
    if _MISSING and _IN_CI:
        pytest.fail(f"CI must run the browser tests, but they need: {_MISSING}")
    if _MISSING:
        pytest.skip(f"browser tests need: {_MISSING}")


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    """Factory: ``server = lab_server(folder)`` serves a temp copy of ``folder`` (default notebooks/)."""
    _require()
    servers: dict[Path | None, lab.LabServer] = {}

    def start(folder=None) -> lab.LabServer:
        key = Path(folder).resolve() if folder is not None else None
        if key not in servers:
            workdir = tmp_path_factory.mktemp("lab")
            servers[key] = lab.start_lab(folder, workdir)
        return servers[key]

    yield start
    for server in servers.values():
        server.stop()


@pytest.fixture
def browser_page(request):
    """A page in a fresh headless Debian Chromium that can reach only 127.0.0.1/localhost."""
    _require()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=shutil.which("chromium"), headless=True, args=lab.CHROMIUM_ARGS
        )
        context = lab.new_context(browser)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        try:
            yield page
        finally:
            rep = getattr(request.node, "rep_call", None)
            if rep is not None and rep.failed:
                name = request.node.nodeid.replace("/", "_").replace("::", "__")
                try:
                    lab.save_screenshot(page, f"FAILED-{name}")
                except Exception:  # noqa: BLE001 - best effort
                    pass
                if console:
                    print("browser console errors:\n" + "\n".join(console[-30:]))
            context.close()
            browser.close()
