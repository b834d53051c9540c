// Draws every [data-chart] element of a page from the JSON block it names
// ({"kind": "lines"|"bars", "x": [...], "series": [{"name", "y": [...]}]}).
// The data sits in <script type="application/json">: the pages' CSP allows no inline script.
(function () {
  "use strict";
  var COLORS = ["#1f5fa8", "#e07b00", "#2e8540", "#8e44ad"];
  var DAY = 86400000; // ms

  function traces(spec) {
    return spec.series.map(function (series, i) {
      var trace = {
        name: series.name,
        x: spec.x,
        y: series.y,
        marker: { color: COLORS[i % COLORS.length] },
        hovertemplate: "%{y:,}",
      };
      if (spec.kind === "bars") {
        trace.type = "bar";
      } else {
        trace.type = "scatter";
        trace.mode = spec.x.length > 90 ? "lines" : "lines+markers";
      }
      return trace;
    });
  }

  function layout(spec) {
    var dates = spec.kind === "lines";
    var top = 0;
    spec.series.forEach(function (s) {
      top = Math.max(top, Math.max.apply(null, s.y));
    });
    var span = dates ? (Date.parse(spec.x[spec.x.length - 1]) - Date.parse(spec.x[0])) / DAY : 0;
    return {
      margin: { t: 30, r: 10, b: 40, l: 50 },
      font: { family: "system-ui, sans-serif", size: 13 },
      hovermode: "x unified",
      showlegend: spec.series.length > 1,
      legend: { orientation: "h", x: 0, y: 1.12 },
      // a few days: one tick a day, never hours (the data is daily)
      xaxis: dates
        ? { type: "date", hoverformat: "%a %Y-%m-%d", dtick: span < 14 ? DAY : undefined }
        : { type: "category" },
      // small counts: whole-number ticks up to at least 5
      yaxis: top < 5
        ? { range: [0, 5], dtick: 1, fixedrange: true }
        : { rangemode: "tozero", tickformat: ",d", fixedrange: true },
    };
  }

  function draw(element) {
    var spec = JSON.parse(document.getElementById(element.dataset.chart).textContent);
    Plotly.newPlot(element, traces(spec), layout(spec), {
      displaylogo: false,
      responsive: true,
      showSendToCloud: false, // "Share chart..." would upload the data to Plotly Cloud
      modeBarButtonsToRemove: ["select2d", "lasso2d", "toImage", "sendChartToCloud"],
    });
  }

  document.documentElement.classList.add("js");
  document.querySelectorAll("[data-chart]").forEach(draw);
})();
