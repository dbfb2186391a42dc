// The client of the studio's JSON API (/api, described at /docs).

import { countPoints, rdp, toStroke3 } from "./geometry.js";
import { SIZE, state } from "./state.js";

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

// The drawing as stroke-3 rows within the server's point limit.
export function drawingRows(strokes) {
  let current = strokes;
  const limit = state.limits.max_points;
  for (let eps = 0.5; countPoints(current) > limit && eps < SIZE; eps *= 1.6) {
    current = strokes.map((s) => rdp(s, eps));
  }
  return toStroke3(current);
}
