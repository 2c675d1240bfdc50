/* Cadre charts: draw a plotly.js chart from a JSON spec in the page, keep its table in step,
 * and refresh both from a JSON endpoint without reloading the page.
 *
 * Markup (dashboards/templates/dashboards/_chart.html writes it for you):
 *
 *   <div id="chart-X" data-chart-spec="chart-X-spec"            <- id of the JSON block
 *        data-chart-source="/ops/.../X.json"                     <- optional: refresh from here
 *        data-chart-refresh="30"></div>                          <- optional: every N seconds
 *   <script type="application/json" id="chart-X-spec">{...}</script>
 *   <table data-chart-table="chart-X"><thead>..</thead><tbody>..</tbody></table>  <- optional
 *
 * Spec (the same JSON the endpoint returns):
 *   {"title": "...",
 *    "columns": [{"key": "hour", "label": "Hour (UTC)"}, ...],
 *    "rows": [["2026-01-01 10:00", 12, ...], ...],            <- one array per row, column order
 *    "traces": [{"type": "bar", "name": "Answers", "x": "hour", "y": "answers",
 *                "text": "<column>",                          <- optional hover text column
 *                "error_y": {"lower": "<column>", "upper": "<column>"}  <- optional bounds columns
 *                ...any other plotly trace attribute, passed through}],
 *    "layout": {...plotly layout, merged over Cadre's defaults}}
 *
 * Load plotly first: <script src="{% static 'vendor/plotly.min.js' %}"></script>, then this file.
 * API: CadreCharts.draw(div, spec), CadreCharts.fillTable(table, spec), CadreCharts.init(root).
 * The drawn spec is kept on the div as div.cadreSpec; plotly's traces are div.data as usual.
 */
(function () {
  "use strict";

  function column(spec, key) {
    var i = spec.columns.findIndex(function (c) { return c.key === key; });
    if (i < 0) { throw new Error("chart " + spec.id + ": no column " + key); }
    return spec.rows.map(function (r) { return r[i]; });
  }

  function traces(spec) {
    return spec.traces.map(function (t) {
      var out = {};
      Object.keys(t).forEach(function (k) {
        if (k !== "x" && k !== "y" && k !== "text" && k !== "error_y") { out[k] = t[k]; }
      });
      out.x = column(spec, t.x);
      out.y = column(spec, t.y);
      if (t.text) { out.text = column(spec, t.text); }
      if (t.error_y) {
        var lo = column(spec, t.error_y.lower), hi = column(spec, t.error_y.upper);
        out.error_y = {
          type: "data", symmetric: false, visible: true,
          array: out.y.map(function (y, i) { return hi[i] === null || y === null ? 0 : hi[i] - y; }),
          arrayminus: out.y.map(function (y, i) { return lo[i] === null || y === null ? 0 : y - lo[i]; })
        };
      }
      return out;
    });
  }

  function layout(spec) {
    var base = {
      margin: {l: 50, r: 10, t: 10, b: 40}, height: 300, showlegend: true,
      legend: {orientation: "h", y: -0.2}, font: {size: 12}
    };
    return Object.assign(base, spec.layout || {});
  }

  function draw(div, spec) {
    div.cadreSpec = spec;
    window.Plotly.react(div, traces(spec), layout(spec), {displayModeBar: false, responsive: true});
  }

  function fillTable(table, spec) {
    var body = table.tBodies[0] || table.appendChild(document.createElement("tbody"));
    var rows = spec.rows.map(function (r) {
      var tr = document.createElement("tr");
      r.forEach(function (v) {
        var td = document.createElement("td");
        td.textContent = v === null ? "—" : String(v);
        if (typeof v === "number") { td.className = "num"; }
        tr.appendChild(td);
      });
      return tr;
    });
    body.replaceChildren.apply(body, rows);
  }

  function refresh(div) {
    if (document.hidden) { return; }
    fetch(div.dataset.chartSource, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (resp) { if (!resp.ok) { throw new Error(resp.status); } return resp.json(); })
      .then(function (spec) {
        draw(div, spec);
        document.querySelectorAll('table[data-chart-table="' + div.id + '"]').forEach(function (t) { fillTable(t, spec); });
        div.dataset.chartRefreshed = String(Date.now());
      })
      .catch(function (err) { div.dataset.chartError = String(err); });
  }

  function init(root) {
    (root || document).querySelectorAll("[data-chart-spec]").forEach(function (div) {
      var block = document.getElementById(div.dataset.chartSpec);
      draw(div, JSON.parse(block.textContent));
      var every = parseFloat(div.dataset.chartRefresh || "0");
      if (div.dataset.chartSource && every > 0) {
        setInterval(function () { refresh(div); }, every * 1000);
      }
    });
  }

  window.CadreCharts = {draw: draw, fillTable: fillTable, init: init, refresh: refresh};
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
})();
