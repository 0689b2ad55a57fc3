// A small line chart drawn on a canvas: time on x, values on y, one colour per series.
"use strict";
const OspreyChart = (() => {
  const COLOURS = ["#58a6ff", "#3fb950", "#d29922", "#f85149", "#bc8cff", "#39c5cf",
    "#ff7b72", "#a5d6ff", "#7ee787", "#e3b341"];

  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  // About `count` round tick values covering [lo, hi].
  function ticks(lo, hi, count) {
    const span = hi - lo || 1;
    const raw = span / count;
    const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step / 1e9; v += step) out.push(v);
    return out;
  }

  function formatValue(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
    if (a === 0 || a >= 1) return String(Math.round(v * 100) / 100);
    return v.toPrecision(2);
  }

  function formatTime(t, span) {
    const d = new Date(t * 1000);
    const hm = d.toTimeString().slice(0, span < 1800 ? 8 : 5);
    return span > 2 * 86400 ? `${d.getMonth() + 1}/${d.getDate()} ${hm}` : hm;
  }

  // series: [{name, points: [[unixSeconds, number], ...]}]. Returns a colour per series.
  function draw(canvas, series, tip) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    const g = canvas.getContext("2d");
    g.scale(ratio, ratio);
    g.clearRect(0, 0, width, height);
    const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p[1]));
    g.font = "11px system-ui, sans-serif";
    g.fillStyle = css("--muted");
    if (all.length === 0) {
      g.fillText("No data points in this range.", width / 2 - 70, height / 2);
      return [];
    }
    let [t0, t1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
    let [v0, v1] = [Math.min(0, ...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
    if (t0 === t1) { t0 -= 60; t1 += 60; }
    if (v0 === v1) v1 = v0 + 1;
    const pad = { left: 54, right: 12, top: 10, bottom: 24 };
    const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * (width - pad.left - pad.right);
    const y = (v) => height - pad.bottom - ((v - v0) / (v1 - v0)) * (height - pad.top - pad.bottom);
    g.strokeStyle = css("--grid");
    g.lineWidth = 1;
    for (const v of ticks(v0, v1, 5)) {
      g.beginPath(); g.moveTo(pad.left, y(v)); g.lineTo(width - pad.right, y(v)); g.stroke();
      g.fillText(formatValue(v), 4, y(v) + 4);
    }
    const tickStep = ticks(t0, t1, Math.max(2, Math.floor(width / 110)));
    for (const t of tickStep) {
      const label = formatTime(t, t1 - t0);
      const left = Math.min(x(t) - 14, width - pad.right - g.measureText(label).width);
      g.fillText(label, left, height - 6);
    }
    const colours = series.map((_, i) => COLOURS[i % COLOURS.length]);
    series.forEach((s, i) => {
      g.strokeStyle = colours[i];
      g.lineWidth = 1.5;
      g.beginPath();
      let pen = false;
      for (const [t, v] of s.points) {
        if (!Number.isFinite(v)) { pen = false; continue; }
        if (pen) g.lineTo(x(t), y(v)); else g.moveTo(x(t), y(v));
        pen = true;
      }
      g.stroke();
    });
    if (tip) {
      canvas.onmousemove = (event) => {
        const box = canvas.getBoundingClientRect();
        const t = t0 + ((event.clientX - box.left - pad.left) / (width - pad.left - pad.right)) * (t1 - t0);
        const rows = series.map((s, i) => {
          let best = null;
          for (const p of s.points) if (!best || Math.abs(p[0] - t) < Math.abs(best[0] - t)) best = p;
          return best ? `<div><i style="background:${colours[i]}"></i>${formatValue(best[1])} ${escapeHtml(s.name)}</div>` : "";
        }).slice(0, 12);
        tip.innerHTML = `<b>${new Date(t * 1000).toLocaleString()}</b>` + rows.join("");
        tip.style.display = "block";
        tip.style.left = Math.min(event.clientX - box.left + 14, width - 260) + "px";
        tip.style.top = event.clientY - box.top + 10 + "px";
      };
      canvas.onmouseleave = () => { tip.style.display = "none"; };
    }
    return colours;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  }

  return { draw, formatValue, escapeHtml };
})();
