"use strict";
// The ivr311 admin page: plain DOM, no framework, nothing loaded from elsewhere.

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "style") node.style.cssText = value;  // a style attribute breaks the CSP
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function status(message, isError = false) {
  const box = $("#status");
  box.textContent = message;
  box.classList.toggle("error", isError);
}

for (const id of ["author", "token"]) {
  const input = $("#" + id);
  input.value = sessionStorage.getItem("ivr311-" + id) || "";
  input.addEventListener("change", () => sessionStorage.setItem("ivr311-" + id, input.value));
}

async function api(path, { method = "GET", body, auth = false } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) headers["Authorization"] = "Bearer " + $("#token").value.trim();
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const message = data && data.message ? data.message : response.status + " " + response.statusText;
    throw new Error(message);
  }
  return data;
}

function author() {
  const name = $("#author").value.trim();
  if (!name) throw new Error("enter your name first: every change is recorded with who and why");
  return name;
}

async function act(label, work) {
  try {
    const message = await work();
    status(message || label + ": done");
  } catch (error) {
    status(label + ": " + error.message, true);
  }
}

// -- results: outcome and trace ----------------------------------------------------------

function describeOutcome(outcome) {
  const where = outcome.municipality ? " (resident of " + outcome.municipality + ")" : "";
  switch (outcome.action) {
    case "transfer": return "Transfer to " + outcome.destination + where;
    case "agent": return "Host agents: " + outcome.destination + where;
    case "menu": return "Menu: " + Object.entries(outcome.options || {}).map(([d, m]) => d + " → " + m).join(", ");
    case "message": return "Message, then hang up";
    default: return outcome.action;
  }
}

function renderSimulation(target, result, heading) {
  target.replaceChildren(
    ...(heading ? [el("p", {}, heading)] : []),
    el("p", { class: "outcome" }, describeOutcome(result.outcome)),
    ...(result.websites || []).map((w) =>
      el("p", { class: "website" }, "Website read out (" + w.point.replace("_", " ") + "): " + w.owner)),
    el("ol", { class: "trace" }, ...result.trace.map((step) =>
      el("li", {}, el("b", {}, step.stage + ": "), step.evidence, " → ", step.result))),
  );
}

// -- coverage map ------------------------------------------------------------------------

async function loadMap() {
  const text = await api("/api/coverage/map.svg");
  const svg = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  const map = $("#map");
  map.replaceChildren(document.importNode(svg, true));
  map.querySelector("svg").addEventListener("click", onMapClick);
  $("#legend").replaceChildren(...[...map.querySelectorAll("path.municipality")].map((path) =>
    el("li", {}, el("span", { class: "swatch", style: "background:" + path.getAttribute("fill") }),
      path.querySelector("title")?.textContent || path.dataset.id)));
}

function pointToLatLon(svg, event) {
  const pt = svg.createSVGPoint();
  pt.x = event.clientX;
  pt.y = event.clientY;
  const local = pt.matrixTransform(svg.getScreenCTM().inverse());
  const d = svg.dataset;
  return {
    x: local.x, y: local.y,
    lon: Number(d.lonMin) + local.x * Number(d.degPerUnitX),
    lat: Number(d.latMax) - local.y * Number(d.degPerUnitY),
  };
}

async function onMapClick(event) {
  const svg = event.currentTarget;
  const p = pointToLatLon(svg, event);
  svg.querySelector("#click-marker")?.remove();
  const marker = document.createElementNS("http://www.w3.org/2000/svg", "circle");
  marker.setAttribute("id", "click-marker");
  marker.setAttribute("cx", p.x);
  marker.setAttribute("cy", p.y);
  marker.setAttribute("r", 6);
  marker.setAttribute("fill", "#c62828");
  marker.setAttribute("stroke", "#fff");
  svg.append(marker);
  const target = $("#locate-result");
  target.textContent = "Looking up " + p.lat.toFixed(4) + ", " + p.lon.toFixed(4) + "…";
  try {
    const found = await api("/api/locate?lat=" + p.lat.toFixed(6) + "&lon=" + p.lon.toFixed(6));
    const place = found.municipality
      ? (found.name || found.municipality) + (found.member ? "" : " (not a member of this line)")
      : "no municipality here";
    renderSimulation(target, found.route, p.lat.toFixed(4) + ", " + p.lon.toFixed(4) + ": " + place);
    target.dataset.municipality = found.municipality || "";
  } catch (error) {
    target.textContent = error.message;
  }
}

async function loadCoverage() {
  const table = await api("/api/coverage");
  $("#coverage-table tbody").replaceChildren(...table.exchanges.map((row) => el("tr", {},
    el("td", {}, row.exchange), el("td", {}, row.classification), el("td", {}, row.km2.toFixed(1)),
    el("td", {}, row.municipalities.map((m) => m.id + " " + Math.round(m.share * 100) + "%").join(", ")))));
}

// -- simulate ----------------------------------------------------------------------------

$("#simulate-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act("simulate", async () => {
    const body = { to: $("#sim-to").value.trim() || "311" };
    const from = $("#sim-from").value.trim();
    if (from) body.from = from;
    if ($("#sim-at").value) body.at = $("#sim-at").value;
    const press = $("#sim-press").value.trim();
    if (press) body.press = [press];
    const greeting = $("#sim-greeting").value.trim();
    if (greeting) body.greeting_key = greeting;
    const result = await api("/api/simulate", { method: "POST", body });
    renderSimulation($("#simulate-result"), result);
    return "simulated on rules version " + result.rules.version;
  });
});

// -- rule versions -----------------------------------------------------------------------

let activeVersion = null;

async function loadRules() {
  const rules = await api("/api/rules");
  activeVersion = rules.active_version;
  $("#versions tbody").replaceChildren(...rules.versions.map((v) => el("tr", { "data-version": v.version },
    el("td", {}, v.active ? "●" : ""),
    el("td", {}, v.version),
    el("td", {}, v.created_at.slice(0, 19).replace("T", " ")),
    el("td", {}, v.author),
    el("td", {}, v.comment),
    el("td", {}, v.active ? "active" : el("button", {
      class: "secondary activate", onclick: () => activate(v.version),
    }, "Activate")))));
  for (const id of ["#diff-old", "#diff-new"]) {
    const select = $(id);
    select.replaceChildren(...rules.versions.map((v) => el("option", { value: v.version }, "version " + v.version)));
  }
  if (rules.versions.length > 1) $("#diff-old").value = rules.versions[1].version;
  if (rules.versions.length > 0) $("#diff-new").value = rules.versions[0].version;
}

function activate(version) {
  act("activate", async () => {
    const who = author();
    const why = prompt("Why activate version " + version + "?");
    if (!why) throw new Error("cancelled: a reason is required");
    await api("/api/rules/" + version + "/activate", {
      method: "POST", auth: true, body: { author: who, comment: why, base_version: activeVersion },
    });
    await refresh();
    return "version " + version + " is active";
  });
}

$("#diff-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act("diff", async () => {
    const result = await api("/api/rules/diff?old=" + $("#diff-old").value + "&new=" + $("#diff-new").value);
    const lines = (result.diff || "identical\n").split("\n").map((line) =>
      el("span", { class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "" }, line + "\n"));
    $("#diff").replaceChildren(...lines);
    return "diff of version " + result.old + " → " + result.new;
  });
});

// -- emergency override ------------------------------------------------------------------

async function loadOverride() {
  const state = await api("/api/override");
  const box = $("#override-state");
  if (state.active) {
    box.className = "override-on";
    box.textContent = "ON for " + state.schedule + ": " + state.reason +
      (state.expires ? " (until " + new Date(state.expires).toLocaleString() + ")" : "");
  } else {
    box.className = "";
    box.textContent = "Off (" + state.schedule + " follows its normal hours).";
  }
}

function setOverride(active) {
  act("override", async () => {
    const reason = $("#override-reason").value.trim();
    if (!reason) throw new Error("give a reason");
    const body = { active, reason, author: author(), base_version: activeVersion };
    if (active) {
      if (!$("#override-expires").value) throw new Error("give an expiry");
      body.expires = new Date($("#override-expires").value).toISOString();
    }
    const result = await api("/api/override", { method: "POST", auth: true, body });
    await refresh();
    return "override " + (active ? "on" : "off") + ": rules version " + result.version;
  });
}

$("#override-form").addEventListener("submit", (event) => { event.preventDefault(); setOverride(true); });
$("#override-off").addEventListener("click", () => setOverride(false));

// -- calls -------------------------------------------------------------------------------

async function loadCalls() {
  const calls = await api("/api/calls?limit=20");
  $("#live-calls tbody").replaceChildren(...calls.calls.map((c) => el("tr", {},
    el("td", {}, c.call_id),
    el("td", {}, c.carried_by === "dialplan" ? `${c.state} (dialplan)` : c.state),
    el("td", {}, c.age_s + " s"),
    el("td", {}, c.caller ?? ""), el("td", {}, c.municipality ?? ""),
    el("td", {}, c.destination ?? ""))));
  $("#recent-calls tbody").replaceChildren(...calls.recent.map((c) => el("tr", {},
    el("td", {}, c.call_id ?? ""), el("td", {}, c.caller ?? ""),
    el("td", {}, c.outcome ?? ""), el("td", {}, c.destination ?? ""))));
}

// -- reports -----------------------------------------------------------------------------

function isoDate(date) {
  return date.toISOString().slice(0, 10);
}

function reportQuery() {
  return "from=" + $("#report-from").value + "&to=" + $("#report-to").value +
    "&by=" + $("#report-by").value;
}

function percent(part, whole) {
  return whole ? (100 * part / whole).toFixed(1) + "%" : "–";
}

function seconds(value) {
  return value === null ? "–" : value.toFixed(1) + " s";
}

const num = (value) => el("td", { class: "n" }, value);

async function loadReport() {
  if (!$("#report-from").value) {
    const today = new Date();
    $("#report-to").value = isoDate(today);
    $("#report-from").value = isoDate(new Date(today.getTime() - 29 * 86400000));
  }
  const query = reportQuery();
  const report = await api("/api/report?format=json&" + query);
  $("#report-html").href = "/api/report?format=html&" + query;
  $("#report-csv").href = "/api/report?format=csv&" + query;
  $("#report-overlap tbody").replaceChildren(...report.overlap.map((row) => el("tr", {},
    el("td", {}, row.exchange), num(row.offered),
    el("td", {}, row.choices.map((c) => c.municipality + " " + c.calls).join(", ")),
    num(row.no_choice))));
  const offered = report.calls_offered.total;
  const answer = report.answer_to_person;
  const figures = [
    ["Calls offered", offered],
    ...Object.entries(report.calls_offered.by_number_kind).map(([kind, n]) => ["  dialled " + kind, n]),
    ["After hours", report.after_hours + " (" + percent(report.after_hours, offered) + ")"],
    ["Greeting skipped", report.greeting_skipped + " (" + percent(report.greeting_skipped, offered) + ")"],
    ["0 for an agent", report.zero_outs.total],
    ["Abandoned", report.abandoned.total + " (" + percent(report.abandoned.total, offered) + ")"],
    ["Reached a person", answer.reached_person + " of " + answer.put_through + " put through"],
    ["Time to a person p50 / p90", seconds(answer.p50_s) + " / " + seconds(answer.p90_s)],
    ...report.service_level.map((s) => ["Within " + s.threshold_s + " s",
      s.within + " (" + (s.share === null ? "–" : (100 * s.share).toFixed(1) + "%") + ")"]),
  ];
  $("#report-summary tbody").replaceChildren(...figures.map(([name, value]) =>
    el("tr", {}, el("td", {}, name), num(value))));
  $("#report-transfers tbody").replaceChildren(...report.transfers.map((row) => el("tr", {},
    el("td", {}, row.destination), num(row.attempts), num(row.results.connected),
    num(row.results.busy), num(row.results.no_answer), num(row.results.not_accepted),
    num(row.results.caller_hangup))));
  return offered;
}

$("#report-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act("report", async () => {
    const offered = await loadReport();
    return "report: " + offered + " calls offered";
  });
});

// -- start -------------------------------------------------------------------------------

async function refresh() {
  await Promise.all([loadRules(), loadOverride()]);
}

async function start() {
  try {
    await Promise.all([refresh(), loadMap(), loadCoverage(), loadCalls(), loadReport()]);
    document.body.dataset.ready = "true";
    status("rules version " + activeVersion + " active");
  } catch (error) {
    status(error.message, true);
  }
  setInterval(() => loadCalls().catch(() => {}), 5000);
}

start();
