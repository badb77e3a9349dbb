"""`spotdiff eval predict|judge|score` with the real `openai` client against a chat-completions
server on 127.0.0.1 that answers deterministically: a scripted vision model that recognises each
pair by its images, and a scripted judge that reads our judge prompt. Some first attempts get a
429 or a 500, so the backoff is exercised; the metrics are checked against counts made here."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from spotdiff.cli import app
from spotdiff.eval.items import EvalItem
from spotdiff.eval.predict import answer_of
from spotdiff.eval.records import Hallucination, JudgeLabel, Judgment, MutationVerdict
from spotdiff.eval.score import score

KEY = "sk-test-key"
VLM, JUDGE = "scripted-vlm", "scripted-judge"
HALLUCINATION = "- A purple banner appeared at the bottom of the page."


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _png(part: dict) -> bytes:
    url = part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    return base64.b64decode(url.split(",", 1)[1])


class Script:
    """What the scripted models answer, decided from each row's position in the dataset:
    visual pair v names its element and change type when v % 3 == 0 (correct), only its element
    when v % 3 == 1 (partial), and says "No difference." otherwise (missed); pair 1 also claims
    a change that is not there. No-diff control c: 0 says "No difference.", 1 hallucinates,
    2 answers nothing, 3 only thinks (an unclosed reasoning block). The judge's first reply
    about visual pair 0 is not JSON, and about pair 6 it never gives the right number of
    verdicts (so 6, otherwise correct, is a malformed miss)."""

    def __init__(self, rows: list[dict]):
        self.by_images = {}
        visual = [r for r in rows if r["task_type"] == "visual_diff"]
        controls = [r for r in rows if r["task_type"] == "no_diff"]
        self.role = {}
        for v, r in enumerate(visual):
            self.role[r["id"]] = ("visual", v)
        for c, r in enumerate(controls):
            self.role[r["id"]] = ("control", c)
        for r in rows:
            key = (_sha(r["image_before"]["bytes"]), _sha(r["image_after"]["bytes"]))
            assert key not in self.by_images
            self.by_images[key] = r
        self.rows = {r["id"]: r for r in rows}

    def answer(self, row: dict) -> str:
        kind, k = self.role[row["id"]]
        if kind == "control":
            return ["No difference.", HALLUCINATION, "", "<think>Let me look at the header"][k]
        m = json.loads(row["mutation_dicts_json"][0])
        lines = [f"- The {m['element']} looks different: its {m['type'].replace('_', ' ')} "
                 "changed.", f"- Something about the {m['element']} looks different.",
                 "No difference."][k % 3]
        return lines + ("\n" + HALLUCINATION if k == 1 else "")

    def expected_hit(self, row_id: str) -> bool:
        kind, k = self.role[row_id]
        return k == 0 if kind == "control" else (k % 3 == 0 and k != 6)


class Server:
    def __init__(self, script: Script):
        self.script = script
        self.lock = threading.Lock()
        self.calls: Counter = Counter()  # (model, id) -> requests
        self.answered: Counter = Counter()  # (model, id) -> 200 replies
        self.orders: list[list[str]] = []
        self.reversed = 0
        self.retry_notes = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, payload, headers = server.reply(self.path, self.headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/v1"

    @staticmethod
    def _error(status: int, message: str) -> tuple[int, dict, dict]:
        return status, {"error": {"message": message, "type": "error", "code": status}}, {}

    def reply(self, path: str, headers, body: dict) -> tuple[int, dict, dict]:
        if path != "/v1/chat/completions":
            return self._error(404, f"no route {path}")
        if headers.get("Authorization") != f"Bearer {KEY}":
            return self._error(401, "invalid API key")
        assert body["temperature"] == 0
        assert body["max_completion_tokens"] >= 8192  # thinking models need room
        (message,) = body["messages"]
        if body["model"] == VLM:
            row_id, content = self._vlm(message["content"])
        elif body["model"] == JUDGE:
            row_id, content = self._judge(message["content"])
        else:
            return self._error(404, f"The model `{body['model']}` does not exist.")
        with self.lock:
            self.calls[body["model"], row_id] += 1
            attempt = self.calls[body["model"], row_id]
        role = (body["model"], *self.script.role[row_id])
        if attempt == 1 and role in ((VLM, "visual", 0), (VLM, "visual", 4)):
            return 429, self._error(429, "slow down")[1], {"Retry-After": "0"}
        if attempt == 1 and role in ((VLM, "visual", 2), (JUDGE, "visual", 3)):
            return self._error(500, "try again")
        with self.lock:
            self.answered[body["model"], row_id] += 1
        return 200, {
            "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}, {}

    def _vlm(self, content: list[dict]) -> tuple[str, str]:
        with self.lock:
            self.orders.append([part["type"] for part in content])
        images = [_png(part) for part in content if part["type"] == "image_url"]
        first, second = (_sha(png) for png in images)
        row = self.script.by_images.get((first, second))
        if row is None:  # the after image first?
            row = self.script.by_images[second, first]
            with self.lock:
                self.reversed += 1
        return row["id"], self.script.answer(row)

    def _judge(self, prompt: str) -> tuple[str, str]:
        changes = json.loads(prompt.split("nothing was changed):\n", 1)[1]
                             .split("\n\nThe same in words:", 1)[0])
        answer = prompt.split("<<<\n", 1)[1].split("\n>>>", 1)[0]
        row_id = next(i for i, r in self.script.rows.items()
                      if r["ground_truth_diff"] in prompt or (
                          not changes and self.script.answer(r) == answer
                          and r["task_type"] == "no_diff"))
        kind, k = self.script.role[row_id]
        with self.lock:
            attempt = self.calls[JUDGE, row_id] + 1
            if "was not valid" in prompt:
                self.retry_notes += 1
        if kind == "visual" and (k == 6 or (k == 0 and attempt == 1)):
            return row_id, 'Sure! {"mutations": [], "hallucinations": []}' if k == 6 else \
                "I think the answer is correct."
        lines = [re.sub(r"^- ", "", line) for line in answer.splitlines() if line.strip()]
        verdicts, used = [], set()
        for m in changes:
            verdict = "missed"
            for n, line in enumerate(lines):
                if m["element"] in line:
                    used.add(n)
                    verdict = "correct" if m["type"].replace("_", " ") in line else "partial"
            verdicts.append({"type": m["type"], "verdict": verdict, "evidence": ""})
        hallucinations = [{"claim": line, "type": "color" if "purple" in line else "other"}
                          for n, line in enumerate(lines)
                          if n not in used and line != "No difference."]
        return row_id, "```json\n" + json.dumps(
            {"mutations": verdicts, "hallucinations": hallucinations}) + "\n```"


@pytest.fixture(scope="module")
def rows(sample_dataset):
    files = sorted((sample_dataset / "data").glob("*.parquet"))
    return pq.read_table(files).to_pylist()


@pytest.fixture(scope="module")
def server(rows):
    s = Server(Script(rows))
    yield s
    s.http.shutdown()


def invoke(*args: str):
    return CliRunner().invoke(app, ["eval", *args], env={"OPENAI_API_KEY": KEY})


@pytest.fixture(scope="module")
def evaluated(sample_dataset, server, tmp_path_factory):
    """predict (interrupted by --limit, then resumed), judge (twice) and score, as run by hand."""
    out = tmp_path_factory.mktemp("eval")
    preds, judged, scores = out / "predictions.jsonl", out / "judgments.jsonl", out / "scores.json"
    common = ["--base-url", server.url, "--concurrency", "3"]
    first = invoke("predict", str(sample_dataset), "--model", VLM, "--out", str(preds),
                   "--limit", "5", *common)
    assert first.exit_code == 0, first.output
    assert len(preds.read_text().splitlines()) == 5
    resumed = invoke("predict", str(sample_dataset), "--model", VLM, "--out", str(preds), *common)
    assert resumed.exit_code == 0, resumed.output
    assert "8 pairs asked, 5 already in the file, 13 in the dataset" in " ".join(
        resumed.output.split())
    judge_args = ["judge", str(sample_dataset), "--predictions", str(preds), "--model", JUDGE,
                  "--out", str(judged), *common]
    judge_run = invoke(*judge_args)
    assert judge_run.exit_code == 0, judge_run.output
    judge_calls = sum(n for (model, _), n in server.calls.items() if model == JUDGE)
    again = invoke(*judge_args)
    assert again.exit_code == 0
    assert "0 predictions judged, 13 already" in " ".join(again.output.split())
    assert sum(n for (m, _), n in server.calls.items() if m == JUDGE) == judge_calls
    scored = invoke("score", str(sample_dataset), "--judgments", str(judged), "--out", str(scores))
    assert scored.exit_code == 0, scored.output
    return {"preds": preds, "judged": judged, "scores": json.loads(scores.read_text()),
            "outputs": [" ".join(r.output.split()) for r in (first, resumed, judge_run, scored)]}


def test_predictions_pass_diffspots_submission_checks(evaluated, rows):
    records = [json.loads(line) for line in evaluated["preds"].read_text().splitlines()]
    required = {"id", "split", "model", "prompt_version", "prediction", "raw_response"}
    assert all(required <= r.keys() for r in records)
    assert len({r["id"] for r in records}) == len(records) == len(rows)  # unique, complete
    assert {r["prompt_version"] for r in records} == {"v1"}
    assert {r["model"] for r in records} == {VLM}
    splits = {r["id"]: r["difficulty"] for r in rows}
    assert all(r["split"] == splits[r["id"]] for r in records)
    assert all(r["prediction"].strip() for r in records if r["split"] != "no_diff")
    thinking = [r for r in records if r["raw_response"].startswith("<think>")]
    assert len(thinking) == 1 and thinking[0]["prediction"] == ""


def test_each_pair_answered_once_before_image_first_after_backoff(evaluated, server):
    vlm = {i: n for (m, i), n in server.answered.items() if m == VLM}
    assert len(vlm) == 13 and set(vlm.values()) == {1}  # resume asked nothing twice
    retried = {i for (m, i), n in server.calls.items() if m == VLM and n > 1}
    assert {server.script.role[i] for i in retried} == {("visual", 0), ("visual", 2),
                                                        ("visual", 4)}
    assert server.reversed == 0
    assert all(order == ["image_url", "image_url", "text"] for order in server.orders)
    assert "1 empty answers, 1 unparseable" in evaluated["outputs"][1]
    retries = [re.search(r"(\d+) retries", out)[1] for out in evaluated["outputs"][:2]]
    assert sum(map(int, retries)) == 3


def test_malformed_judge_replies_are_sent_back_then_counted(evaluated, server):
    judgments = [Judgment.model_validate_json(line)
                 for line in evaluated["judged"].read_text().splitlines()]
    outcome = {j.id: j.outcome for j in judgments}
    role = server.script.role
    assert sorted(role[i] for i, o in outcome.items() if o == "malformed") == [("visual", 6)]
    assert sorted(role[i] for i, o in outcome.items() if o == "empty_prediction") == [
        ("control", 2), ("control", 3)]
    judge_calls = {role[i]: n for (m, i), n in server.calls.items() if m == JUDGE}
    assert judge_calls[("visual", 0)] == 2 and judge_calls[("visual", 6)] == 3
    assert judge_calls[("visual", 3)] == 2  # a 500, then an answer
    assert server.retry_notes == 3  # each retry said what was wrong
    assert ("control", 2) not in judge_calls  # empty predictions are not sent


def test_scores_match_a_count_of_the_scripted_answers(evaluated, rows, server):
    s = evaluated["scores"]
    hits = {r["id"]: server.script.expected_hit(r["id"]) for r in rows}
    tiers = defaultdict(list)
    for r in rows:
        tiers[r["difficulty"]].append(hits[r["id"]])
    for tier in ("easy", "medium", "hard"):
        assert s["recall"][tier]["hits"] == sum(tiers[tier])
        assert s["recall"][tier]["n"] == len(tiers[tier])
    visual = [hits[r["id"]] for r in rows if r["task_type"] == "visual_diff"]
    assert (s["recall"]["diff"]["hits"], s["recall"]["diff"]["n"]) == (2, 9) == (
        sum(visual), len(visual))
    assert (s["no_diff_specificity"]["hits"], s["no_diff_specificity"]["n"]) == (1, 4)
    assert s["overall_accuracy"]["value"] == pytest.approx(3 / 13)
    assert (s["empty_predictions"], s["judge_malformed"]) == (2, 1)
    assert s["model"] == VLM and s["judge_model"] == JUDGE
    for op, rate in s["by_operator"].items():
        mine = [hits[r["id"]] for r in rows if r["operator"] == op]
        assert (rate["hits"], rate["n"]) == (sum(mine), len(mine))
    assert s["multi"] is None
    assert {i["id"]: i["hit"] for i in s["items"]} == hits
    table = evaluated["outputs"][3]
    assert "Overall accuracy" in table and "23.1% (3/13)" in table
    assert "No-Diff specificity" in table


def test_the_report_shows_the_scores_and_each_answer(evaluated, sample_dataset, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from spotdiff.config import BrowserConfig
    from spotdiff.renderer.browser import launch_browser

    scored = sample_dataset / "eval" / VLM / "scores.json"
    scored.parent.mkdir(parents=True)
    scored.write_text(json.dumps(evaluated["scores"]))
    result = CliRunner().invoke(app, ["report", str(sample_dataset), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "recall-0.png").exists()
    predictions = {i["id"]: i for i in evaluated["scores"]["items"]}
    with sync_playwright() as pw:
        browser, _ = launch_browser(pw, BrowserConfig())
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((tmp_path / "index.html").as_uri())
        expect(page.locator("#scores tbody tr")).to_have_count(1)
        expect(page.locator("#scores tbody")).to_contain_text("23.1% (3/13)")
        first_id = page.evaluate("window.SPOTDIFF.pairs[0].id")
        answer = page.locator("#pairs .card").first.locator(".answer")
        expect(answer).to_contain_text(VLM)
        expect(answer).to_contain_text("hit" if predictions[first_id]["hit"] else "miss")
        page.locator("#pairs .card .shots").first.click()
        expect(page.locator("#v-caption .answer")).to_contain_text(
            predictions[first_id]["prediction"].splitlines()[0] if predictions[first_id][
                "prediction"] else "no answer")
        browser.close()
    scored.unlink()
    scored.parent.rmdir()


def test_refused_key_and_unknown_model_fail_in_one_line(sample_dataset, server, tmp_path):
    args = ["predict", str(sample_dataset), "--base-url", server.url, "--out",
            str(tmp_path / "p.jsonl")]
    refused = CliRunner().invoke(app, ["eval", *args, "--model", VLM],
                                 env={"OPENAI_API_KEY": "wrong"})
    assert refused.exit_code == 2 and "answered 401" in refused.output
    assert "Traceback" not in refused.output
    unknown = invoke(*args, "--model", "no-such-model")
    assert unknown.exit_code == 2 and "answered 404" in unknown.output
    assert "no model 'no-such-model'" in unknown.output


def test_a_file_of_another_model_is_not_resumed(evaluated, sample_dataset, server):
    other = invoke("predict", str(sample_dataset), "--model", JUDGE, "--base-url", server.url,
                   "--out", str(evaluated["preds"]))
    assert other.exit_code == 2 and "another run's" in other.output


def test_reasoning_is_not_the_answer():
    assert answer_of("<think>hmm</think>\n- The logo moved.") == "- The logo moved."
    assert answer_of("<think>still thinking") == ""
    assert answer_of("No difference.") == "No difference."


def _item(id_: str, split: str, *changes: tuple[str, str]) -> EvalItem:
    return EvalItem(id_, split, f"sentence {id_}", tuple(
        {"type": t, "tier": tier, "element": f"element of {id_}"} for t, tier in changes))


def _judged(item: EvalItem, verdicts: list[str], hallucinated: tuple[str, ...] = (),
            outcome: str = "judged") -> Judgment:
    label = None if outcome != "judged" else JudgeLabel(
        mutations=[MutationVerdict(type=m["type"], verdict=v)
                   for m, v in zip(item.mutations, verdicts, strict=True)],
        hallucinations=[Hallucination(claim="made up", type=t) for t in hallucinated])
    return Judgment(id=item.id, split=item.split, model="m", prompt_version="v1",
                    judge_model="j", judge_prompt_version="v1", prediction="…",
                    outcome=outcome, label=label)


def test_metrics_on_a_confusion_matrix_counted_by_hand():
    e = [_item(f"e{k}", "easy", ("color", "easy")) for k in range(3)]
    m = [_item(f"m{k}", "medium", ("font_size", "medium")) for k in range(2)]
    h = [_item(f"h{k}", "hard", ("color", "hard")) for k in range(2)]
    x1 = _item("x1", "medium", ("color", "easy"), ("text", "medium"))
    x2 = _item("x2", "hard", ("font_size", "hard"), ("color", "medium"), ("text", "easy"))
    n = [_item(f"n{k}", "no_diff") for k in range(3)]
    judgments = [
        _judged(e[0], ["correct"]), _judged(e[1], ["partial"]), _judged(e[2], ["missed"]),
        _judged(m[0], ["correct"]), _judged(m[1], ["correct"], ("color",)),
        _judged(h[0], ["missed"]), _judged(h[1], [], outcome="malformed"),
        _judged(x1, ["correct", "missed"], ("text",)),
        _judged(x2, ["partial", "missed", "correct"]),
        _judged(n[0], []), _judged(n[1], [], ("other",)),
        _judged(n[2], [], outcome="empty_prediction"),
    ]
    s = score([*e, *m, *h, x1, x2, *n], judgments).to_json()
    rate = lambda r: (r["hits"], r["n"])  # noqa: E731
    # easy e0 | medium m0 m1 x1 | hard x2 | no-diff n0
    assert [rate(s["recall"][t]) for t in ("easy", "medium", "hard", "diff")] == [
        (1, 3), (3, 3), (1, 3), (5, 9)]
    assert rate(s["no_diff_specificity"]) == (1, 3)
    assert rate(s["overall_accuracy"]) == (6, 12) and s["overall_accuracy"]["value"] == 0.5
    assert (s["empty_predictions"], s["judge_malformed"]) == (1, 1)
    # mutations: color e0 ✓ e1 e2 x1 ✓ | x2 | h0 h1; font_size m0 ✓ m1 ✓ | x2; text x2 ✓ | x1
    assert {op: rate(r) for op, r in s["by_operator"].items()} == {
        "color": (2, 7), "font_size": (2, 3), "text": (1, 2)}
    assert {op: {t: rate(r) for t, r in tiers.items()}
            for op, tiers in s["by_operator_tier"].items()} == {
        "color": {"easy": (2, 4), "medium": (0, 1), "hard": (0, 2)},
        "font_size": {"medium": (2, 2), "hard": (0, 1)},
        "text": {"easy": (1, 1), "medium": (0, 1)}}
    multi = s["multi"]
    assert multi["pairs"] == 2
    assert rate(multi["mutation_recall"]) == (2, 5)
    # x1 reports 1 matched + 1 hallucinated = 2 of 2; x2 reports 2 of 3
    assert rate(multi["count_accuracy"]) == (1, 2)
    f1 = {t: (v["tp"], v["fp"], v["fn"], v["f1"]) for t, v in multi["per_type"].items()}
    assert f1 == {"color": (1, 0, 1, pytest.approx(2 / 3)), "font_size": (0, 0, 1, 0.0),
                  "text": (1, 1, 1, 0.5)}
    assert multi["macro_f1"] == pytest.approx((2 / 3 + 0 + 0.5) / 3)


def test_judge_replies_are_validated():
    from spotdiff.eval.judge import MalformedReply, parse_label

    item = _item("a", "easy", ("color", "easy"))
    reply = ('Here it is:\n```json\n{"mutations": [{"type": "x", "verdict": " Correct"}], '
             '"hallucinations": [{"claim": "a logo moved", "type": "teleport"}]}\n```')
    label = parse_label(reply, item, ["color", "position"])
    assert label.mutations[0].verdict == "correct" and label.mutations[0].type == "color"
    assert label.hallucinations[0].type == "other"
    for bad in ('{"mutations": [], "hallucinations": []}', "no JSON here",
                '{"mutations": [{"type": "color", "verdict": "maybe"}], "hallucinations": []}'):
        with pytest.raises(MalformedReply):
            parse_label(bad, item, ["color"])
