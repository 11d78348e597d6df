"""The Explorer in a real JupyterLab + Chromium: click a candidate, see the summary and graph change.

The notebook shows an Explorer on the seed MNIST net with one more candidate for ``conv1``
(a 5x5 conv that keeps the shape: more parameters) and a ``head`` choice (10 or 16 classes:
another output shape). The seed's 5x5/stride-3 ``conv1`` breaks ``fc1``: the failing combination.
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
    ("markdown", "# nasnb Explorer browser test"),
    '''\
import torch
import torch.nn.functional as F
from torch import nn

import nasnb
from nasnb import mutables

torch.set_num_threads(1)
_ = torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = mutables.LayerChoice([
            nn.Conv2d(1, 32, 3, 1),
            nn.Conv2d(1, 32, 5, 1, padding=1),  # same shape, more parameters
            nn.Conv2d(1, 32, 5, 3),  # the seed's 5x5 / stride 3: fc1 no longer fits
        ])
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.conv3 = nn.Conv2d(64, 64, 1, 1)
        self.skipcon = mutables.InputChoice(n_candidates=1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.head = mutables.LayerChoice([nn.Linear(128, 10), nn.Linear(128, 16)])

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = self.conv2(x)
        x0 = self.skipcon([x])
        x = self.conv3(x)
        if x0 is not None:
            x += x0
        x = F.max_pool2d(x, 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.head(x), dim=1)''',
    '''\
explorer = nasnb.Explorer(Net(), torch.zeros(1, 1, 28, 28), repeats=1, seed=0)
explorer''',
]

PARAMS_0 = "1,204,042 / 1,207,770"  # conv1 3x3 (320), head 10 (1,290); unchosen: 832 + 832 + 2,064
PARAMS_1 = "1,204,554 / 1,207,770"  # conv1 5x5 padded: 832 instead of 320
PARAMS_2 = "1,205,328 / 1,207,770"  # and the 16-class head: 2,064 instead of 1,290


def _src(locator) -> str:
    return locator.get_attribute("src") or ""


def test_explorer_click_updates_summary_graph_and_shows_errors(lab_server, browser_page, tmp_path):
    write_notebook(tmp_path / "explorer.ipynb", CELLS)
    server = lab_server(tmp_path)
    page = browser_page

    open_notebook(page, server, "explorer")
    run_all_cells(page)

    panel = page.locator(".nasnb-explorer")
    expect(panel).to_be_visible()
    expect(panel.locator(".nasnb-header")).to_contain_text("search space size 12")
    summary = panel.locator(".nasnb-summary")
    expect(summary).to_contain_text(PARAMS_0)
    expect(summary).to_contain_text("(1, 10)")
    graph = panel.locator("img.nasnb-graph")
    expect(graph).to_have_attribute("src", re.compile(r"^blob:|^data:"))
    src0 = _src(graph)

    conv1 = panel.locator(".nasnb-key-conv1")
    conv1.get_by_role("button", name="1", exact=True).click()
    expect(summary).to_contain_text(PARAMS_1)  # round trip through the kernel
    expect(conv1.get_by_role("button", name="1", exact=True)).to_have_class(re.compile(r"\bmod-active\b"))
    expect(graph).not_to_have_attribute("src", src0)  # redrawn with the new active path

    src1 = _src(graph)
    panel.locator(".nasnb-key-head").get_by_role("button", name="1", exact=True).click()
    expect(summary).to_contain_text("(1, 16)")
    expect(summary).to_contain_text(PARAMS_2)
    expect(graph).not_to_have_attribute("src", src1)  # the image arrives after the summary
    save_screenshot(panel, "explorer_after_clicks")

    # the seed's 5x5 / stride 3 conv1: fails in fc1; shown, then rolled back to the last good choice
    conv1.get_by_role("button", name="2", exact=True).click()
    error = panel.locator(".nasnb-error")
    expect(error).to_contain_text("mat1 and mat2 shapes cannot be multiplied")
    expect(error).to_contain_text("keys changed last: conv1=2")
    expect(error).to_contain_text("rolled back to the last good architecture")
    expect(conv1.get_by_role("button", name="1", exact=True)).to_have_class(re.compile(r"\bmod-active\b"))
    expect(summary).to_contain_text(PARAMS_2)
    save_screenshot(panel, "explorer_error")

    # still usable: the skip checkbox works and clears the error
    panel.locator(".nasnb-key-skipcon input[type='checkbox']").uncheck()
    expect(error).to_have_text("")

    assert_no_stderr(page)
    shutdown_kernel(page)
