// Installed once per loaded page as window.__spotdiff: enumerates candidate elements and applies
// and reverts mutations. Every apply pushes an undo step; revert() unwinds them all.
// `table` is mechanisms.yaml as renderer/mechanisms.py gives it: each mechanism's change region
// and the flag names; every one declared there is implemented here (MECHANISMS, FLAGS).
((table) => {
  if (window.__spotdiff) return;

  const LANDMARKS = [
    ["header, [role=banner]", "header"],
    ["nav, [role=navigation]", "navigation bar"],
    ["footer, [role=contentinfo]", "footer"],
    ["aside, [role=complementary]", "sidebar"],
    ["form, [role=form], [role=search]", "form"],
    ["table", "table"],
    ["main, [role=main]", "main content"],
  ];
  const KIND_BY_TAG = {
    a: "link", button: "button", h1: "heading", h2: "heading", h3: "heading", h4: "heading",
    h5: "heading", h6: "heading", p: "paragraph", img: "image", svg: "icon", li: "list item",
    input: "input field", textarea: "text area", select: "drop-down", label: "label",
    th: "table header", td: "table cell", tr: "table row", table: "table", span: "text",
    strong: "bold text", em: "emphasised text", code: "code", pre: "code block",
    blockquote: "quote", figure: "figure", figcaption: "caption", nav: "navigation bar",
    header: "header", footer: "footer", ul: "list", ol: "list", section: "section",
    article: "article", aside: "sidebar", form: "form", small: "small text",
    i: "icon", hr: "divider", video: "video", canvas: "canvas", dt: "term", dd: "definition",
  };
  const KIND_BY_ROLE = {
    button: "button", link: "link", heading: "heading", img: "image", tab: "tab",
    checkbox: "checkbox", menuitem: "menu item", alert: "alert", navigation: "navigation bar",
  };
  const IMAGE_TAGS = new Set(["img", "svg", "picture", "canvas", "video"]);
  const CONTROL_TAGS = new Set(["button", "input", "select", "textarea"]);
  const SKIP_TAGS = new Set(["html", "body", "head", "script", "style", "noscript", "template",
    "meta", "link", "br", "wbr", "source", "track", "option", "path", "g", "defs", "use",
    "circle", "rect", "line", "polyline", "polygon", "ellipse", "stop", "lineargradient",
    "clippath", "mask", "symbol", "title", "desc", "iframe"]);

  const undo = [];
  // the elements the last collect() listed, and their boxes as the first probe found them
  let listed = [], listedRects = null;

  function uniqueSelector(el) {
    const parts = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      if (node.id && document.querySelectorAll("#" + CSS.escape(node.id)).length === 1) {
        parts.unshift("#" + CSS.escape(node.id));
        return parts.join(" > ");
      }
      if (node === document.documentElement) { parts.unshift("html"); break; }
      let index = 1;
      for (let sib = node.previousElementSibling; sib; sib = sib.previousElementSibling) {
        if (sib.localName === node.localName) index++;
      }
      parts.unshift(`${CSS.escape(node.localName)}:nth-of-type(${index})`);
    }
    return parts.join(" > ");
  }

  function xpath(el) {
    const parts = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      let index = 1;
      for (let sib = node.previousElementSibling; sib; sib = sib.previousElementSibling) {
        if (sib.localName === node.localName) index++;
      }
      const name = node.namespaceURI === "http://www.w3.org/1999/xhtml"
        ? node.localName : `*[local-name()='${node.localName}']`;
      parts.unshift(`${name}[${index}]`);
    }
    return "/" + parts.join("/");
  }

  function label(el) {
    const raw = el.getAttribute("aria-label") || el.getAttribute("alt") || el.getAttribute("title")
      || (el.tagName === "INPUT" ? (el.value || el.placeholder) : "") || el.innerText || "";
    return raw.replace(/\s+/g, " ").trim().slice(0, 60);
  }

  function hasPaint(cs) {
    const bg = cs.backgroundColor;
    const transparentBg = bg === "transparent" || /rgba\(.*,\s*0\)$/.test(bg);
    const border = ["Top", "Right", "Bottom", "Left"].some(
      (s) => parseFloat(cs["border" + s + "Width"]) > 0 && cs["border" + s + "Style"] !== "none");
    return !transparentBg || cs.backgroundImage !== "none" || border || cs.boxShadow !== "none";
  }

  // A border painted in the element's own background colour reads as more background, not a
  // border: changing it only grows the box
  function borderShows(cs) {
    const color = cs.borderTopColor;
    return !/rgba\(.*,\s*0\)$/.test(color) && color !== "transparent"
      && color !== cs.backgroundColor;
  }

  // What the element paints: its own box when it has a background, border, shadow or is
  // replaced content; else the line boxes of its text and the boxes of the images inside it
  function inkBox(el, r, cs, tag) {
    if (hasPaint(cs) || IMAGE_TAGS.has(tag)) return r;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    const add = (b) => {
      if (b.width <= 0 || b.height <= 0) return;
      x0 = Math.min(x0, b.left); y0 = Math.min(y0, b.top);
      x1 = Math.max(x1, b.right); y1 = Math.max(y1, b.bottom);
    };
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let n = 0, node = walker.nextNode(); node && n < 60; node = walker.nextNode(), n++) {
      if (!node.textContent.trim()) continue;
      range.selectNodeContents(node);
      for (const b of range.getClientRects()) add(b);
    }
    for (const img of Array.from(el.querySelectorAll("img, svg, picture, video, canvas")).slice(0, 20))
      add(img.getBoundingClientRect());
    if (x0 === Infinity) return r;
    // clipped to the element's own box (overflowing text is drawn over its neighbours' boxes)
    x0 = Math.max(x0, r.left); y0 = Math.max(y0, r.top);
    x1 = Math.min(x1, r.right); y1 = Math.min(y1, r.bottom);
    return x1 > x0 && y1 > y0 ? new DOMRect(x0, y0, x1 - x0, y1 - y0) : r;
  }

  function inFixedLayer(el) {
    for (let node = el; node && node !== document.body; node = node.parentElement) {
      const pos = getComputedStyle(node).position;
      if (pos === "fixed" || pos === "sticky") return true;
    }
    return false;
  }

  function uncovered(el, r) {
    // inset from the corners, which rounded boxes do not paint
    const points = [[0.5, 0.5], [0.2, 0.25], [0.8, 0.75]].map(
      ([fx, fy]) => [r.x + fx * r.width, r.y + fy * r.height]);
    return points.every(([x, y]) => {
      const hit = document.elementFromPoint(x, y);
      return hit && (hit === el || el.contains(hit));
    });
  }

  // Roles a person names an element by, from ARIA roles and class-name words (first match wins)
  const KIND_BY_CLASS = [
    [/progress/, "progress bar"], [/avatar/, "avatar"], [/logo/, "logo"],
    [/swatch/, "colour swatch"], [/badge|pill|chip|(^|-)tag(s)?($|-)|label-/, "badge"],
    [/(^|-)tab(s)?($|-)/, "tab"], [/thumb/, "thumbnail"], [/toggle|switch/, "toggle"],
    [/alert|toast|notice/, "alert"], [/breadcrumb/, "breadcrumb"], [/pagination|pager/, "pager"],
    [/dropdown|menu/, "menu"], [/rating|stars?($|-)/, "rating"], [/spinner|loader/, "spinner"],
    [/banner|hero/, "banner"], [/card|tile|panel/, "card"], [/(^|-)(btn|button)($|-)/, "button"],
    [/(^|-)icon($|-)|^fa-|^bi-|glyph/, "icon"], [/divider|separator/, "divider"],
  ];
  const IMAGE_ROLES = new Set(["avatar", "logo", "colour swatch", "thumbnail", "icon", "banner"]);
  const KIND_BY_ARIA = {
    progressbar: "progress bar", tab: "tab", switch: "toggle", slider: "slider", img: "image",
    button: "button", link: "link", heading: "heading", checkbox: "checkbox", alert: "alert",
    menuitem: "menu item", navigation: "navigation bar", tablist: "tab bar", status: "status",
  };

  function classWords(el) {
    const words = [];
    for (const cls of el.classList) words.push(...cls.toLowerCase().split(/__|--|_|:/));
    return words;
  }

  function kindOf(el, tag, text) {
    const aria = KIND_BY_ARIA[el.getAttribute("role")];
    if (aria) return aria;
    if (tag === "progress" || tag === "meter") return "progress bar";
    const words = classWords(el);
    // an image is named by what it shows (avatar, logo, icon), not by the box it sits in
    const roles = IMAGE_TAGS.has(tag) ? KIND_BY_CLASS.filter(([, k]) => IMAGE_ROLES.has(k))
      : KIND_BY_CLASS;
    const byClass = roles.find(([re]) => words.some((w) => re.test(w)));
    if (byClass && !(byClass[1] === "icon" && text)) {
      if ((tag === "button" || tag === "a") && byClass[1] === "icon") return "icon button";
      return byClass[1];
    }
    if ((tag === "button" || (tag === "a" && el.getAttribute("role") === "button")) && !text
        && el.querySelector("svg, img, i")) return "icon button";
    if (tag === "img" && /logo/i.test(el.getAttribute("alt") + " " + (el.currentSrc || el.src)))
      return "logo";
    if (tag === "img" && el.width <= 96 && Math.abs(el.width - el.height) <= 2) {
      const radius = getComputedStyle(el).borderTopLeftRadius;
      const round = radius.endsWith("%") ? parseFloat(radius) >= 50
        : parseFloat(radius) >= el.width / 2 - 1;
      if (round || /avatar|profile|user|gravatar/i.test(el.currentSrc || el.src)) return "avatar";
    }
    if (tag === "div" || tag === "section" || tag === "article") return text ? "text block" : "box";
    return KIND_BY_TAG[tag] || "element";
  }

  // Per listing: what ancestors hold is looked up once per ancestor, not once per descendant
  // (a page of 50,000 cells shares one container)
  let ancestorText = new Map(), ancestorHeadings = new Map();

  function textOf(node) {
    if (!ancestorText.has(node)) {
      ancestorText.set(node, (node.innerText || "").replace(/\s+/g, " ").trim());
    }
    return ancestorText.get(node);
  }

  // The short visible text nearest a textless element: its own content, else a close ancestor's
  function nearText(el) {
    let node = el;
    for (let depth = 0; node && node !== document.body && depth < 4; depth++) {
      const t = textOf(node);
      if (t) return t.slice(0, 60);
      node = node.parentElement;
    }
    return "";
  }

  function headingsIn(node) {
    if (!ancestorHeadings.has(node)) {
      ancestorHeadings.set(node, Array.from(
        node.querySelectorAll("h1, h2, h3, h4, h5, h6, [role=heading]")).filter(
        (h) => h.getClientRects().length && h.checkVisibility({ visibilityProperty: true })));
    }
    return ancestorHeadings.get(node);
  }

  // The heading of the nearest enclosing block that has one, shown on screen and before the
  // element (not its own text); never looked for beyond the element's landmark
  const LANDMARK_SELECTOR = LANDMARKS.map(([sel]) => sel).join(", ");
  function sectionOf(el) {
    for (let node = el.parentElement, depth = 0; node && node !== document.body && depth < 8;
      node = node.parentElement, depth++) {
      const heading = headingsIn(node).find(
        (h) => (h.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING)
          && !h.contains(el) && !el.contains(h));
      if (heading) {
        const t = textOf(heading);
        if (t && t.length <= 50) return t;
      }
      if (node.matches(LANDMARK_SELECTOR)) break;
    }
    return "";
  }

  // Each flag of the table: whether an element has it, from what the listing saw of it
  const FLAGS = {
    text: ({ text }) => !!text,
    short_text: ({ text }) => !!text && text.length <= 120,
    paint: ({ cs }) => hasPaint(cs),
    image: ({ tag }) => IMAGE_TAGS.has(tag),
    control: ({ el, tag }) => CONTROL_TAGS.has(tag) || el.getAttribute("role") === "button",
    leaf: ({ el }) => el.children.length === 0,
    flex: ({ cs }) => cs.display.includes("flex"),
    grid: ({ cs }) => cs.display.includes("grid"),
    border: ({ cs }) => ["Top", "Right", "Bottom", "Left"].every(
      (s) => parseFloat(cs["border" + s + "Width"]) > 0 && cs["border" + s + "Style"] !== "none")
      && borderShows(cs),
    has_image: ({ el }) => !!el.querySelector("img, svg, picture, video, canvas"),
    sibling: ({ el, tag, vw, vh }) => {
      const next = el.nextElementSibling;
      if (!next || next.localName !== tag) return false;
      const nr = next.getBoundingClientRect();
      return nr.right <= vw && nr.bottom <= vh && nr.width > 0;
    },
    classes: ({ el }) => el.classList.length > 0,
  };

  function collect(opts) {
    ancestorText = new Map(); ancestorHeadings = new Map();
    const vw = window.innerWidth, vh = window.innerHeight;
    const out = [];
    listed = []; listedRects = null;
    for (const el of document.body ? document.body.querySelectorAll("*") : []) {
      if (out.length >= opts.maxElements) break;
      const tag = el.localName;
      if (SKIP_TAGS.has(tag)) continue;
      const r = el.getBoundingClientRect();
      if (r.width < opts.minWidth || r.height < opts.minHeight) continue;
      if (r.x < 0 || r.y < 0 || r.right > vw || r.bottom > vh) continue;
      if (r.width * r.height > opts.maxAreaFraction * vw * vh) continue;
      const cs = getComputedStyle(el);
      if (cs.visibility !== "visible" || parseFloat(cs.opacity) < 0.1) continue;
      if (inFixedLayer(el) || !uncovered(el, r)) continue;
      const node = firstTextNode(el);
      const text = node ? node.textContent.replace(/\s+/g, " ").trim() : "";
      const seen = { el, cs, tag, text, vw, vh };
      const flags = table.flags.filter((name) => FLAGS[name](seen));
      const styles = {};
      for (const p of opts.properties) styles[p] = cs.getPropertyValue(p);
      const kind = kindOf(el, tag, text);
      let landmark = "";
      for (const [sel, name] of LANDMARKS) {
        if (el.closest(sel) && !el.matches(sel)) { landmark = name; break; }
      }
      // own text that is only punctuation ('»', '|') names nothing: use the element's label
      const shown = text && text.length <= 120 && /[\p{L}\p{N}]/u.test(text) ? text : label(el);
      listed.push(el);
      out.push({
        index: out.length, selector: uniqueSelector(el), xpath: xpath(el), tag, kind,
        text: shown, landmark,
        box: [Math.round(r.x), Math.round(r.y), Math.round(r.width), Math.round(r.height)],
        flags, styles, classes: Array.from(el.classList),
        src: tag === "img" ? el.currentSrc || el.src : "",
        near: shown ? "" : nearText(el), section: sectionOf(el),
        ink: ((b) => [Math.round(b.x), Math.round(b.y), Math.round(b.width), Math.round(b.height)])(
          inkBox(el, r, cs, tag)),
      });
    }
    return { elements: out, language: document.documentElement.lang || "" };
  }

  // the browser's frames: the page's own requestAnimationFrame stops with its paused clock
  const frame = window.__spotdiffFrame || requestAnimationFrame;
  const nextFrames = () => new Promise((resolve) => frame(() => frame(resolve)));

  function rect(el) {
    // a changed element can be laid out absurdly far (1e22 px), which would cross to Python as
    // a float; the gate only needs the part near the viewport
    const r = el.getBoundingClientRect();
    // + 0: Math.round(-0.4) is -0, which crosses to Python as the float -0.0
    const px = (v) => Math.max(-1e6, Math.min(1e6, Math.round(v))) + 0;
    return [px(r.x), px(r.y), px(r.width), px(r.height)];
  }

  function firstTextNode(el) {
    for (const child of el.childNodes) {
      if (child.nodeType === Node.TEXT_NODE && child.textContent.trim()) return child;
    }
    return null;
  }

  // Each mechanism of the table changes the page, pushes its undo step and returns what the
  // page now shows.
  const MECHANISMS = {
    style(el, m) {
      const before = el.getAttribute("style");
      el.style.setProperty(m.property, m.value, "important");
      undo.push(() => (before === null ? el.removeAttribute("style")
        : el.setAttribute("style", before)));
      return getComputedStyle(el).getPropertyValue(m.property);
    },
    text(el, m) {
      const node = firstTextNode(el);
      if (!node) throw new Error("no text node");
      const before = node.textContent;
      const lead = before.match(/^\s*/)[0], trail = before.match(/\s*$/)[0];
      node.textContent = lead + m.value + trail;
      undo.push(() => { node.textContent = before; });
      return node.textContent.trim();
    },
    attribute(el, m) {
      const before = el.getAttribute(m.property);
      el.setAttribute(m.property, m.value);
      if (el.localName === "img") el.removeAttribute("srcset");
      undo.push(() => (before === null ? el.removeAttribute(m.property)
        : el.setAttribute(m.property, before)));
      return el.getAttribute(m.property);
    },
    class_swap(el, m) {
      // no old class: the new one is added; the undo restores the attribute as it was
      const before = el.getAttribute("class");
      if (m.oldClass === null) {
        if (el.classList.contains(m.newClass)) throw new Error("class already on element");
        el.classList.add(m.newClass);
      } else if (!el.classList.replace(m.oldClass, m.newClass)) {
        throw new Error("class not on element");
      }
      undo.push(() => (before === null ? el.removeAttribute("class")
        : el.setAttribute("class", before)));
      return getComputedStyle(el).getPropertyValue(m.read);
    },
    rule_edit(el, m) {
      const style = ruleRefs[m.rule].style;
      const before = style.getPropertyValue(m.property);
      const priority = style.getPropertyPriority(m.property);
      style.setProperty(m.property, m.value, priority);
      undo.push(() => (before ? style.setProperty(m.property, before, priority)
        : style.removeProperty(m.property)));
      return getComputedStyle(el).getPropertyValue(m.read);
    },
    remove(el, m) {
      const parent = el.parentNode, next = el.nextSibling;
      el.remove();
      undo.push(() => parent.insertBefore(el, next));
      return "removed";
    },
    duplicate(el, m) {
      const copy = el.cloneNode(true);
      copy.removeAttribute("id");
      el.after(copy);
      undo.push(() => copy.remove());
      return "added";
    },
    swap_next(el, m) {
      const next = el.nextElementSibling;
      if (!next) throw new Error("no next sibling");
      const parent = el.parentNode;
      parent.insertBefore(next, el);
      undo.push(() => parent.insertBefore(el, next));
      return "swapped";
    },
  };

  async function apply(m) {
    if (m.revertFirst) revert();
    const el = document.querySelector(m.selector);
    if (!el) return { error: "selector_missing" };
    // DOM edits move their siblings: the change is bounded by the parent's box
    const byParent = table.mechanisms[m.mechanism].region === "parent";
    const region = byParent ? el.parentElement : el;
    const before = rect(region);
    let computed;
    try {
      computed = MECHANISMS[m.mechanism](el, m);
    } catch (e) {
      return { error: "apply_failed: " + e.message };
    }
    await nextFrames();
    const now = document.querySelector(m.selector);
    // a moved or removed element may no longer resolve by its path; its parent must still be in place
    const resolves = byParent ? region.isConnected : now === el;
    return { computed, before, after: rect(region), resolves };
  }

  // The block box whose lines an element's inline content is laid out in.
  function blockOf(el) {
    let node = el.parentElement;
    while (node && node !== document.body && getComputedStyle(node).display.startsWith("inline")) {
      node = node.parentElement;
    }
    return node;
  }

  // Layout after a change, read at once (no frame is drawn): how far the edges of the listed
  // elements that neither hold nor are held by the target moved at most, with the text around
  // it, and how far the target's own box and its lines of text did (-1: there are now more or
  // fewer of them). The change is undone before returning.
  function probe(m) {
    if (m.revertFirst) revert();
    const el = document.querySelector(m.selector);
    if (!el) return { error: "selector_missing" };
    // between tries the page shows its first frame: its boxes are read once
    if (!listedRects) listedRects = listed.map((o) => o.getBoundingClientRect());
    const others = [], othersBefore = [];
    listed.forEach((o, i) => {
      if (o === el || o.contains(el) || el.contains(o)) return;
      others.push(o);
      othersBefore.push(listedRects[i]);
    });
    const shift = (a, b) => Math.max(Math.abs(a.left - b.left), Math.abs(a.top - b.top),
      Math.abs(a.right - b.right), Math.abs(a.bottom - b.bottom));
    const vw = window.innerWidth, vh = window.innerHeight;
    const shown = (r) => r.right > 0 && r.bottom > 0 && r.left < vw && r.top < vh;
    const most = (after, before) => after.length !== before.length ? -1
      : after.reduce((far, r, i) => (
        shown(r) || shown(before[i]) ? Math.max(far, shift(r, before[i])) : far), 0);
    // and the text around it in its block: an inline element's larger text moves its line
    const block = blockOf(el), around = [];
    if (block) {
      const walk = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n && around.length < 200; n = walk.nextNode()) {
        if (!el.contains(n) && n.textContent.trim()) around.push(n);
      }
    }
    const rectsOf = (node) => {
      const range = document.createRange();
      range.selectNodeContents(node);
      return Array.from(range.getClientRects());
    };
    const aroundRects = () => around.flatMap(rectsOf);
    othersBefore.push(...aroundRects());
    const boxBefore = el.getBoundingClientRect(), linesBefore = rectsOf(el);
    const fontBefore = fontOf(el);
    try {
      MECHANISMS[m.mechanism](el, m);
    } catch (e) {
      revert();
      return { error: "apply_failed: " + e.message };
    }
    const othersShift = most(others.map((o) => o.getBoundingClientRect()).concat(aroundRects()),
      othersBefore);
    const boxShift = shift(el.getBoundingClientRect(), boxBefore);
    const textShift = most(rectsOf(el), linesBefore);
    const glyphsChange = glyphsDiffer(el, fontBefore);
    revert();
    return { othersShift, boxShift, textShift, glyphsChange };
  }

  function fontOf(el) {
    const cs = getComputedStyle(el);
    return `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
  }

  // Whether the element's text draws other glyphs in its font now than in `fontBefore`, drawn
  // on a canvas, which matches fonts as the page does (a weight its font has no face for, and
  // none synthesised, draws the same glyphs); null when its font or text is unchanged or none.
  let glyphCanvas = null;
  function glyphsDiffer(el, fontBefore) {
    const fontAfter = fontOf(el);
    const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 80);
    if (fontAfter === fontBefore || !text) return null;
    glyphCanvas = glyphCanvas || document.createElement("canvas");
    const ctx = glyphCanvas.getContext("2d", { willReadFrequently: true });
    const draw = (font) => {
      ctx.font = font;
      const m = ctx.measureText(text);
      const size = parseFloat(getComputedStyle(el).fontSize) || 16;
      glyphCanvas.width = Math.min(4096, Math.ceil(m.width) + 4);
      glyphCanvas.height = Math.min(512, Math.ceil(2 * size) + 4);
      ctx.font = font;  // resizing the canvas resets its state
      ctx.textBaseline = "top";
      ctx.fillText(text, 2, 2);
      return { width: m.width, pixels: ctx.getImageData(0, 0, glyphCanvas.width,
                                                        glyphCanvas.height).data };
    };
    const a = draw(fontBefore), b = draw(fontAfter);
    if (a.width !== b.width || a.pixels.length !== b.pixels.length) return true;
    for (let i = 3; i < a.pixels.length; i += 4) if (a.pixels[i] !== b.pixels[i]) return true;
    return false;
  }

  // No frame wait here: the next apply (which may carry the revert itself) waits for its frames,
  // and the screenshot after it shows both the revert and the new change.
  function revert() {
    while (undo.length) undo.pop()();
  }

  // The stylesheets the page applies, in document order: a linked sheet by URL (its text is
  // the response Python saw), a <style> block (or rules inserted by script) by its rules' text.
  function sheets() {
    const out = [];
    const visit = (sheet) => {
      if (sheet.disabled) return;
      const media = sheet.media ? sheet.media.mediaText : "";
      const inline = !sheet.href;
      let rules = null;
      try { rules = sheet.cssRules; } catch (e) { rules = null; }  // cross-origin
      out.push({ href: sheet.href || "", media,
        text: inline && rules ? Array.from(rules, (r) => r.cssText).join("\n") : "" });
      for (const rule of rules || []) {
        if (rule instanceof CSSImportRule && rule.styleSheet) visit(rule.styleSheet);
      }
    };
    for (const sheet of document.styleSheets) visit(sheet);
    return out;
  }

  // Style rules (of sheets the page may read) that declare one of `properties` and whose
  // selector matches exactly one element: a rule edit there changes that element alone.
  const ruleRefs = [];
  function ruleTargets(properties) {
    const out = [];
    const visit = (rules) => {
      for (const rule of rules) {
        if (rule instanceof CSSStyleRule) {
          const declared = properties.filter((p) => rule.style.getPropertyValue(p) !== "");
          if (!declared.length) continue;
          let hits;
          try { hits = document.querySelectorAll(rule.selectorText); } catch (e) { continue; }
          if (hits.length !== 1) continue;
          ruleRefs.push(rule);
          out.push({ selector: uniqueSelector(hits[0]), ruleSelector: rule.selectorText,
            rule: ruleRefs.length - 1, properties: declared });
        } else if (rule instanceof CSSMediaRule) {
          if (window.matchMedia(rule.conditionText).matches) visit(rule.cssRules);
        } else if (rule.cssRules && !(rule instanceof CSSKeyframesRule)) {
          visit(rule.cssRules);  // @supports, @layer
        }
      }
    };
    for (const sheet of document.styleSheets) {
      let rules = null;
      try { rules = sheet.cssRules; } catch (e) { continue; }  // cross-origin
      if (!sheet.disabled) visit(rules);
    }
    return out;
  }

  // the table and the implementations must name the same mechanisms and flags
  const unlike = (declared, implemented, what) => [
    ...declared.filter((n) => !(n in implemented)).map((n) => `${what} ${n} is not implemented`),
    ...Object.keys(implemented).filter((n) => !declared.includes(n))
      .map((n) => `${what} ${n} is not in mechanisms.yaml`)];
  const wrong = [...unlike(Object.keys(table.mechanisms), MECHANISMS, "mechanism"),
    ...unlike(table.flags, FLAGS, "flag")];
  if (wrong.length) throw new Error("page_script.js: " + wrong.join("; "));
  window.__spotdiff = { collect, apply, probe, revert, sheets, ruleTargets };
})
