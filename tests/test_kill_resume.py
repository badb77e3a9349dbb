"""kill -9 at a random point, then the same command again: exactly the rows of an uninterrupted
run, none lost and none repeated."""

import os
import random
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
import yaml

SOURCES = [("bs5-examples", 3), ("sb-admin-2-4.1.4", 2), ("python3.11-doc", 2),
           ("tabler-ui-0.0.34", 2)]


def command(urls_file, out, request):
    return [sys.executable, "-m", "spotdiff", "generate", "--urls-file", str(urls_file),
            "--out", str(out), *request, "--seed", "3", "--workers", "2"]


def split_request(tmp_path):
    """A split planned in waves: each wave depends on the units finished before it."""
    split = tmp_path / "mini.yaml"
    split.write_text(yaml.safe_dump({
        "quota_per_cell": 2, "operators": ["color", "opacity", "font_weight"],
        "tiers": ["easy"], "no_diff": 2, "max_pairs_per_page": 1, "max_domain_share": None}))
    return ["--split", str(split)]


def dataset(out):
    table = pq.read_table(sorted((out / "data").glob("*.parquet")))
    return [(r["id"], r["operator"], r["pixel_diff"], r["domain"], r["clip_distance"],
             r["image_after"]["bytes"])
            for r in table.to_pylist()]


@pytest.mark.parametrize("mode", ["pairs", "split"])
def test_kill_9_then_resume_gives_the_uninterrupted_rows(serve_corpus, tmp_path, mode):
    pages = serve_corpus(SOURCES)
    urls_file = tmp_path / "urls.txt"
    # the split's pages name no category: they are classified as they load
    urls_file.write_text("".join(f"{p.url} {p.domain}\n" if mode == "pairs" else f"{p.url}\n"
                                 for p in pages))
    request = (["--pairs", "27", "--no-diff", "3"] if mode == "pairs"
               else split_request(tmp_path))
    whole = subprocess.run(command(urls_file, tmp_path / "whole", request), capture_output=True,
                           text=True)
    assert whole.returncode == 0, whole.stderr
    planned = len(list((tmp_path / "whole" / ".run" / "units").glob("*.json")))

    out = tmp_path / "resumed"
    kill_after = random.randint(1, planned - 2)
    proc = subprocess.Popen(command(urls_file, out, request), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    units = out / ".run" / "units"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if units.exists() and len(list(units.glob("*.json"))) >= kill_after:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker processes, mid-run
    proc.wait()
    assert not (out / "stats.json").exists()

    done = subprocess.run(command(urls_file, out, request), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert dataset(out) == dataset(tmp_path / "whole")
    ids = [row[0] for row in dataset(out)]
    assert len(ids) == len(set(ids))
    # the split asks for 6 pairs and 2 controls of 9 pages; the gate decides how many it gets
    assert len(ids) == 30 if mode == "pairs" else len(ids) >= 4
