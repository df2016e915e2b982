"use strict";
// The run page: static detail once, then every event of the run from its log (SSE, resumed
// by byte offset), and the run's status whenever it changes. Buttons POST commands.
const runId = decodeURIComponent(location.pathname.split("/").pop());
const api = `/api/runs/${encodeURIComponent(runId)}`;
const $ = (id) => document.getElementById(id);
const PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];
const page = {
  detail: null, state: "loading", decision: null,
  trials: new Map(),            // "cycle:trial" -> {row, cells}
  lossSeries: [],               // keys of the loss chart's series, in order
  lossPoints: new Map(),        // key -> Map(x -> loss)
  evalPoints: new Map(),        // trial -> Map(cycle -> eval loss)
  zoomed: false, lossChart: null, evalChart: null,
  latencies: [],                // seconds from an event's write to its draw (benchmarks/ui.py)
};
window.qtrainPage = page;

function message(id, text, ok) {
  const node = $(id);
  node.textContent = text;
  node.className = `message ${ok ? "ok" : "error"}`;
}

// -- charts ---------------------------------------------------------------------------
function chartWidth(id) { return Math.max(360, $(id).clientWidth - 10); }

function makeLossChart() {
  const opts = {
    width: chartWidth("loss-chart"), height: 300,
    scales: {x: {time: false}},
    axes: [{label: "step (cycle offset)"}, {label: "train loss"}],
    series: [{label: "step"}],
    cursor: {drag: {x: true, y: false}},
    hooks: {
      setSelect: [(u) => { if (u.select.width > 0) page.zoomed = true; }],
      draw: [() => notedDraw()],
    },
  };
  page.lossChart = new uPlot(opts, [[]], $("loss-chart"));
  $("loss-chart").addEventListener("dblclick", () => { page.zoomed = false; redrawLoss(); });
}

function makeEvalChart() {
  const opts = {
    width: chartWidth("eval-chart"), height: 260, scales: {x: {time: false}},
    axes: [{label: "cycle"}, {label: "eval loss"}], series: [{label: "cycle"}],
  };
  page.evalChart = new uPlot(opts, [[]], $("eval-chart"));
}

let pendingDraw = [];
function notedDraw() {
  const now = Date.now() / 1000;
  for (const ts of pendingDraw) page.latencies.push(now - ts);
  pendingDraw = [];
  document.body.dataset.points = String(totalPoints());
}

function totalPoints() {
  let n = 0;
  for (const points of page.lossPoints.values()) n += points.size;
  return n;
}

function aligned(seriesKeys, pointsOf) {
  const xs = new Set();
  for (const key of seriesKeys) for (const x of pointsOf(key).keys()) xs.add(x);
  const xsSorted = [...xs].sort((a, b) => a - b);
  return [xsSorted, ...seriesKeys.map((key) => xsSorted.map((x) => pointsOf(key).get(x) ?? null))];
}

function redrawLoss() {
  const chart = page.lossChart;
  chart.setData(aligned(page.lossSeries, (k) => page.lossPoints.get(k)), !page.zoomed);
}

function addLossPoint(event) {
  const key = `c${event.cycle} t${event.trial}`;
  if (!page.lossPoints.has(key)) {
    page.lossPoints.set(key, new Map());
    page.lossSeries.push(key);
    const color = PALETTE[event.trial % PALETTE.length];
    page.lossChart.addSeries({label: key, stroke: color, width: 1.5, spanGaps: true,
                              dash: event.cycle % 2 ? undefined : [6, 3]});
  }
  const offset = (event.cycle - 1) * (event.total_steps || 0);
  page.lossPoints.get(key).set(offset + event.step, event.loss);
  pendingDraw.push(event.ts);
  scheduleLossRedraw();
}

let lossRedrawQueued = false;
function scheduleLossRedraw() {
  if (lossRedrawQueued) return;
  lossRedrawQueued = true;
  requestAnimationFrame(() => { lossRedrawQueued = false; redrawLoss(); });
}

function addEvalPoint(event) {
  if (!event.metrics || event.metrics.eval_loss === undefined) return;
  const key = event.trial;
  if (!page.evalPoints.has(key)) {
    page.evalPoints.set(key, new Map());
    page.evalChart.addSeries({label: `trial ${key}`, stroke: PALETTE[key % PALETTE.length],
                              width: 0, points: {show: true, size: 8}});
  }
  page.evalPoints.get(key).set(event.cycle, event.metrics.eval_loss);
  const keys = [...page.evalPoints.keys()];
  page.evalChart.setData(aligned(keys, (k) => page.evalPoints.get(k)));
}

// -- tables ---------------------------------------------------------------------------
function trialRow(event) {
  const key = `${event.cycle}:${event.trial}`;
  if (!page.trials.has(key)) {
    const cells = {
      loss: qt.el("td", {}, "…"), em: qt.el("td", {}, "…"), checkpoint: qt.el("td", {}, "…"),
      steps: qt.el("td", {}, event.steps ?? "–"),
    };
    const row = qt.el("tr", {"data-trial": key}, qt.el("td", {}, event.cycle),
      qt.el("td", {}, event.trial), qt.el("td", {class: "params"}, qt.params(event.params)),
      cells.steps, cells.loss, cells.em, cells.checkpoint);
    $("trials").tBodies[0].append(row);
    page.trials.set(key, {row, cells});
  }
  return page.trials.get(key);
}

function endTrial(event) {
  const {row, cells} = trialRow(event);
  const metrics = event.metrics || {};
  cells.loss.textContent = qt.num(metrics.eval_loss);
  cells.em.textContent = qt.num(metrics.exact_match, 3);
  cells.checkpoint.textContent = event.checkpoint || (event.error ? `failed: ${event.error}` : "–");
  if (event.status === "failed" || event.error) row.classList.add("failed");
  if (event.train && event.train.steps !== undefined) cells.steps.textContent = event.train.steps;
}

function addProposals(event) {
  const body = $("proposals").tBodies[0];
  event.proposals.forEach((proposal, index) => {
    const meta = proposal.metadata || {};
    const fallback = meta.fallback ? `yes: ${(meta.fallback_reasons || []).join("; ")}` : "no";
    body.append(qt.el("tr", {}, qt.el("td", {}, event.cycle),
      qt.el("td", {}, proposal.trial ?? index), qt.el("td", {}, qt.params(proposal.params)),
      qt.el("td", {}, meta.source || meta.proposer || "–"), qt.el("td", {}, meta.solver || "–"),
      qt.el("td", {}, fallback), qt.el("td", {}, qt.num(meta.energy)),
      qt.el("td", {}, qt.num(meta.solve_seconds, 3))));
  });
}

function selection(event) {
  $("incumbent").textContent = `${event.incumbent}: ${event.metric} ${qt.num(event.value)}`;
  $("incumbents").tBodies[0].append(qt.el("tr", {}, qt.el("td", {}, event.cycle),
    qt.el("td", {}, event.incumbent), qt.el("td", {}, event.metric), qt.el("td", {}, qt.num(event.value))));
  for (const {row} of page.trials.values()) row.classList.remove("winner");
  const [cycle, trial] = (event.cycle_best || "").match(/\d+/g) || [];
  const won = page.trials.get(`${Number(cycle)}:${Number(trial)}`);
  if (won) won.row.classList.add("winner");
  loadCheckpoints(false);
}

// -- the event stream -------------------------------------------------------------------
function onEvent(event) {
  switch (event.type) {
    case "run_start": case "data_ready": case "resume":
      if (!page.detail || !page.detail.config_yaml) refreshDetail();
      if (event.type === "data_ready") $("data-report").textContent = JSON.stringify(event.report, null, 2);
      break;
    case "step": addLossPoint(event); break;
    case "trial_start": trialRow(event); break;
    case "trial_end": endTrial(event); addEvalPoint(event); break;
    case "proposals": addProposals(event); break;
    case "selection": selection(event); break;
    case "retention": case "export": loadCheckpoints(false); break;
    default: break;
  }
}

function connect() {
  const source = new EventSource(`${api}/events`);
  source.onmessage = (message) => onEvent(JSON.parse(message.data));
  source.addEventListener("status", (message) => showStatus(JSON.parse(message.data)));
  source.onopen = () => { $("live").textContent = "live"; };
  source.onerror = () => { $("live").textContent = "reconnecting…"; };
}

// -- status, controls and the decision ------------------------------------------------
function showStatus(view) {
  page.state = view.state;
  const badge = $("state");
  badge.textContent = view.state;
  badge.className = `state state-${view.state}`;
  const status = view.status || {};
  const where = [status.cycle ? `cycle ${status.cycle}${status.max_cycles ? ` of ${status.max_cycles}` : ""}` : "",
                 status.trial !== null && status.trial !== undefined ? `trial ${status.trial}` : "",
                 status.reason ? `— ${status.reason}` : ""].filter(Boolean).join(", ");
  $("where").textContent = where;
  const live = view.alive && !["completed", "failed", "stopped", "interrupted"].includes(view.state);
  const held = ["paused", "pausing"].includes(view.state);
  $("pause-trial").disabled = !live || held;
  $("pause-now").disabled = !live || held;
  $("resume").disabled = !live || !held;
  $("stop").disabled = !live;
  showDecision(view.decision);
}

async function command(command, args, messageId) {
  try {
    const answer = await qt.post(`${api}/command`, {command, args});
    message(messageId, `${command}: ${answer.ack.outcome}`, true);
    return true;
  } catch (error) {
    message(messageId, error.message, false);
    return false;
  }
}

function showDecision(decision) {
  page.decision = decision;
  $("decision").hidden = !decision;
  if (!decision) return;
  $("decision-id").textContent = `${decision.id} v${decision.version}, cycle ${decision.cycle}`;
  const keys = Object.keys(page.detail.search_space || {});
  $("decision-table").tHead.replaceChildren(qt.el("tr", {}, qt.el("th", {}, "✓"), qt.el("th", {}, "trial"),
    qt.el("th", {}, "from"), ...keys.map((k) => qt.el("th", {}, k))));
  $("decision-table").tBodies[0].replaceChildren(...decision.proposals.map((p) => qt.el("tr", {},
    qt.el("td", {}, qt.el("input", {type: "checkbox", class: "pick", value: p.trial, "aria-label": `trial ${p.trial}`})),
    qt.el("td", {}, p.trial), qt.el("td", {}, p.metadata.source || p.metadata.proposer || ""),
    ...keys.map((k) => qt.el("td", {}, p.params[k])))));
  if ($("edits").dataset.keys !== keys.join(",")) {
    $("edits").dataset.keys = keys.join(",");
    $("edits").replaceChildren(...keys.map((k) => qt.el("label", {}, `${k} `,
      qt.el("input", {type: "text", class: "edit", name: k, list: `levels-${k}`}),
      qt.el("datalist", {id: `levels-${k}`}, ...(page.detail.search_space[k] || []).map((v) => qt.el("option", {value: v}))))));
  }
}

function ticked() {
  return [...document.querySelectorAll("input.pick:checked")].map((box) => Number(box.value));
}

function countdown() {
  const decision = page.decision;
  if (!decision) return;
  if (!decision.deadline) { $("countdown").textContent = "no deadline"; return; }
  const left = Math.max(0, Math.round(decision.deadline - Date.now() / 1000));
  $("countdown").textContent = `${left} s left`;
}

function wireControls() {
  $("pause-trial").addEventListener("click", () => command("pause", {after: "trial"}, "control-msg"));
  $("pause-now").addEventListener("click", () => command("pause", {after: "now"}, "control-msg"));
  $("resume").addEventListener("click", () => command("resume", {}, "control-msg"));
  $("stop").addEventListener("click", () => command("stop", {}, "control-msg"));
  $("verify").addEventListener("click", () => loadCheckpoints(true));
  $("approve").addEventListener("click", async () => {
    const edits = {};
    for (const input of document.querySelectorAll("input.edit")) {
      if (input.value.trim()) edits[input.name] = input.value.trim();
    }
    const done = await command("approve", {version: page.decision.version, trials: ticked(), set: edits}, "decision-msg");
    if (done) for (const input of document.querySelectorAll("input.edit")) input.value = "";
  });
  $("reject").addEventListener("click", () => command("reject", {version: page.decision.version,
    trials: ticked(), reason: $("reject-reason").value || null}, "decision-msg"));
  setInterval(countdown, 1000);
}

async function loadCheckpoints(verify) {
  try {
    const data = verify ? await qt.post(`${api}/checkpoints`) : await qt.json(`${api}/checkpoints`);
    $("checkpoints").tBodies[0].replaceChildren(...data.checkpoints.map((c) => qt.el("tr", {},
      qt.el("td", {}, c.name), qt.el("td", {}, `${(c.size_bytes / 1e6).toFixed(1)} MB`),
      qt.el("td", {}, qt.num((c.metrics || {}).eval_loss)), qt.el("td", {}, c.pointers.join(", ")),
      qt.el("td", {}, c.verified === null ? "not checked" : c.verified ? "yes" : `NO: ${c.problem}`))));
  } catch (error) {
    $("checkpoints").tBodies[0].replaceChildren(qt.el("tr", {}, qt.el("td", {colspan: 5}, error.message)));
  }
}

// The run's folder may not be complete yet (`qtrain run --ui` serves before the run starts):
// its config and data report are read again once the run has written them.
async function refreshDetail() {
  page.detail = await qt.json(api);
  $("config").textContent = page.detail.config_yaml || "–";
  if (page.detail.data_report) $("data-report").textContent = JSON.stringify(page.detail.data_report, null, 2);
  if (page.decision) { $("edits").dataset.keys = ""; showDecision(page.decision); }
}

async function start() {
  $("run-id").textContent = runId;
  document.title = `qtrain ${runId}`;
  makeLossChart();
  makeEvalChart();
  wireControls();
  await refreshDetail();
  showStatus(page.detail);
  loadCheckpoints(false);
  connect();
  window.addEventListener("resize", () => {
    page.lossChart.setSize({width: chartWidth("loss-chart"), height: 300});
    page.evalChart.setSize({width: chartWidth("eval-chart"), height: 260});
  });
}
start();
