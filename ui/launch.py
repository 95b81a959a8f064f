"""Start the app: `python -m ui.launch run app.py [streamlit options]` (what scripts/run.sh does).

The same as `streamlit run`, minus one step Panorama does not need: at start-up
Streamlit reads the metadata of every installed Python package to find
third-party "v2" components (~0.45 s of a 2-core machine's ~1.1 s server
start with the test tools installed). Panorama uses none, so the scan is
skipped. While the browser then loads Streamlit's scripts (~1 s), a
background thread imports the modules the sign-in page needs, so the first
page does not wait for them either.
"""

from __future__ import annotations

import sys
import threading


def _skip_component_scan() -> None:
    try:
        from streamlit.components.v2 import manifest_scanner
    except ImportError:  # another Streamlit version: it scans, as plain `streamlit run` does
        return
    manifest_scanner.scan_component_manifests = lambda *args, **kwargs: []


def _preload() -> None:
    # the sign-in page's own modules (DuckDB, the database layer, sign-in); an error shows on the page later
    try:
        import crm_core.auth  # noqa: F401
        import ui.login  # noqa: F401
        import ui.session  # noqa: F401
    except Exception:  # noqa: BLE001 - the page itself reports it when it imports them
        pass


def main() -> None:
    _skip_component_scan()
    threading.Thread(target=_preload, name="panorama-preload", daemon=True).start()
    from streamlit.web import cli

    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
