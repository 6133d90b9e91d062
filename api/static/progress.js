// Live progress of running solves: poll each job's JSON every second and update the bar,
// the figures and the chart; reload the page once a job has finished (to list its version).
(function () {
  "use strict";
  function poll(card) {
    fetch(card.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (job) {
        ["status", "goal_label", "goal_description", "elapsed"].forEach(function (name) {
          var el = card.querySelector('[data-field="' + name + '"]');
          if (el) { el.textContent = job[name]; }
        });
        var stages = card.querySelector('[data-field="stages"]');
        if (stages && typeof job.stages_html === "string") {
          // Rendered by the server's template (autoescaped).
          stages.innerHTML = job.stages_html;
        }
        var bar = card.querySelector('[data-field="share"]');
        if (bar) { bar.value = job.share; bar.textContent = Math.round(job.share * 100) + "%"; }
        var chart = card.querySelector('[data-field="chart"]');
        if (chart && job.chart) {
          // The server builds the SVG from numbers and escaped labels only.
          chart.innerHTML = job.chart;
        }
        if (job.finished) { window.location.reload(); } else { setTimeout(function () { poll(card); }, 1000); }
      })
      .catch(function () { setTimeout(function () { poll(card); }, 3000); });
  }
  document.querySelectorAll("[data-live]").forEach(poll);
})();
