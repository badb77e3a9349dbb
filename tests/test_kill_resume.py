"""kill -9 at a random point, then the same command again: exactly the rows of an uninterrupted
run, none lost and none repeated."""

import os
import random
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq

SOURCES = [("bs5-examples", 3), ("sb-admin-2-4.1.4", 2), ("python3.11-doc", 2),
           ("tabler-ui-0.0.34", 2)]


def command(urls_file, out):
    return [sys.executable, "-m", "spotdiff", "generate", "--urls-file", str(urls_file),
            "--out", str(out), "--pairs", "27", "--no-diff", "3", "--seed", "3", "--workers", "2"]


def dataset(out):
    table = pq.read_table(sorted((out / "data").glob("*.parquet")))
    return [(r["id"], r["operator"], r["pixel_diff"], r["image_after"]["bytes"])
            for r in table.to_pylist()]


def test_kill_9_then_resume_gives_the_uninterrupted_rows(serve_corpus, tmp_path):
    pages = serve_corpus(SOURCES)
    urls_file = tmp_path / "urls.txt"
    urls_file.write_text("".join(f"{p.url} {p.domain}\n" for p in pages))
    subprocess.run(command(urls_file, tmp_path / "whole"), check=True, capture_output=True)

    out = tmp_path / "resumed"
    kill_after = random.randint(1, len(pages) - 2)
    proc = subprocess.Popen(command(urls_file, out), start_new_session=True,
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

    done = subprocess.run(command(urls_file, out), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert dataset(out) == dataset(tmp_path / "whole")
    ids = [row[0] for row in dataset(out)]
    assert len(ids) == len(set(ids)) == 30
