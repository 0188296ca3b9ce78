"""The demo's story: days 2 and 3 report exactly the injected changes, nothing for noise."""

from __future__ import annotations

import json

from inventag_pipeline.aws.simulator import SimulatedAccount, SimulatorServer
from inventag_pipeline.demo import demo_dates, run_demo_on


def test_demo_reports_exactly_the_injected_changes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INVENTAG_STORAGE_URI", str(tmp_path / "store"))
    with SimulatorServer() as server:
        code = run_demo_on(SimulatedAccount(server.url), state_dir=tmp_path / "state")
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("Exactly the injected changes? yes") == 2
    day2, day3 = demo_dates(3)[1:]
    summary = json.loads((tmp_path / "store" / "deltas" / "account=123456789012" / f"date={day2}" /
                          "summary.json").read_text())
    assert summary["counts"]["change_type"] == {"added": 5, "removed": 3, "modified": 4, "replaced": 0}  # + its ENI
    assert summary["counts"]["severity"]["critical"] == 2
    assert {h["name"] for h in summary["security_changes"]["high_risk_resources"]} == {
        "web-sg", "acme-prod-web-assets-use1"}
    markdown = (tmp_path / "store" / "changelogs" / "account=123456789012" / f"date={day3}" /
                "changelog.md").read_text()
    assert "Database made publicly accessible" in markdown
    assert "### Replaced resources" in markdown and "prod-api-2" in markdown
    assert "prod-email-outbound" not in markdown and "orders-webhook" not in markdown
