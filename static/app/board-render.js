// Whiteboard geometry: drawing shapes on a canvas and hit-testing them for the eraser.
// Shapes are in board coordinates (BOARD_W x BOARD_H); the canvas scales them to fit.
// Shape data (docs/protocol/whiteboard.md):
//   stroke, line:   {points: [[x, y], ...], color, width}
//   rect, ellipse:  {x, y, w, h, color, width}      (w, h may be negative while dragging)
//   text, note:     {x, y, text, color, width}     (width sets the text size)

export const BOARD_W = 1600;
export const BOARD_H = 1000;
export const NOTE_W = 260;
export const NOTE_H = 180;

export function textSize(width) {
  return 20 + Math.min(64, Math.max(1, width || 1)) * 3;
}

function norm(d) {
  const x = Math.min(d.x, d.x + d.w);
  const y = Math.min(d.y, d.y + d.h);
  return { x, y, w: Math.abs(d.w), h: Math.abs(d.h) };
}

function wrap(ctx, text, maxWidth) {
  const lines = [];
  for (const para of String(text).split("\n")) {
    let line = "";
    for (const word of para.split(/(\s+)/)) {
      const next = line + word;
      if (line && ctx.measureText(next).width > maxWidth) {
        lines.push(line.trimEnd());
        line = word.trimStart();
      } else {
        line = next;
      }
    }
    lines.push(line);
  }
  return lines;
}

/** Draws one shape ({kind, data}) on a context already scaled to board coordinates. */
export function drawShape(ctx, shape, { ghost = false } = {}) {
  const d = shape.data || {};
  ctx.save();
  ctx.globalAlpha = ghost ? 0.6 : 1;
  ctx.strokeStyle = d.color || "#111827";
  ctx.fillStyle = d.color || "#111827";
  ctx.lineWidth = d.width || 2;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  switch (shape.kind) {
    case "stroke":
    case "line": {
      const pts = d.points || [];
      if (pts.length === 1) {
        ctx.beginPath();
        ctx.arc(pts[0][0], pts[0][1], ctx.lineWidth / 2, 0, Math.PI * 2);
        ctx.fill();
      } else if (pts.length > 1) {
        ctx.beginPath();
        ctx.moveTo(pts[0][0], pts[0][1]);
        for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i][0], pts[i][1]);
        ctx.stroke();
      }
      break;
    }
    case "rect": {
      const r = norm(d);
      ctx.strokeRect(r.x, r.y, r.w, r.h);
      break;
    }
    case "ellipse": {
      const r = norm(d);
      ctx.beginPath();
      ctx.ellipse(r.x + r.w / 2, r.y + r.h / 2, r.w / 2, r.h / 2, 0, 0, Math.PI * 2);
      ctx.stroke();
      break;
    }
    case "text": {
      const size = textSize(d.width);
      ctx.font = `${size}px system-ui, sans-serif`;
      ctx.textBaseline = "top";
      wrap(ctx, d.text || "", 1200).forEach((line, i) => ctx.fillText(line, d.x, d.y + i * size * 1.25));
      break;
    }
    case "note": {
      const w = d.w || NOTE_W;
      const h = d.h || NOTE_H;
      ctx.fillStyle = "#fef3c7";
      ctx.shadowColor = "rgba(0,0,0,.18)";
      ctx.shadowBlur = 8;
      ctx.shadowOffsetY = 2;
      ctx.fillRect(d.x, d.y, w, h);
      ctx.shadowColor = "transparent";
      ctx.fillStyle = d.color || "#111827";
      ctx.fillRect(d.x, d.y, w, 8);
      ctx.fillStyle = "#1f2937";
      ctx.font = "24px system-ui, sans-serif";
      ctx.textBaseline = "top";
      ctx.beginPath();
      ctx.rect(d.x, d.y, w, h);
      ctx.clip();
      wrap(ctx, d.text || "", w - 28).forEach((line, i) => ctx.fillText(line, d.x + 14, d.y + 22 + i * 30));
      break;
    }
    default:
      break;
  }
  ctx.restore();
}

function segDist(p, a, b) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len = dx * dx + dy * dy;
  let t = len ? ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len : 0;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}

/** Whether board point p touches the shape (within `slop` board units). */
export function hits(shape, p, slop = 8) {
  const d = shape.data || {};
  const reach = (d.width || 2) / 2 + slop;
  switch (shape.kind) {
    case "stroke":
    case "line": {
      const pts = d.points || [];
      if (pts.length === 1) return Math.hypot(p[0] - pts[0][0], p[1] - pts[0][1]) <= reach;
      for (let i = 1; i < pts.length; i++) if (segDist(p, pts[i - 1], pts[i]) <= reach) return true;
      return false;
    }
    case "rect": {
      const r = norm(d);
      const inside = p[0] >= r.x - reach && p[0] <= r.x + r.w + reach && p[1] >= r.y - reach && p[1] <= r.y + r.h + reach;
      const deep = p[0] > r.x + reach && p[0] < r.x + r.w - reach && p[1] > r.y + reach && p[1] < r.y + r.h - reach;
      return inside && !deep;
    }
    case "ellipse": {
      const r = norm(d);
      const rx = r.w / 2;
      const ry = r.h / 2;
      if (rx < 1 || ry < 1) return Math.hypot(p[0] - (r.x + rx), p[1] - (r.y + ry)) <= reach;
      const k = Math.hypot((p[0] - r.x - rx) / rx, (p[1] - r.y - ry) / ry);
      return Math.abs(k - 1) * Math.min(rx, ry) <= reach;
    }
    case "text": {
      const size = textSize(d.width);
      const lines = String(d.text || "").split("\n");
      const w = Math.max(...lines.map((l) => l.length)) * size * 0.6;
      return p[0] >= d.x - slop && p[0] <= d.x + w + slop && p[1] >= d.y - slop && p[1] <= d.y + lines.length * size * 1.25 + slop;
    }
    case "note":
      return p[0] >= d.x && p[0] <= d.x + (d.w || NOTE_W) && p[1] >= d.y && p[1] <= d.y + (d.h || NOTE_H);
    default:
      return false;
  }
}
