"use strict";
async function loadRuns() {
  const data = await qt.json("/api/runs");
  document.getElementById("root").textContent = data.root;
  const body = document.querySelector("#runs tbody");
  body.replaceChildren(...data.runs.map((run) => qt.el("tr", {},
    qt.el("td", {}, qt.el("a", {href: `/runs/${encodeURIComponent(run.run_id)}`}, run.run_id)),
    qt.el("td", {}, qt.el("span", {class: `state state-${run.state}`}, run.state)),
    qt.el("td", {}, run.best ? `${run.best.metric} ${qt.num(run.best.value)}` : "–"),
    qt.el("td", {}, qt.time(run.started)),
    qt.el("td", {}, qt.duration(run.duration_s)),
    qt.el("td", {}, run.solver || "–"),
    qt.el("td", {}, run.mode))));
  document.getElementById("empty").hidden = data.runs.length > 0;
}
loadRuns();
setInterval(loadRuns, 5000);
