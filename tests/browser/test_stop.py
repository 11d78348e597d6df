"""The live view's Stop button in a real JupyterLab + Chromium: click it while a slow search runs.

The search has 60 trials of at least 0.5 s each. The test clicks Stop once the progress
bar counts a finished trial, while the cell is still running (the kernel's main thread is busy in
``run()``), and checks that the click is heard during the run ("Stopping…"), that the cell
ends early with "Stopped", and that every evaluated trial is recorded, in the journal too.
"""

from __future__ import annotations

import re

from .lab import _CURRENT, assert_no_stderr, expect, open_notebook, save_screenshot, shutdown_kernel, write_notebook

MAX_TRIALS = 60

CELLS = [
    ("markdown", "# nasnb Stop button browser test"),
    f'''\
import time

from torch import nn

import nasnb
from nasnb import mutables

net = nn.Sequential(mutables.LayerChoice([nn.Linear(4, n) for n in range(1, {MAX_TRIALS} + 1)], key="width"))


def evaluate(model):
    time.sleep(0.5)  # a slow trial
    return float(model[0].out_features)


exp = nasnb.Experiment(net, evaluate, "grid", max_trials={MAX_TRIALS}, journal="stop.jsonl", progress=True)''',
    "exp.run()",
    '''\
in_journal = exp.journal.read()
numbers = sorted(t.number for t in exp.history)
print(f"RESULT done={exp.n_done} stopped={exp.stopped} journal={len(in_journal)} "
      f"numbers_ok={numbers == list(range(exp.n_done))}")''',
]


def _start_run_all(page) -> None:
    """Start running every cell without waiting (the test acts while the search runs)."""
    page.evaluate(
        """() => {
            window.__nasnbRunAll = null;
            window.jupyterapp.commands.execute('notebook:run-all-cells').then(
                ok => { window.__nasnbRunAll = {ok: ok}; },
                err => { window.__nasnbRunAll = {error: String(err)}; });
        }"""
    )


def _wait_all_done(page, timeout: float = 180_000) -> None:
    page.wait_for_function(
        f"""() => {{
            if (!window.__nasnbRunAll) return false;
            const w = {_CURRENT};
            const k = w && w.sessionContext.session && w.sessionContext.session.kernel;
            if (!k || k.status !== 'idle') return false;
            return w.content.widgets.every(c => c.model.type !== 'code' || c.model.executionCount !== null);
        }}""",
        timeout=timeout,
    )


def test_stop_button_ends_a_running_search_early(lab_server, browser_page, tmp_path):
    write_notebook(tmp_path / "stop.ipynb", CELLS)
    server = lab_server(tmp_path)
    page = browser_page

    open_notebook(page, server, "stop")
    _start_run_all(page)

    button = page.locator("button.nasnb-stop")
    expect(button).to_be_visible(timeout=120_000)  # the run has started
    # a trial or more is done (the tqdm bar's "n/60 ["), and the cell still runs
    expect(page.locator(".jp-OutputArea-output", has_text=re.compile(rf"\b[1-9]\d*/{MAX_TRIALS}\s*\[")).first
           ).to_be_visible(timeout=120_000)
    expect(button).to_have_text(re.compile(r"^\s*Stop\s*$"))
    button.click()
    # heard while the cell still runs: the main thread shows it after the running trial
    expect(button).to_have_text(re.compile("Stopping…|Stopped"), timeout=60_000)
    expect(button).to_have_text(re.compile("Stopped"), timeout=120_000)
    _wait_all_done(page)
    save_screenshot(page.locator(".jp-Notebook"), "stop_button_stopped")

    result = page.locator(".jp-OutputArea-output", has_text=re.compile("RESULT done="))
    expect(result).to_be_visible()
    text = result.inner_text()
    m = re.search(r"RESULT done=(\d+) stopped=(\w+) journal=(\d+) numbers_ok=(\w+)", text)
    assert m, f"unexpected output: {text!r}"
    done, stopped, journal, numbers_ok = int(m[1]), m[2], int(m[3]), m[4]
    assert 1 <= done < MAX_TRIALS, f"the search did not stop early: {done} of {MAX_TRIALS} trials"
    assert stopped == "True" and numbers_ok == "True"
    assert journal == done, f"{done} trials evaluated but {journal} in the journal"
    # the run cell's repr says so too
    expect(page.locator(".jp-OutputArea-output", has_text=re.compile(r"Experiment\(GridSearch, \d+/60 trials, "
                                                                        r"0 failed, best \d+, stopped\)"))).to_be_visible()

    assert_no_stderr(page)
    shutdown_kernel(page)
