"""``/readyz`` under the embedded launcher says which supervised process is down."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from lashme.files.files_api import build_api
from lashme.ops import launcher


def test_readyz_names_a_restarting_worker_and_stays_200(tmp_path, monkeypatch):
    status = tmp_path / "processes.json"
    status.write_text(
        json.dumps(
            {
                "processes": {
                    "redis": {"state": "running", "restarts": 0},
                    "worker-0": {"state": "restarting", "restarts": 2, "last_exit": -9, "restart_in_s": 1.5},
                    "sweeper": {"state": "running", "restarts": 0},
                }
            }
        )
    )
    monkeypatch.setenv(launcher.STATUS_ENV, str(status))
    resp = TestClient(build_api()).get("/readyz")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "degraded" and body["down"] == ["worker-0"]
    assert body["processes"]["worker-0"]["last_exit"] == -9
    assert resp.headers["cache-control"] == "no-store"


def test_supervisor_status_file_reports_each_child(tmp_path):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        child = launcher.Supervised("worker-0", lambda: proc, handle=proc)
        sup = launcher.Supervisor([child], tmp_path / "processes.json")
        sup.write_status()
        assert json.loads((tmp_path / "processes.json").read_text())["processes"] == {
            "worker-0": {"state": "running", "restarts": 0}
        }
    finally:
        proc.kill()
        proc.wait()
