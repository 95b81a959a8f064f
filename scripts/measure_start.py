"""Time from starting the app as scripts/run.sh does (`python -m ui.launch run app.py`) to the first
page drawn in headless Chromium.

Usage: .venv/bin/python scripts/measure_start.py [--db PATH] [--runs 3] [--jobs as-is|due|done]
Starts the app on a free loopback port against PATH (a copy of the demo
database by default), opens it in /usr/bin/chromium, and reports the seconds
until (a) the sign-in form is drawn and (b) after signing in, the pipeline
page's table is drawn. Prints JSON, with the load average beside the figures.

--jobs: the first start of a day runs the daily jobs (pool sweep, lifecycle;
after the sign-in page is drawn). `due` clears the copy's "ran on" date so
every run is such a first start; `done` runs the jobs on the copy before the
clock starts; `as-is` (default) leaves the copy as the file is.

Before each start the copy is flushed to disk (`os.sync`, not timed), so the
kernel writing back the copy, or a benchmark's just-written file, does not
land inside the measured start.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm_core import bootstrap, demo, settings  # noqa: E402
from crm_core.access import Actor  # noqa: E402
from crm_core.db import Database  # noqa: E402


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(db_path: Path, jobs: str) -> None:
    """Make the copy's daily jobs due (`due`) or already done today (`done`)."""
    if jobs == "as-is":
        return
    db = bootstrap.open_app_database(str(db_path), demo_if_missing=False)
    try:
        if jobs == "due":
            settings.put(db, Actor.system(), "system.daily_jobs_ran_on", None)
        else:
            bootstrap.run_daily_jobs(db)
    finally:
        db.close()


def measure(db_path: Path, browser) -> dict:
    port = _port()
    env = {**os.environ, "CRM_DB_PATH": str(db_path)}
    # the user's browser is open with an empty tab before the app starts: opening it is not the app's time
    # (a new renderer process costs ~0.5 s of CPU, which on 2 cores slowed the server start beside it)
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto("about:blank")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ui.launch", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        health = f"http://127.0.0.1:{port}/_stcore/health"
        while True:
            try:
                with urllib.request.urlopen(health, timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if time.perf_counter() - t0 > 60:
                    raise
                time.sleep(0.02)
        server_up = time.perf_counter() - t0
        while True:
            try:
                page.goto(f"http://127.0.0.1:{port}", timeout=10_000)
                break
            except Exception:  # noqa: BLE001 - server not up yet
                if time.perf_counter() - t0 > 60:
                    raise
                time.sleep(0.05)
        bundle_loaded = time.perf_counter() - t0
        page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
        login_drawn = time.perf_counter() - t0
        page.get_by_role("textbox", name="Login name").fill("manager1")
        page.get_by_role("textbox", name="Password").fill(demo.DEMO_PASSWORD)
        t1 = time.perf_counter()
        page.get_by_role("button", name="Sign in").click()
        page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=30_000)
        first_page = time.perf_counter() - t1
        ctx.close()
        return {"start_to_server_up_s": round(server_up, 3), "start_to_bundle_loaded_s": round(bundle_loaded, 3), "start_to_login_drawn_s": round(login_drawn, 3), "sign_in_to_pipeline_drawn_s": round(first_page, 3)}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", choices=("as-is", "due", "done"), default="as-is",
                    help="daily jobs due at start (first start of the day) or already done today")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            src = Path(args.db)
        else:
            src = Path(tmp) / "demo.duckdb"
            db = Database(src)
            t = time.perf_counter()
            demo.generate(db)
            gen = time.perf_counter() - t
            db.close()
            print(json.dumps({"demo_generation_s": round(gen, 3)}))
        results = []
        synced: list[float] = []
        load_before = os.getloadavg()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                         args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            for i in range(args.runs):
                copy = Path(tmp) / f"run{i}.duckdb"
                shutil.copy(src, copy)
                prepare(copy, args.jobs)
                # The copy (and, inside `crm bench`, the file the bench has just written) is
                # hundreds of MB of unwritten pages, which the kernel would flush 30 s later,
                # in the middle of the next start. A user's first start does not coincide
                # with a benchmark's writes: flush them before the clock starts.
                t_sync = time.perf_counter()
                os.sync()
                synced.append(round(time.perf_counter() - t_sync, 2))
                results.append(measure(copy, browser))
            browser.close()
        for key in results[0]:
            vals = [r[key] for r in results]
            print(json.dumps({key: {"median": statistics.median(vals), "runs": vals}}))
        print(json.dumps({"jobs": args.jobs, "sync_before_start_s": synced, "load_average_before_after": [
            [round(x, 2) for x in load_before], [round(x, 2) for x in os.getloadavg()]]}))


if __name__ == "__main__":
    main()
