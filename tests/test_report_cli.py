"""`crm report`: CSV output is safe to open in a spreadsheet; JSON keeps the values."""

import argparse
import json

import polars as pl

from crm_core.commands import report


def _args(name, fmt):
    return argparse.Namespace(name=name, format=fmt, by=None, grain=None, period=None, date_from=None,
                              date_to=None, today=None, db=None, user=None)


def _fake(db, actor, opts):
    return pl.DataFrame({"account": ["=HYPERLINK(\"http://x\")", "Acme", "@SUM(A1)"], "amount": [-5.0, 1.0, 2.0]})


def test_csv_defuses_formulas_json_does_not(monkeypatch, capsys, db):
    monkeypatch.setattr(report, "all_reports", lambda: {"fake": _fake})
    monkeypatch.setattr(report, "open_db", lambda args: db)
    report.run(_args("fake", "csv"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("\"'=HYPERLINK")
    assert lines[2] == "Acme,1.0"
    assert lines[3].startswith("'@SUM")
    assert lines[1].endswith(",-5.0")  # numbers stay numbers
    report.run(_args("fake", "json"))
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["account"].startswith("=HYPERLINK")
