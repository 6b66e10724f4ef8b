// Renders the charts of a fleetbench report from window.fbCharts, a list of
// {id, kind, option}. The options are plain data written by the reports
// package; the formatters that need code are attached here by chart kind.
(function () {
  "use strict";
  var specs = window.fbCharts || [];
  if (typeof echarts === "undefined" || !specs.length) {
    return;
  }

  function trim(s) {
    return s.indexOf(".") < 0 ? s : s.replace(/0+$/, "").replace(/\.$/, "");
  }
  function sig3(v) {
    if (v === 0) { return "0"; }
    var digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(v))));
    return trim(v.toFixed(digits));
  }
  // Durations arrive in milliseconds.
  function fmtDur(ms) {
    if (ms === null || ms === undefined || isNaN(ms)) { return "—"; }
    if (ms === 0) { return "0"; }
    var us = Number(sig3(ms * 1000));
    if (us < 1000) { return sig3(us) + "µs"; }
    if (us < 1e6) { return sig3(us / 1000) + "ms"; }
    if (us < 60e6) { return sig3(us / 1e6) + "s"; }
    var s = Math.round(us / 1e6);
    return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
  }
  function fmtNum(v) {
    if (v === null || v === undefined || isNaN(v)) { return "—"; }
    if (Math.abs(v) >= 100) { return Math.round(v).toLocaleString("en-US"); }
    return sig3(v);
  }
  function fmtCompact(v) {
    var a = Math.abs(v);
    if (a >= 1e9) { return sig3(v / 1e9) + "G"; }
    if (a >= 1e6) { return sig3(v / 1e6) + "M"; }
    if (a >= 1e3) { return sig3(v / 1e3) + "k"; }
    return sig3(v);
  }
  // x = 1/(1-q) on the percentile axis.
  function pctOf(x) {
    return trim((100 * (1 - 1 / x)).toFixed(4));
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function tooltipRows(params, header, fmt) {
    var out = ["<div style=\"font-weight:600;margin-bottom:2px\">" + esc(header) + "</div>"];
    params.forEach(function (p) {
      var v = Array.isArray(p.value) ? p.value[1] : p.value;
      out.push(p.marker + esc(p.seriesName) + "<span style=\"float:right;margin-left:16px;font-weight:600\">" + esc(fmt(v)) + "</span>");
    });
    return out.join("<br>");
  }

  var textStyle = { fontFamily: "system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif" };

  function decorate(spec) {
    var o = spec.option;
    o.textStyle = textStyle;
    o.backgroundColor = "transparent";
    var y = o.yAxis && o.yAxis[0];
    switch (spec.kind) {
      case "percentile":
        o.xAxis[0].axisLabel = { formatter: function (x) { return pctOf(x) + "%"; }, hideOverlap: true };
        o.xAxis[0].splitLine = { show: true, lineStyle: { color: "#eef1f4" } };
        o.xAxis[0].minorSplitLine = { show: false };
        y.axisLabel = { formatter: fmtDur };
        o.tooltip.formatter = function (params) {
          return tooltipRows(params, "p" + pctOf(params[0].value[0]), fmtDur);
        };
        break;
      case "latency-time":
        y.axisLabel = { formatter: fmtDur, hideOverlap: true };
        y.minorSplitLine = { show: false };
        o.tooltip.formatter = function (params) {
          return tooltipRows(params, "t = " + params[0].value[0] + "s", fmtDur);
        };
        break;
      case "rate-time":
        y.axisLabel = { formatter: fmtCompact };
        o.tooltip.formatter = function (params) {
          return tooltipRows(params, "t = " + params[0].value[0] + "s", function (v) { return fmtNum(v) + "/s"; });
        };
        break;
      case "connections":
        o.yAxis.forEach(function (a) { a.axisLabel = { formatter: fmtCompact }; });
        o.tooltip.formatter = function (params) {
          return tooltipRows(params, "t = " + params[0].value[0] + "s", fmtNum);
        };
        break;
      case "bars":
        o.xAxis[0].axisLabel = { formatter: fmtCompact };
        o.tooltip.axisPointer = { type: "shadow" };
        o.series.forEach(function (s) { if (s.label) { s.label.formatter = function (p) { return fmtNum(p.value); }; } });
        break;
    }
    (o.yAxis || []).forEach(function (a) {
      a.nameTextStyle = { color: "#59636e", align: a.position === "right" ? "right" : "left" };
      if (!a.splitLine) { a.splitLine = { lineStyle: { color: "#eef1f4" } }; }
    });
    return o;
  }

  // Give each chart's SVG a viewBox so that it scales with its container
  // where the page is not re-rendered, such as on paper.
  function scalable(chart) {
    var svg = chart.getDom().querySelector("svg");
    if (svg) {
      svg.setAttribute("viewBox", "0 0 " + chart.getWidth() + " " + chart.getHeight());
      svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    }
  }

  // A log/linear switch for a chart whose first y axis starts logarithmic
  // (spec.logToggle). Linear starts at 0; log sets its own range. ECharts
  // makes an axis of another type a new component, so the switch passes the
  // whole decorated axis, not just its type.
  function scaleSwitch(chart, el, axes) {
    var box = document.createElement("div");
    box.className = "scale-switch";
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "latency axis scale");
    var buttons = [["log", "log"], ["value", "linear"]].map(function (s) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = s[1];
      b.setAttribute("data-scale", s[0]);
      b.setAttribute("aria-pressed", String(s[0] === "log"));
      b.addEventListener("click", function () {
        var y = axes.slice();
        y[0] = Object.assign({}, axes[0], { type: s[0], min: s[0] === "value" ? 0 : null });
        chart.setOption({ yAxis: y });
        buttons.forEach(function (o) { o.setAttribute("aria-pressed", String(o === b)); });
      });
      box.appendChild(b);
      return b;
    });
    el.parentNode.insertBefore(box, el);
  }

  var charts = [];
  specs.forEach(function (spec) {
    var el = document.getElementById(spec.id);
    if (!el) { return; }
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.on("finished", function () { scalable(chart); });
    var option = decorate(spec);
    chart.setOption(option);
    scalable(chart);
    if (spec.logToggle) { scaleSwitch(chart, el, option.yAxis); }
    charts.push(chart);
  });
  function resize() { charts.forEach(function (c) { c.resize(); }); }
  window.addEventListener("resize", resize);
  window.addEventListener("beforeprint", resize);
  window.addEventListener("afterprint", resize);
})();
