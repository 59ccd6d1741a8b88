// textlrp viewer. Plain JavaScript, no build step, no external resources.
// Every piece of data (tokens, texts, class names, corpus fields) enters the page through
// textContent or element properties; the page never parses data as HTML.
"use strict";

const state = {
  info: null,
  view: "explain",
  lastExplain: null, // the request body of the heatmaps on screen
  corpusPage: 1,
  corpusTotal: 0,
};

const OPTION_NAMES = ["eps", "bias_factor", "product_rule", "steps", "mode"];
const DEFAULT_METHODS = ["lrp", "gradient_x_input"];

// ------------------------------------------------------------------ DOM helpers
function $(id) { return document.getElementById(id); }

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node) { node.replaceChildren(); return node; }

function fmt(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const text = Number(value).toFixed(digits);
  return value > 0 ? "+" + text : text;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const type = response.headers.get("content-type") || "";
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    if (type.includes("json")) {
      const body = await response.json();
      if (body && body.error) message = body.error;
    }
    throw new Error(message);
  }
  return type.includes("json") ? response.json() : response;
}

function postJSON(path, body) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

function fillSelect(select, items, selected) {
  clear(select);
  for (const item of items) {
    const [value, label] = Array.isArray(item) ? item : [item, item];
    select.append(el("option", { value, textContent: label }));
  }
  if (selected !== undefined && selected !== null) select.value = selected;
}

// ------------------------------------------------------------------ URL state
function readURL() { return new URLSearchParams(window.location.search); }

function writeURL(params, push = false) {
  const clean = new URLSearchParams();
  for (const [key, value] of params) if (value !== "" && value !== null) clean.set(key, value);
  const url = "?" + clean.toString().replace(/%2C/g, ",");
  if (url !== window.location.search) {
    (push ? history.pushState : history.replaceState).call(history, null, "", url);
  }
}

function settingsParams() {
  const params = new URLSearchParams();
  params.set("model", $("model").value);
  params.set("methods", checkedMethods().join(","));
  params.set("target", $("target").value);
  for (const name of OPTION_NAMES) params.set(name, $("opt-" + name).value);
  if ($("dtype").value !== "float32") params.set("dtype", $("dtype").value);
  return params;
}

function applySettings(params) {
  const info = state.info;
  if (params.get("model") && info.models.some((m) => m.name === params.get("model"))) {
    $("model").value = params.get("model");
  }
  updateTargets(params.get("target"));
  const methods = params.get("methods");
  if (methods !== null) {
    const wanted = new Set(methods.split(",").filter(Boolean));
    for (const box of document.querySelectorAll("#methods input")) box.checked = wanted.has(box.value);
  }
  for (const name of OPTION_NAMES) {
    if (params.has(name)) $("opt-" + name).value = params.get(name);
  }
  if (params.get("dtype")) $("dtype").value = params.get("dtype");
}

// ------------------------------------------------------------------ settings panel
function checkedMethods() {
  return [...document.querySelectorAll("#methods input:checked")].map((box) => box.value);
}

function currentModel() {
  return state.info.models.find((m) => m.name === $("model").value) || state.info.models[0];
}

function updateTargets(selected) {
  const names = currentModel().class_names;
  const previous = selected !== undefined ? selected : $("target").value;
  fillSelect($("target"), [["predicted", "predicted class"], ...names.map((n) => [n, n])]);
  $("target").value = names.includes(previous) ? previous : "predicted";
}

function currentOptions() {
  const options = {};
  const eps = $("opt-eps").value.trim();
  if (eps !== "") options.eps = Number(eps);
  const delta = $("opt-bias_factor").value;
  if (delta !== "") options.bias_factor = Number(delta);
  if ($("opt-product_rule").value) options.product_rule = $("opt-product_rule").value;
  const steps = $("opt-steps").value.trim();
  if (steps !== "") options.steps = Number(steps);
  if ($("opt-mode").value) options.mode = $("opt-mode").value;
  return options;
}

function buildSettings() {
  const info = state.info;
  fillSelect($("model"), info.models.map((m) => m.name), info.default_model);
  const box = $("methods");
  for (const method of info.methods) {
    const input = el("input", {
      type: "checkbox", value: method.name, checked: DEFAULT_METHODS.includes(method.name),
    });
    box.append(el("label", { title: method.description }, input, " " + method.name));
  }
  updateTargets("predicted");
  $("model").addEventListener("change", () => { updateTargets(); rerun(); });
  for (const id of ["target", "opt-eps", "opt-bias_factor", "opt-product_rule", "opt-steps",
    "opt-mode", "dtype"]) {
    $(id).addEventListener("change", rerun);
  }
  box.addEventListener("change", rerun);
  $("text").maxLength = info.limits.max_chars;
  $("compare-text").maxLength = info.limits.max_chars;
}

function rerun() {
  if (state.view === "explain" && $("text").value.trim()) runExplain();
  else if (state.view === "compare" && $("compare-text").value.trim()) runCompare();
  else syncURL();
}

// ------------------------------------------------------------------ heatmaps
function legend(scale, targetName) {
  const colors = state.info.colors;
  const bar = el("span", { className: "bar", role: "img", ariaLabel: "blue-white-red colour scale" });
  bar.style.background = `linear-gradient(to right, ${colors.negative}, ${colors.zero}, ${colors.positive})`;
  const meaning = scale > 0 ? "" : " (all relevance is zero)";
  return el("div", { className: "legend" },
    el("span", {}, scale > 0 ? fmt(-scale) : ""), bar, el("span", {}, scale > 0 ? fmt(scale) : ""),
    el("span", {}, "red: evidence for ", el("b", {}, targetName), ", blue: against it" + meaning));
}

function tokenSpans(tokens, unknown, row, label) {
  const box = el("div", { className: "tokens" });
  tokens.forEach((token, i) => {
    const value = row.relevance[i];
    const share = row.scale > 0 ? Math.round((100 * value) / row.scale) : 0;
    let tip = `relevance ${fmt(value, 4)} (${share}% of max)`;
    if (unknown && unknown[i]) tip += ", not in the vocabulary";
    const span = el("span", {
      className: "tok" + (unknown && unknown[i] ? " unk" : ""),
      title: tip,
      textContent: token,
      dataset: { relevance: String(value), index: String(i) },
      style: { backgroundColor: row.colors[i], color: row.text_colors[i] },
    });
    span.addEventListener("mouseenter", () => {
      $("hover-readout").textContent = `${label}: “${token}” ${tip}`;
    });
    if (i > 0) box.append(" ");
    box.append(span);
  });
  return box;
}

function heatmapRow(tokens, unknown, row, extra) {
  const label = el("div", { className: "heat-label" }, row.method);
  const options = Object.entries(row.options || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  if (options) label.append(" ", el("span", { className: "options" }, `(${options})`));
  if (extra) label.append(" ", el("span", { className: "options" }, extra));
  const sum = el("div", { className: "legend" },
    `sum of relevance ${fmt(row.sum, 4)}` +
    (row.initial_state_relevance ? `; on the initial state ${fmt(row.initial_state_relevance, 4)}` : "") +
    (row.bias_relevance ? `; on biases ${fmt(row.bias_relevance, 4)}` : ""));
  return el("div", { className: "heat-row", dataset: { method: row.method } },
    label, tokenSpans(tokens, unknown, row, row.method), legend(row.scale, row.target_name), sum);
}

function predictionTable(result, onPick) {
  const body = el("tbody");
  result.class_names.forEach((name, k) => {
    const roles = [];
    if (k === result.target) roles.push("explained");
    if (k === result.predicted) roles.push("predicted");
    const p = result.probabilities[k];
    const tr = el("tr", {
      className: [k === result.target ? "target" : "", k === result.predicted ? "predicted" : ""].join(" ").trim(),
      title: `explain the class ${name}`,
      dataset: { className: name },
    },
    el("td", {}, name),
    el("td", { className: "num" }, p.toFixed(3)),
    el("td", {}, el("span", { className: "probbar", style: { width: `${Math.round(p * 8)}em` } })),
    el("td", { className: "num" }, result.scores[k].toFixed(3)),
    el("td", {}, roles.join(", ")));
    if (onPick) tr.addEventListener("click", () => onPick(name));
    body.append(tr);
  });
  return el("table", { className: "prediction" },
    el("thead", {}, el("tr", {}, el("th", {}, "class"), el("th", {}, "probability"), el("th", {}, ""),
      el("th", {}, "score"), el("th", {}, ""))),
    body);
}

// ------------------------------------------------------------------ explain view
function explainRequest(text) {
  return {
    text,
    model: $("model").value,
    methods: checkedMethods(),
    target: $("target").value,
    options: currentOptions(),
    dtype: $("dtype").value,
  };
}

let explainSerial = 0;

async function runExplain() {
  const text = $("text").value;
  syncURL();
  if (!text.trim()) { showError("Type or paste a text to explain."); return; }
  const body = explainRequest(text);
  const serial = ++explainSerial;
  $("explain-status").textContent = "explaining…";
  $("explain-button").disabled = true;
  try {
    const result = await postJSON("/api/explain", body);
    if (serial !== explainSerial) return;
    showError("");
    state.lastExplain = body;
    renderExplain(result);
    $("explain-status").textContent =
      `${result.tokens.length} tokens, ${result.rows.length} method(s), model ${result.model}`;
  } catch (error) {
    if (serial !== explainSerial) return;
    showError(error.message);
    $("explain-status").textContent = "";
  } finally {
    if (serial === explainSerial) $("explain-button").disabled = false;
  }
}

function renderExplain(result) {
  const unknownCount = result.unknown.filter(Boolean).length;
  clear($("prediction")).append(
    el("p", { className: "muted small" },
      `Prediction: ${result.predicted_name}. Explaining: ${result.target_name}. ` +
      "Click a class to explain it instead." +
      (unknownCount ? ` ${unknownCount} word(s) unknown to the model (dotted underline).` : "")),
    predictionTable(result, (name) => { $("target").value = name; runExplain(); }));
  const rows = clear($("heatmaps"));
  for (const row of result.rows) rows.append(heatmapRow(result.tokens, result.unknown, row));
  $("export").hidden = false;
  $("export-status").textContent = "";
}

async function exportBlob(format) {
  const response = await postJSON(`/api/export/${format}`, state.lastExplain);
  return response.blob();
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function onExport(action) {
  const status = $("export-status");
  status.textContent = "working…";
  try {
    if (action === "link-copy") {
      await navigator.clipboard.writeText(window.location.href);
      status.textContent = "link copied";
      return;
    }
    if (!state.lastExplain) throw new Error("explain a text first");
    if (action === "png-download") download(await exportBlob("png"), "textlrp-explanation.png");
    if (action === "html-download") download(await exportBlob("html"), "textlrp-explanation.html");
    if (action === "png-copy") {
      const blob = await exportBlob("png");
      await navigator.clipboard.write([new ClipboardItem({ "image/png": blob })]);
    }
    if (action === "html-copy") {
      const blob = await exportBlob("html");
      await navigator.clipboard.writeText(await blob.text());
    }
    status.textContent = action.endsWith("copy") ? "copied" : "downloaded";
  } catch (error) {
    status.textContent = `could not ${action.replace("-", " ")}: ${error.message}`;
  }
}

// ------------------------------------------------------------------ compare view
function buildCompare() {
  const models = state.info.models.map((m) => m.name);
  const methods = state.info.methods.map((m) => m.name);
  fillSelect($("left-model"), models, models[0]);
  fillSelect($("right-model"), models, models[models.length > 1 ? 1 : 0]);
  fillSelect($("left-method"), methods, "lrp");
  fillSelect($("right-method"), methods, methods.includes("gradient_x_input") ? "gradient_x_input" : methods[0]);
  for (const id of ["left-model", "right-model", "left-method", "right-method"]) {
    $(id).addEventListener("change", rerun);
  }
}

async function runCompare() {
  const text = $("compare-text").value;
  syncURL();
  if (!text.trim()) { showError("Type or paste a text to compare on."); return; }
  $("compare-status").textContent = "explaining…";
  const sides = ["left", "right"].map((side) => ({
    side,
    body: {
      text,
      model: $(`${side}-model`).value,
      methods: [$(`${side}-method`).value],
      target: $("target").value,
      options: currentOptions(),
      dtype: $("dtype").value,
    },
  }));
  try {
    const results = await Promise.all(sides.map((s) => postJSON("/api/explain", s.body)));
    showError("");
    results.forEach((result, i) => {
      const pane = clear($(`compare-${sides[i].side}`));
      pane.append(
        el("h3", {}, `${result.model} · ${result.rows[0].method}`),
        el("p", { className: "muted small" },
          `predicted ${result.predicted_name}; explaining ${result.target_name}`),
        predictionTable(result, null),
        heatmapRow(result.tokens, result.unknown, result.rows[0]));
    });
    $("compare-status").textContent = "";
  } catch (error) {
    showError(error.message);
    $("compare-status").textContent = "";
  }
}

// ------------------------------------------------------------------ corpus view
function corpusInfo() {
  const index = Number($("corpus-select").value || 0);
  return state.info.corpora.find((c) => c.index === index);
}

function buildCorpus() {
  const corpora = state.info.corpora;
  $("corpus-none").hidden = corpora.length > 0;
  $("corpus-form").hidden = corpora.length === 0;
  fillSelect($("corpus-select"), corpora.map((c) => [String(c.index), `${c.name} (${c.rows} rows)`]));
  updateCorpusFilters();
  $("corpus-select").addEventListener("change", () => { updateCorpusFilters(); state.corpusPage = 1; loadCorpus(); });
  $("corpus-form").addEventListener("submit", (event) => {
    event.preventDefault(); state.corpusPage = 1; loadCorpus();
  });
  for (const id of ["corpus-predicted", "corpus-label", "corpus-method", "corpus-misclassified",
    "corpus-sort", "corpus-order"]) {
    $(id).addEventListener("change", () => { state.corpusPage = 1; loadCorpus(); });
  }
  $("corpus-prev").addEventListener("click", () => { state.corpusPage -= 1; loadCorpus(); });
  $("corpus-next").addEventListener("click", () => { state.corpusPage += 1; loadCorpus(); });
  $("corpus-aggregate").addEventListener("click", () => loadAggregate());
}

function updateCorpusFilters() {
  const info = corpusInfo();
  if (!info) return;
  const any = [["", "any"]];
  fillSelect($("corpus-predicted"), [...any, ...info.class_names.map((n) => [n, n])]);
  fillSelect($("corpus-label"), [...any, ...info.label_names.map((n) => [n, n])]);
  fillSelect($("corpus-method"), [...any, ...info.methods.map((n) => [n, n])]);
}

function corpusParams() {
  const params = new URLSearchParams();
  params.set("q", $("corpus-q").value);
  params.set("predicted", $("corpus-predicted").value);
  params.set("label", $("corpus-label").value);
  params.set("method", $("corpus-method").value);
  params.set("misclassified", $("corpus-misclassified").value);
  params.set("sort", $("corpus-sort").value);
  params.set("order", $("corpus-order").value);
  params.set("word", $("corpus-word").value);
  params.set("page", String(state.corpusPage));
  return params;
}

let corpusSerial = 0;

async function loadCorpus() {
  const info = corpusInfo();
  if (!info) return;
  syncURL();
  const params = corpusParams();
  const query = new URLSearchParams();
  for (const [key, value] of params) if (value !== "") query.set(key, value);
  query.set("page_size", "20");
  const serial = ++corpusSerial;
  $("corpus-summary").textContent = "loading…";
  try {
    const result = await api(`/api/corpora/${info.index}/documents?${query}`);
    if (serial !== corpusSerial) return;
    showError("");
    renderCorpusTable(result, params.get("word"));
  } catch (error) {
    if (serial !== corpusSerial) return;
    showError(error.message);
    $("corpus-summary").textContent = "";
  }
}

function renderCorpusTable(result, word) {
  state.corpusTotal = result.total;
  const pages = Math.max(1, Math.ceil(result.total / result.page_size));
  $("corpus-summary").textContent = `${result.total} matching rows`;
  $("corpus-page").textContent = `page ${result.page} of ${pages}`;
  $("corpus-prev").disabled = result.page <= 1;
  $("corpus-next").disabled = result.page >= pages;
  const headers = ["row", "id", "text", "predicted", "P", "label", "target", "method", "score"];
  if (word) headers.push(`relevance of “${word}”`);
  const head = clear(document.querySelector("#corpus-table thead tr"));
  for (const h of headers) head.append(el("th", {}, h));
  const body = clear(document.querySelector("#corpus-table tbody"));
  for (const row of result.rows) {
    const tr = el("tr", { dataset: { row: String(row.row) } },
      el("td", { className: "num" }, row.row),
      el("td", {}, row.id ?? ""),
      el("td", { className: "text" }, row.snippet),
      el("td", {
        className: row.misclassified ? "wrong" : "",
        title: row.misclassified ? "misclassified: the label differs" : "",
      }, row.predicted_name ?? ""),
      el("td", { className: "num" }, row.probability === null ? "–" : row.probability.toFixed(3)),
      el("td", {}, row.label_name ?? "–"),
      el("td", {}, row.target_name ?? ""),
      el("td", {}, row.method ?? ""),
      el("td", { className: "num" }, row.score === null ? "–" : row.score.toFixed(3)));
    if (word) tr.append(el("td", { className: "num" }, fmt(row.word_relevance, 4)));
    tr.addEventListener("click", () => openDocument(row.row));
    body.append(tr);
  }
}

async function openDocument(row) {
  const info = corpusInfo();
  state.corpusDoc = row;
  syncURL();
  for (const tr of document.querySelectorAll("#corpus-table tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.row === String(row));
  }
  try {
    const result = await api(`/api/corpora/${info.index}/documents/${row}`);
    showError("");
    renderDocument(result);
  } catch (error) {
    showError(error.message);
  }
}

function renderDocument(result) {
  const box = clear($("corpus-document"));
  box.hidden = false;
  const first = result.records[0];
  const meta = el("dl");
  const fields = [
    ["id", first.id], ["row", result.row], ["predicted", first.predicted_name],
    ["label", first.label_name ?? "–"],
    ["probabilities", (first.probabilities || []).map((p) => p.toFixed(3)).join(", ")],
  ];
  for (const [k, v] of fields) meta.append(el("dt", {}, k), el("dd", {}, v));
  const live = el("button", { type: "button", id: "explain-live" }, "Explain this text live");
  live.addEventListener("click", () => {
    $("text").value = first.text ?? "";
    showView("explain");
    syncURL(true);
    runExplain();
  });
  box.append(el("h3", {}, `Document ${first.id ?? ""}`), meta,
    el("details", {}, el("summary", {}, "original text"), el("pre", {}, first.text ?? "")), live);
  for (const record of result.records) {
    const heat = record.heatmap;
    if (!heat || heat.error) {
      box.append(el("p", { className: "error" }, `row ${record.method}: ${heat ? heat.error : "no relevance"}`));
      continue;
    }
    let options = {};
    try { options = JSON.parse(record.options || "{}"); } catch (e) { options = {}; }
    const row = { ...heat, method: record.method, options, target_name: record.target_name };
    box.append(heatmapRow(heat.tokens, heat.unknown, row,
      `explaining ${record.target_name}; score ${fmt(record.score, 3)}`));
  }
  box.scrollIntoView({ block: "nearest" });
}

async function loadAggregate() {
  const info = corpusInfo();
  const method = $("corpus-method").value;
  const box = clear($("corpus-aggregate-view"));
  box.hidden = false;
  box.append(el("p", { className: "muted" }, "computing top words…"));
  const query = new URLSearchParams({ top: "8" });
  if (method) query.set("method", method);
  try {
    const result = await api(`/api/corpora/${info.index}/aggregate?${query}`);
    clear(box).append(el("h3", {}, `Top words per class${method ? " (" + method + ")" : ""}`),
      el("p", { className: "muted small" },
        `mean relevance for the explained class over words seen at least ${result.min_count} times`));
    const grid = el("div", { className: "classes" });
    for (const cls of result.classes) {
      const table = el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "word"),
        el("th", {}, "mean"), el("th", {}, "n"))));
      for (const [title, items] of [["most for", cls.top], ["most against", cls.bottom]]) {
        const body = el("tbody", {}, el("tr", {}, el("th", { colSpan: 3 }, title)));
        for (const item of items) {
          body.append(el("tr", {}, el("td", {}, item.token),
            el("td", { className: "num" }, fmt(item.mean)),
            el("td", { className: "num" }, item.count)));
        }
        table.append(body);
      }
      grid.append(el("div", {}, el("h4", {}, cls.name), table));
    }
    box.append(grid);
  } catch (error) {
    clear(box);
    showError(error.message);
  }
}

// ------------------------------------------------------------------ reports menu
function buildReports() {
  const list = $("reports-list");
  if (!state.info.reports.length) {
    list.append(el("li", { className: "muted" }, "no reports found beside this server"));
  }
  for (const report of state.info.reports) {
    list.append(el("li", {}, el("a", { href: report.url, target: "_blank", rel: "noopener" }, report.title)));
  }
}

// ------------------------------------------------------------------ views and URL
function syncURL(push = false) {
  const params = new URLSearchParams();
  params.set("view", state.view);
  if (state.view === "explain") {
    params.set("text", $("text").value);
    for (const [k, v] of settingsParams()) params.set(k, v);
  } else if (state.view === "compare") {
    params.set("text", $("compare-text").value);
    for (const [k, v] of settingsParams()) if (k !== "methods") params.set(k, v);
    for (const id of ["left-model", "left-method", "right-model", "right-method"]) {
      params.set(id.replace("-", "_"), $(id).value);
    }
  } else if (state.view === "corpus") {
    params.set("corpus", $("corpus-select").value);
    for (const [k, v] of corpusParams()) params.set(k, v);
    if (state.corpusDoc !== undefined && state.corpusDoc !== null) params.set("doc", String(state.corpusDoc));
  }
  writeURL(params, push);
}

function showView(view) {
  state.view = ["explain", "compare", "corpus"].includes(view) ? view : "explain";
  for (const section of document.querySelectorAll(".view")) {
    section.hidden = section.id !== `view-${state.view}`;
  }
  for (const link of document.querySelectorAll("nav a[data-view]")) {
    link.classList.toggle("active", link.dataset.view === state.view);
  }
  $("side-panel").hidden = state.view === "corpus";
  $("methods").hidden = state.view === "compare"; // each compare pane picks its own method
}

function restoreFromURL() {
  const params = readURL();
  showView(params.get("view") || "explain");
  applySettings(params);
  const text = params.get("text") || "";
  if (state.view === "explain") {
    $("text").value = text;
    if (text.trim()) runExplain();
  } else if (state.view === "compare") {
    $("compare-text").value = text;
    for (const id of ["left-model", "left-method", "right-model", "right-method"]) {
      const value = params.get(id.replace("-", "_"));
      if (value && [...$(id).options].some((o) => o.value === value)) $(id).value = value;
    }
    if (text.trim()) runCompare();
  } else if (state.view === "corpus" && state.info.corpora.length) {
    if (params.get("corpus")) { $("corpus-select").value = params.get("corpus"); updateCorpusFilters(); }
    const setters = { q: "corpus-q", predicted: "corpus-predicted", label: "corpus-label",
      method: "corpus-method", misclassified: "corpus-misclassified", sort: "corpus-sort",
      order: "corpus-order", word: "corpus-word" };
    for (const [key, id] of Object.entries(setters)) if (params.has(key)) $(id).value = params.get(key);
    state.corpusPage = Math.max(1, Number(params.get("page") || 1));
    loadCorpus();
    if (params.get("doc") !== null && params.get("doc") !== "") openDocument(Number(params.get("doc")));
  }
}

async function start() {
  try {
    state.info = await api("/api/info");
  } catch (error) {
    showError(`could not reach the textlrp server: ${error.message}`);
    return;
  }
  $("server-info").textContent = `textlrp ${state.info.version} · ${state.info.models.length} model(s)`;
  buildSettings();
  buildCompare();
  buildCorpus();
  buildReports();
  $("explain-form").addEventListener("submit", (event) => { event.preventDefault(); runExplain(); });
  $("compare-form").addEventListener("submit", (event) => { event.preventDefault(); runCompare(); });
  for (const button of document.querySelectorAll("[data-export]")) {
    button.addEventListener("click", () => onExport(button.dataset.export));
  }
  for (const link of document.querySelectorAll("nav a[data-view]")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      if (state.view === "explain" && link.dataset.view === "compare") $("compare-text").value = $("text").value;
      if (state.view === "compare" && link.dataset.view === "explain") $("text").value = $("compare-text").value;
      showView(link.dataset.view);
      syncURL(true);
      if (state.view === "corpus" && state.info.corpora.length && !state.corpusTotal) loadCorpus();
    });
  }
  window.addEventListener("popstate", restoreFromURL);
  restoreFromURL();
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
