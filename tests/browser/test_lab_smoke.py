"""Smoke test of the browser harness: a widget round trip through a real JupyterLab kernel."""

from __future__ import annotations

import re

from .lab import (
    assert_no_stderr,
    expect,
    open_notebook,
    run_all_cells,
    save_screenshot,
    shutdown_kernel,
    write_notebook,
)

SMOKE_CELLS = [
    ("markdown", "# nasnb browser smoke test"),
    '''\
import ipywidgets as widgets

toggle = widgets.ToggleButtons(options=["relu", "tanh"], value="relu", description="op")
label = widgets.HTML(value="<b>chosen: relu</b>")

def on_change(change):
    label.value = f"<b>chosen: {change['new']}</b>"

toggle.observe(on_change, names="value")
box = widgets.VBox([toggle, label])
box.add_class("nasnb-smoke")
box''',
    'print("stdout is fine")',
]


def test_toggle_updates_label(lab_server, browser_page, tmp_path):
    write_notebook(tmp_path / "smoke.ipynb", SMOKE_CELLS)
    server = lab_server(tmp_path)
    page = browser_page

    open_notebook(page, server, "smoke")
    run_all_cells(page)

    box = page.locator(".nasnb-smoke")
    expect(box).to_be_visible()
    label = box.locator(".widget-html")
    expect(label).to_have_text("chosen: relu")

    # the observer runs in the kernel: the label only changes after a full front end <-> kernel trip
    box.get_by_role("button", name="tanh").click()
    expect(label).to_have_text("chosen: tanh")
    expect(box.get_by_role("button", name="tanh")).to_have_class(re.compile(r"\bmod-active\b"))

    assert_no_stderr(page)
    save_screenshot(box, "lab_smoke_toggle")
    shutdown_kernel(page)
