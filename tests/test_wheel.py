"""spotdiff as a user installs it: an sdist, a wheel built from that sdist, installed into a
fresh virtual environment, run from a directory outside the checkout. The heavy dependencies
come from this machine (--system-site-packages); spotdiff itself only from the wheel."""

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from test_generate_modes import OUTLINE

REPO = Path(__file__).resolve().parent.parent
PACKAGE_DATA = [
    "spotdiff/configs/default.yaml", "spotdiff/configs/categories.yaml",
    "spotdiff/configs/operators/typography.yaml", "spotdiff/configs/splits/test.yaml",
    "spotdiff/renderer/page_script.js", "spotdiff/report/index.html.j2",
    "spotdiff/report/report.js", "spotdiff/sampleweb/site/manifest.json",
    "spotdiff/sampleweb/site/index.html", "spotdiff/eval/prompts/predict-v1.txt",
]


def run(cmd, **kwargs):
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
    return done


def test_sdist_and_wheel_install_and_generate_outside_the_checkout(tmp_path):
    dist = tmp_path / "dist"
    run([sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
         "b.build_sdist(sys.argv[1])", str(dist)], cwd=REPO)
    (sdist,) = dist.glob("spotdiff-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert set(PACKAGE_DATA) | {"Makefile", "scripts/install-browser.sh"} <= names
    assert sum(n.startswith("spotdiff/sampleweb/site/") for n in names) >= 90

    # the wheel is built from the sdist, so the sdist alone must be enough to build it (with
    # the setuptools of the test extra: no build isolation, so no index is needed)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(sdist)], cwd=tmp_path)
    (wheel,) = dist.glob("spotdiff-*.whl")
    assert set(PACKAGE_DATA) <= set(zipfile.ZipFile(wheel).namelist())

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)])
    python, spotdiff = venv / "bin" / "python", venv / "bin" / "spotdiff"
    run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--force-reinstall", "--disable-pip-version-check", str(wheel)])

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"HF_HUB_OFFLINE": "1"}
    where = run([str(python), "-c", "import spotdiff; print(spotdiff.__file__)"],
                cwd=elsewhere, env=env).stdout.strip()
    assert Path(where).is_relative_to(venv), where  # not the editable install, not the checkout

    listed = run([str(spotdiff), "operators"], cwd=elsewhere, env=env).stdout
    assert "font_weight" in listed and "border_color" in listed

    # a user config next to its own operator file, plus the bundled catalogue by name
    (elsewhere / "my-ops").mkdir()
    (elsewhere / "my-ops" / "outline.yaml").write_text(yaml.safe_dump({"operators": [OUTLINE]}))
    (elsewhere / "run.yaml").write_text("operators: [operators, my-ops]\n"
                                        "clip: {backend: none}\n")
    listed = run([str(spotdiff), "operators", "--config", "run.yaml"], cwd=elsewhere,
                 env=env).stdout
    assert "outline" in listed and "font_weight" in listed

    run([str(spotdiff), "generate", "--site", "sample", "--out", "ds", "--pairs", "3",
         "--no-diff", "1", "--max-pages", "2", "--workers", "1", "--config", "run.yaml"],
        cwd=elsewhere, env=env)
    table = pq.read_table(sorted((elsewhere / "ds" / "data").glob("*.parquet")))
    assert table.num_rows >= 2
    assert set(table["task_type"].to_pylist()) == {"visual_diff", "no_diff"}
    assert all(url.startswith("http://127.0.0.1:") for url in table["url"].to_pylist())
    assert table["clip_distance"].null_count == table.num_rows  # the signal is off: null
