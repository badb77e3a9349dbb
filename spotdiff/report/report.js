"use strict";
// Draws the gallery and the rejected samples from window.SPOTDIFF (pairs.js) and runs the
// full-size viewer. Plain DOM, no network: the report opens from disk.
(() => {
  const data = window.SPOTDIFF;
  const $ = (id) => document.getElementById(id);
  const esc = (value) => String(value ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const num = (v) => (v === 0 ? "0" : Math.abs(v) < 1e-3 ? v.toExponential(1) : String(Number(v.toPrecision(3))));
  const FILTERS = [["split", "split"], ["operator", "operator"], ["difficulty", "tier"],
    ["domain", "domain"], ["task_type", "task type"]];

  function boxes(item) {
    const [w, h] = item.size;
    return item.boxes.map(([x, y, bw, bh]) => `<i class="box" style="left:${(100 * x) / w}%;` +
      `top:${(100 * y) / h}%;width:${(100 * bw) / w}%;height:${(100 * bh) / h}%"></i>`).join("");
  }

  function shot(item, file, caption) {
    return `<figure><div class="frame" style="--ar:${item.size[0] / item.size[1]}">` +
      `<img loading="lazy" src="img/${item.stem}-${file}.webp" alt="${caption}">${boxes(item)}</div>` +
      `<figcaption>${caption}</figcaption></figure>`;
  }

  const tag = (text, cls = "") => `<span class="tag ${cls}">${esc(text)}</span>`;
  const tierTag = (tier) => `<span class="tag tier" style="--tc:var(--${esc(tier)})">${esc(tier)}</span>`;
  // a measure outside the gate's bounds (gate keys min_X, max_X or X: [lo, hi]) shows in red;
  // no-diff controls are not gated
  function fails(key, v) {
    const g = data.gate;
    const range = Array.isArray(g[key]) ? g[key] : [g[`min_${key}`], g[`max_${key}`]];
    return (typeof range[0] === "number" && v < range[0]) || (typeof range[1] === "number" && v > range[1]);
  }
  const metrics = (item) => Object.entries(item.metrics).map(([k, v]) =>
    `${esc(k)} <b${item.task_type !== "no_diff" && fails(k, v) ? ' class="fail"' : ""}>${num(v)}</b>`).join(" ");
  const change = (m) => `<div class="change">${esc(m.property)}: <code>${esc(m.old_value)}</code> → ` +
    `<code>${esc(m.new_value)}</code> · ${esc(m.direction)} · magnitude ${esc(m.magnitude)} · ${esc(m.element)}</div>`;

  // a model's answer (spotdiff eval) and whether the judge counted it a hit
  const answer = (a) => `<div class="answer ${a.hit ? "hit" : "miss"}"><b>${esc(a.model)}</b> ` +
    `${a.hit ? "✓ hit" : "✗ miss"}${a.verdicts.length ? ` · ${a.verdicts.map(esc).join(", ")}` : ""}` +
    `${a.outcome === "judged" ? "" : ` · ${esc(a.outcome.replace("_", " "))}`}` +
    `<span>${esc(a.prediction) || "<i>no answer</i>"}</span></div>`;
  const answers = (item) => (item.answers || []).map(answer).join("");

  function card(item, list, k, tags, detail) {
    return `<article class="card"><div class="shots" data-list="${list}" data-k="${k}">` +
      shot(item, "before", "before") + shot(item, "after", "after") + shot(item, "heat", "diff") +
      `</div><div class="info"><p class="sentence">${esc(item.sentence)}</p><div class="tags">${tags}</div>` +
      (item.mutations || []).map(change).join("") + answers(item) +
      `<div class="metrics">${metrics(item)}</div><div class="url" title="${esc(item.url)}">${esc(item.url)}</div>` +
      `<details><summary>${detail[0]}</summary><pre>${esc(JSON.stringify(detail[1], null, 1))}</pre></details>` +
      `</div></article>`;
  }

  const pairTags = (p) => tierTag(p.difficulty) + tag(p.operator) + tag(p.domain) + tag(p.task_type) +
    tag(p.split) + tag(p.language);
  const pairCard = (p, k) => card(p, "pairs", k, pairTags(p), ["mutation dicts", p.mutations]);
  const rejectCard = (r, k) => card(r, "rejects", k, tag(r.reason, "reason") + tierTag(r.tier) + tag(r.operator),
    ["candidate", { url: r.url, box: r.box, metrics: r.metrics }]);

  // gallery: filters, then one page of cards
  let page = 0;
  let shown = data.pairs;

  function buildFilters() {
    $("filters").innerHTML = FILTERS.map(([key, label]) => {
      const counts = new Map();
      for (const p of data.pairs) counts.set(p[key], (counts.get(p[key]) || 0) + 1);
      const options = [...counts].sort(([a], [b]) => String(a).localeCompare(String(b)))
        .map(([v, n]) => `<option value="${esc(v)}">${esc(v)} (${n})</option>`).join("");
      return `<label>${label}<select data-key="${key}"><option value="">all</option>${options}</select></label>`;
    }).join("");
    $("filters").addEventListener("change", () => { page = 0; renderGallery(); });
  }

  function renderGallery() {
    const chosen = [...document.querySelectorAll("#filters select")].filter((s) => s.value)
      .map((s) => [s.dataset.key, s.value]);
    shown = data.pairs.filter((p) => chosen.every(([k, v]) => String(p[k]) === v));
    const size = data.pageSize;
    const pages = Math.max(1, Math.ceil(shown.length / size));
    page = Math.min(Math.max(page, 0), pages - 1);
    const first = page * size;
    $("pairs").innerHTML = shown.slice(first, first + size).map((p, i) => pairCard(p, first + i)).join("") ||
      '<p class="empty">No pair matches these filters.</p>';
    const filtered = shown.length < data.pairs.length ? ` (filtered from ${data.pairs.length})` : "";
    $("count").textContent = shown.length
      ? `pairs ${first + 1}–${Math.min(first + size, shown.length)} of ${shown.length}${filtered}` : `0 pairs${filtered}`;
    for (const el of document.querySelectorAll(".page-info")) el.textContent = `page ${page + 1} / ${pages}`;
    for (const b of document.querySelectorAll(".pager button")) {
      b.disabled = Number(b.dataset.step) < 0 ? page === 0 : page === pages - 1;
    }
  }

  for (const b of document.querySelectorAll(".pager button")) {
    b.addEventListener("click", () => {
      page += Number(b.dataset.step);
      renderGallery();
      $("gallery").scrollIntoView();
    });
  }

  function renderRejects() {
    const root = $("reject-groups");
    if (!root) return;
    const reasons = [...new Set(data.rejects.map((r) => r.reason))];
    root.innerHTML = reasons.map((reason) => {
      const items = data.rejects.map((r, k) => [r, k]).filter(([r]) => r.reason === reason);
      const total = data.rejectTotals[reason];
      const note = (total === undefined ? "" : `${total} rejected in the run, `) + `${items.length} shown`;
      return `<div class="reject-group"><h3>${esc(reason)} <span>— ${note}</span></h3><div class="grid">` +
        items.map(([r, k]) => rejectCard(r, k)).join("") + "</div></div>";
    }).join("");
  }

  // viewer: one pair full size; slider, before/after toggle or changed pixels
  const viewer = $("viewer");
  const stage = $("stage");
  let list = [];
  let at = 0;
  let mode = "slider";
  let split = 50;
  let showAfter = true;

  function draw() {
    stage.className = mode + ($("v-boxes").checked ? "" : " noboxes");
    for (const b of document.querySelectorAll(".modes button")) b.classList.toggle("on", b.dataset.mode === mode);
    const clip = mode === "slider" ? split : showAfter ? 0 : 100;
    $("v-after").style.clipPath = `inset(0 0 0 ${clip}%)`;
    $("v-handle").style.left = `${split}%`;
    $("v-slider").value = split;
    $("v-left").textContent = mode === "diff" ? "changed pixels" : mode === "toggle" && showAfter ? "after" : "before";
    $("v-right").hidden = mode !== "slider";
  }

  function show() {
    const item = list[at];
    stage.style.setProperty("--ar", item.size[0] / item.size[1]);
    for (const side of ["before", "after", "diff"]) $(`v-${side}`).src = `img/${item.stem}-${side}.png`;
    $("v-boxlayer").innerHTML = boxes(item);
    $("v-pos").textContent = `${at + 1} / ${list.length}`;
    const what = [item.reason, item.difficulty || item.tier, item.operator, item.domain].filter(Boolean).map(esc).join(" · ");
    $("v-caption").innerHTML = `<div class="sentence">${esc(item.sentence)}</div><div>${what} · ${metrics(item)}</div>` +
      answers(item);
    $("v-prev").disabled = at === 0;
    $("v-next").disabled = at === list.length - 1;
    draw();
  }

  const step = (d) => { at = Math.min(Math.max(at + d, 0), list.length - 1); show(); };
  const close = () => { viewer.hidden = true; };
  const setMode = (m) => { mode = m; draw(); };

  document.body.addEventListener("click", (e) => {
    const shots = e.target.closest(".shots");
    if (!shots) return;
    list = shots.dataset.list === "pairs" ? shown : data.rejects;
    at = Number(shots.dataset.k);
    viewer.hidden = false;
    show();
  });
  for (const b of document.querySelectorAll(".modes button")) {
    b.addEventListener("click", () => {
      if (b.dataset.mode === "toggle" && mode === "toggle") showAfter = !showAfter;
      setMode(b.dataset.mode);
      b.blur();
    });
  }
  $("v-boxes").addEventListener("change", draw);
  $("v-prev").addEventListener("click", () => step(-1));
  $("v-next").addEventListener("click", () => step(1));
  $("v-close").addEventListener("click", close);
  viewer.addEventListener("click", (e) => { if (e.target === viewer) close(); });
  $("v-slider").addEventListener("input", () => { split = Number($("v-slider").value); setMode("slider"); });
  let dragging = false;
  const drag = (e) => {
    const rect = stage.getBoundingClientRect();
    split = Math.min(100, Math.max(0, (100 * (e.clientX - rect.left)) / rect.width));
    setMode("slider");
  };
  stage.addEventListener("pointerdown", (e) => { dragging = true; stage.setPointerCapture(e.pointerId); drag(e); });
  stage.addEventListener("pointermove", (e) => { if (dragging) drag(e); });
  stage.addEventListener("pointerup", () => { dragging = false; });
  document.addEventListener("keydown", (e) => {
    if (viewer.hidden) return;
    const keys = {
      Escape: close,
      " ": () => { showAfter = mode === "toggle" ? !showAfter : true; setMode("toggle"); },
      d: () => setMode(mode === "diff" ? "slider" : "diff"),
      b: () => { $("v-boxes").checked = !$("v-boxes").checked; draw(); },
      ArrowLeft: () => step(-1),
      ArrowRight: () => step(1),
    };
    if (!keys[e.key] || (e.target === $("v-slider") && e.key.startsWith("Arrow"))) return;
    e.preventDefault();
    keys[e.key]();
  });

  buildFilters();
  renderGallery();
  renderRejects();
})();
