// The client of the studio's JSON API (/api, described at /docs).

import { rdp, toStroke3 } from "./geometry.js";
import { state } from "./state.js";

function formatDetail(detail) {
  if (Array.isArray(detail)) {
    return detail.map((e) => `${(e.loc || []).filter((p) => p !== "body").join(".") || "request"}: ${e.msg}`).join("; ");
  }
  return String(detail);
}

// GET `path`, or POST `body` as JSON to it; a 4xx/5xx answer throws an Error with the server's detail.
export async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const res = await fetch(path, init);
  if (!res.ok) {
    let detail = `${res.status} ${res.statusText}`;
    try { detail = formatDetail((await res.json()).detail); } catch (_) { /* not JSON */ }
    throw new Error(detail);
  }
  return res;
}

// The drawing as stroke-3 rows the API accepts, and how many of its strokes were left out: lightly simplified, and
// past the API's limits only its most recent strokes (the server may read fewer still; its answer says so).
// `open`: the last stroke is still being drawn (its pen has not lifted).
export function requestRows(strokes, open = false) {
  const { max_points: maxPoints, max_strokes: maxStrokes } = state.limits;
  const simple = strokes.map((s) => rdp(s, 0.5));
  const kept = [];
  let points = 0;
  for (let i = simple.length - 1; i >= 0 && kept.length < maxStrokes; i--) {
    if (points + simple[i].length > maxPoints) {
      if (!kept.length) kept.unshift(simple[i].slice(-maxPoints)); // one huge stroke: its end
      break;
    }
    kept.unshift(simple[i]);
    points += simple[i].length;
  }
  const rows = toStroke3(kept);
  if (open && rows.length) rows[rows.length - 1][2] = 0;
  return { rows, dropped: strokes.length - kept.length };
}

export const drawingRows = (strokes) => requestRows(strokes).rows;
