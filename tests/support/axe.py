"""axe-core, the accessibility checker, run inside a page of the real browser: its findings
of impact serious or critical, one readable line each. axe-core comes from the npm registry
as package-lock.json pins it (`make test` runs `npm ci` when node_modules lacks it); it is
injected by the tests only, never served by the dashboard."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parent.parent.parent / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def axe_findings(page: Page) -> list[str]:
    """What axe finds serious or critical on the page as it is now. The page's context must
    bypass the CSP (`bypass_csp=True`): the dashboard's `default-src 'self'` refuses the
    injected script, as it should."""
    assert AXE.exists(), f"{AXE} is missing: `make test` installs it (or run `npm ci`)"
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [
        f"{rule['impact']}: {rule['id']} ({rule['help']}) at {' '.join(node['target'])}: "
        + " ".join(node["failureSummary"].split())
        for rule in result["violations"]
        if rule["impact"] in BLOCKING
        for node in rule["nodes"]
    ]
