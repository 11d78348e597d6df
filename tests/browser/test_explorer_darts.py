"""The Explorer on a DARTS-sized space (36 keys, 5 cells) in a real JupyterLab + Chromium.

Toggles an edge op (a dropdown) and a node's inputs (checkboxes), clicks quickly, provokes a
refusal (unchecking below n_chosen) and recovers; checks that the control rows neither
overlap nor clip their key names, using the elements' bounding boxes.
"""

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

CELLS = [
    ("markdown", "# nasnb Explorer on a DARTS space"),
    '''\
import torch

import nasnb
from nasnb import spaces

torch.set_num_threads(1)
_ = torch.manual_seed(0)
net = spaces.DARTS.small()
explorer = nasnb.Explorer(net, torch.zeros(1, 3, 32, 32), repeats=1, seed=0)
explorer''',
]


def _params(summary) -> str:
    text = summary.inner_text()
    return re.search(r"parameters \(active / total\)\s*([\d,]+ / [\d,]+)", text).group(1)


def test_explorer_on_a_darts_space(lab_server, browser_page, tmp_path):
    write_notebook(tmp_path / "darts.ipynb", CELLS)
    server = lab_server(tmp_path)
    page = browser_page
    open_notebook(page, server, "darts")
    run_all_cells(page)

    panel = page.locator(".nasnb-explorer")
    expect(panel).to_be_visible()
    expect(panel.locator(".nasnb-header")).to_contain_text("36 keys")
    summary = panel.locator(".nasnb-summary")
    expect(summary).to_contain_text("(1, 10)")
    save_screenshot(panel, "explorer_darts")

    # rows: no two overlap, no key name clipped
    boxes = page.evaluate("""() => [...document.querySelectorAll('.nasnb-explorer .nasnb-choice')].map(e => {
        const r = e.getBoundingClientRect();
        const b = e.querySelector('b');
        return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
                clipped: b ? b.scrollWidth > b.parentElement.clientWidth + 1 : false,
                key: b ? b.textContent : ''};
    })""")
    assert len(boxes) == 36
    assert not [b["key"] for b in boxes if b["clipped"]], "key names clipped"
    ordered = sorted(boxes, key=lambda b: b["top"])
    overlaps = [(a["key"], b["key"]) for a, b in zip(ordered, ordered[1:]) if b["top"] < a["bottom"] - 1]
    assert not overlaps, f"control rows overlap: {overlaps[:5]}"
    assert all(b["bottom"] - b["top"] >= 18 for b in boxes), "a row is squashed"

    # an edge op: the dropdown of normal_n2_p0 (8 candidates)
    before = _params(summary)
    edge = panel.locator(".nasnb-key-normal_n2_p0 select")
    edge.select_option(label="sep_conv_5x5")
    expect(summary).not_to_contain_text(before)
    after_edge = _params(summary)

    # rapid clicks on a node's inputs: the panel settles on the last state
    node = panel.locator(".nasnb-key-normal_n4_switch input[type='checkbox']")
    for i in (2, 3, 2, 3, 2):
        node.nth(i).click()
    # the kernel keeps exactly two checked (it unchecks the oldest): wait for its answer, then for the settle
    page.wait_for_function("""() => document.querySelectorAll(
        '.nasnb-explorer .nasnb-key-normal_n4_switch input[type=checkbox]:checked').length === 2""")
    expect(panel.locator(".nasnb-busy")).to_have_text("", timeout=30_000)
    checked = [node.nth(i).is_checked() for i in range(4)]
    assert sum(checked) == 2
    expect(summary).to_contain_text("(1, 10)")

    # refusal: unchecking below n_chosen=2 shows why, the control stays; the next good change clears it
    first_checked = checked.index(True)
    node.nth(first_checked).click()  # refused: it stays checked
    error = panel.locator(".nasnb-error")
    expect(error).to_contain_text("exactly 2 input(s) must stay chosen")
    expect(node.nth(first_checked)).to_be_checked()  # the kernel puts it back
    edge.select_option(label="max_pool_3x3")
    expect(error).to_have_text("")
    expect(summary).not_to_contain_text(after_edge)
    save_screenshot(panel, "explorer_darts_after")

    # buttons give feedback
    panel.locator(".nasnb-reset").click()
    expect(panel.locator(".nasnb-status")).to_contain_text(re.compile(r"reset: \d+ key\(s\) changed"))
    panel.locator(".nasnb-reset").click()
    expect(panel.locator(".nasnb-status")).to_contain_text("reset: already the defaults")

    assert_no_stderr(page)
    shutdown_kernel(page)
