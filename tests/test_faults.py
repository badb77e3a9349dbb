"""The fault table: each fault injected into a real run (real Chromium, pages on 127.0.0.1, the
`spotdiff` command in its own process), and what the run does about it: the counted reason, the
rows lost, and whether the same command run again completes the run exactly. The README's fault
table is these assertions.

Timeouts are short (render.load_timeout_s 8 s) so hanging pages cost seconds, and the
renderer's JavaScript heap is capped at 64 MB so the page that allocates without end crashes its
renderer quickly instead of eating the machine's memory.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest
import yaml
from fault_site import serve_faults

FAST = {"render": {"load_timeout_s": 8, "page_budget_s": 45}, "clip": {"backend": "none"},
        "browser": {"extra_args": ["--js-flags=--max-old-space-size=64"]}}

# path -> what the run must count for it: "loaded" (rows kept) or the skip reason
PAGE_FAULTS = {
    "basic.html": "loaded",
    "catalogue.html": "loaded",
    "missing.html": "http_error",  # 404
    "error.html": "http_error",  # 500
    "loop.html": "too_many_redirects",
    "offsite.html": "host_not_allowed",  # a redirect to another host
    "stalls.html": "page_timeout",  # never finishes loading
    "nav_away.html": "navigated_away",
    "dialogs.html": "loaded",  # alert, confirm, print: dismissed
    "popups.html": "loaded",  # window.open, each pop-up opening another: closed at once
    "huge.html": "loaded",  # 50,000 elements
    "animated.html": "unstable",  # an endless requestAnimationFrame animation
    "spin.html": "page_timeout",  # while (true) after load
    "crash.html": "renderer_crashed",  # allocates until the renderer dies
}
PROCESS_PAGES = ["basic.html", "catalogue.html", "dialogs.html"]


@pytest.fixture(scope="module")
def site():
    with serve_faults() as base:
        yield base


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("faults") / "fast.yaml"
    path.write_text(yaml.safe_dump(FAST))
    return path


def urls_file(directory: Path, base: str, names) -> Path:
    path = directory / "urls.txt"
    path.write_text("".join(f"{base}{name} test\n" for name in names))
    return path


def command(urls: Path, out: Path, config: Path, pairs: int, no_diff: int) -> list[str]:
    return [sys.executable, "-m", "spotdiff", "generate", "--urls-file", str(urls), "--out",
            str(out), "--pairs", str(pairs), "--no-diff", str(no_diff), "--workers", "2",
            "--seed", "5", "--config", str(config)]


def spotdiff(cmd: list[str], expect: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ | {
        "HF_HUB_OFFLINE": "1"}, timeout=240)
    assert done.returncode == expect, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done


def dataset(out: Path) -> list[tuple]:
    table = pq.read_table(sorted((out / "data").glob("*.parquet")))
    return [(r["id"], r["task_type"], r["image_after"]["bytes"]) for r in table.to_pylist()]


def markers(out: Path) -> dict[int, dict]:
    return {int(p.stem.split("-")[1]): json.loads(p.read_text())
            for p in (out / ".run" / "units").glob("unit-*.json")}


def outcome(marker: dict) -> str:
    pages = marker["stats"]["pages"]
    return "loaded" if pages.get("loaded") else next(iter(pages.get("skipped", {"?": 1})))


def test_page_faults_are_skipped_with_their_reason_and_lose_no_rows(site, config, tmp_path):
    urls = urls_file(tmp_path, site, PAGE_FAULTS)
    out = tmp_path / "ds"
    cmd = command(urls, out, config, pairs=28, no_diff=2)  # more than the pages can give
    spotdiff(cmd)
    found = markers(out)
    assert {name: outcome(found[i]) for i, name in enumerate(PAGE_FAULTS)} == PAGE_FAULTS
    for i, name in enumerate(PAGE_FAULTS):
        part_rows = pq.read_metadata(out / ".run" / "units" / f"unit-{i:06d}.parquet").num_rows
        assert (part_rows > 0) == (PAGE_FAULTS[name] == "loaded"), name
    rows = dataset(out)
    # rows lost: none; every row a finished page made is in the dataset
    assert sum(r[1] == "visual_diff" for r in rows) == sum(len(m["visual"])
                                                          for m in found.values())
    assert sum(r[1] == "no_diff" for r in rows) == sum(m["no_diff"] for m in found.values())
    stats = json.loads((out / "stats.json").read_text())
    expected_skips = {}
    for reason in PAGE_FAULTS.values():
        if reason != "loaded":
            expected_skips[reason] = expected_skips.get(reason, 0) + 1
    assert stats["pages"]["skipped"] == expected_skips

    spotdiff(cmd)  # the same command again: every unit is finished, the same rows
    assert dataset(out) == rows
    assert json.loads((out / "stats.json").read_text())["resumed_units"] == len(PAGE_FAULTS)


@pytest.fixture(scope="module")
def reference(site, config, tmp_path_factory):
    """The uninterrupted run the process faults are compared with."""
    root = tmp_path_factory.mktemp("reference")
    urls = urls_file(root, site, PROCESS_PAGES)
    spotdiff(command(urls, root / "ds", config, pairs=6, no_diff=1))
    return urls, dataset(root / "ds")


def start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env=os.environ | {"HF_HUB_OFFLINE": "1"})


def wait_for_units(out: Path, proc: subprocess.Popen, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if len(markers(out)) >= n:
            return
        time.sleep(0.05)
    raise AssertionError("the run ended or stalled before the fault could be injected")


def _cmdline(process: psutil.Process) -> list[str]:
    """[] for a child that has just exited (a zombie until its parent reaps it)."""
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def test_sigkill_of_one_worker_loses_nothing(reference, config, tmp_path):
    urls, rows = reference
    out = tmp_path / "ds"
    proc = start(command(urls, out, config, pairs=6, no_diff=1))
    deadline = time.monotonic() + 60
    workers = []
    while not workers and time.monotonic() < deadline:
        workers = [p for p in psutil.Process(proc.pid).children()
                   if "spawn_main" in " ".join(_cmdline(p))]
        time.sleep(0.1)
    while time.monotonic() < deadline and not (out / ".run" / "units").exists():
        time.sleep(0.05)
    time.sleep(1.0)  # the worker has a page in hand
    workers[0].send_signal(signal.SIGKILL)
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr
    assert dataset(out) == rows


def test_sigint_then_rerun_and_a_truncated_part_is_redone(reference, config, tmp_path):
    urls, rows = reference
    out = tmp_path / "ds"
    cmd = command(urls, out, config, pairs=6, no_diff=1)
    proc = start(cmd)
    wait_for_units(out, proc, 1)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole process group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr[-3000:]
    assert "interrupted; finished pages are kept" in stderr
    assert not (out / "stats.json").exists()
    spotdiff(cmd)
    assert dataset(out) == rows

    part = out / ".run" / "units" / "unit-000000.parquet"
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    done = spotdiff(cmd)
    assert "redoing the unit" in done.stderr
    assert json.loads((out / "stats.json").read_text())["resumed_units"] == len(PROCESS_PAGES) - 1
    assert dataset(out) == rows


def test_a_full_output_disk_stops_cleanly_and_the_rerun_completes(reference, config, tmp_path):
    urls, rows = reference
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        out = mount / "ds"
        cmd = command(urls, out, config, pairs=6, no_diff=1)
        failed = spotdiff(cmd, expect=1)
        message = " ".join(failed.stderr.split())
        assert "run stopped: cannot write" in message and "No space left on device" in message
        assert str(out / ".run" / "units" / "unit-") in failed.stderr.replace("\n", "")
        assert not list(out.rglob("*.tmp"))  # nothing half-written
        assert not list(out.glob("data/*.parquet"))  # no part of a dataset either
        subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)
        spotdiff(cmd)
        assert dataset(out) == rows
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
        shutil.rmtree(mount, ignore_errors=True)
