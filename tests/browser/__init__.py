"""End-to-end tests: JupyterLab in a real Chromium, driven with Playwright (marker: browser)."""
