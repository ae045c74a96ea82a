//! The picture as one HTML page: the SVG inline, with a script that pans
//! (drag), zooms (wheel, buttons), highlights a node and its neighbours
//! (hover, click to pin) and finds nodes by name (typed, or `#find=NAME`
//! in the address). Nothing is fetched.
//! When the script has set up, `<body>` carries `data-ready="true"`; an
//! error on the page is written to `data-error`.

use super::Picture;
use super::svg::{self, Mode, escape};

pub(super) fn page(picture: &Picture, title: &str) -> String {
    let components = picture.items.iter().filter(|i| !i.missing).count();
    let missing = picture.items.len() - components;
    let summary = format!(
        "{components} components, {} relationships{}",
        picture.links.iter().filter(|l| l.dangling.is_none()).count(),
        if missing > 0 { format!(", {missing} missing") } else { String::new() }
    );
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n\
         <body>\n<header>\n<h1>{title}</h1><span class=\"summary\">{summary}</span>\n\
         <input id=\"search\" type=\"search\" placeholder=\"Find a component by name\" autocomplete=\"off\">\n\
         <button id=\"zoom-in\" title=\"Zoom in\">+</button><button id=\"zoom-out\" title=\"Zoom out\">&#8722;</button><button id=\"fit\" title=\"Fit to the window\">Fit</button>\n\
         </header>\n<main>\n{svg}</main>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n",
        title = escape(title),
        summary = escape(&summary),
        svg = svg::render(picture, Mode::Page),
    )
}

const STYLE: &str = r#"html, body { margin: 0; height: 100%; font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; }
body { display: flex; flex-direction: column; }
header { display: flex; align-items: center; gap: 8px; padding: 6px 12px; border-bottom: 1px solid #dfe3e8; background: #fafbfc; }
h1 { font-size: 15px; margin: 0 8px 0 0; }
.summary { color: #607d8b; font-size: 12px; flex: 1; }
#search { width: 220px; padding: 4px 6px; }
button { min-width: 30px; padding: 3px 8px; }
main { flex: 1; min-height: 0; }
#graph { width: 100%; height: 100%; display: block; cursor: grab; user-select: none; }
#graph.dragging { cursor: grabbing; }
.node { cursor: pointer; }
#graph.focus .nodes .node:not(.lit), #graph.focus .edges .edge:not(.lit) { opacity: 0.15; }
.node.lit .box { stroke-width: 2; }
.node.match .box { stroke: #ff6f00; stroke-width: 3; }
.legend { pointer-events: none; }
"#;

const SCRIPT: &str = r#"window.addEventListener("error", function (e) { document.body.setAttribute("data-error", String(e.message)); });
(function () {
  "use strict";
  var svg = document.getElementById("graph");
  var viewport = document.getElementById("viewport");
  var width = Number(svg.getAttribute("data-width")), height = Number(svg.getAttribute("data-height"));
  var top = Number(svg.getAttribute("data-top")), legend = svg.querySelector(".legend");
  var scale = 1, x = 0, y = 0;
  function apply() { viewport.setAttribute("transform", "translate(" + x + " " + y + ") scale(" + scale + ")"); }
  // The legend stays put over the drawing: fit what is below it.
  function fit() {
    var box = svg.getBoundingClientRect(), below = legend.getBoundingClientRect().bottom - box.top + 8;
    scale = Math.min(box.width / width, (box.height - below) / (height - top), 1) || 1;
    x = (box.width - width * scale) / 2; y = below - top * scale;
    apply();
  }
  function zoom(factor, cx, cy) {
    var next = Math.min(8, Math.max(0.05, scale * factor));
    x = cx - (cx - x) * next / scale; y = cy - (cy - y) * next / scale; scale = next;
    apply();
  }
  function centre() { var box = svg.getBoundingClientRect(); return [box.width / 2, box.height / 2]; }

  // Who is next to whom, from the edges' ends.
  var nodes = {}, neighbours = {}, edgesOf = {};
  Array.prototype.forEach.call(svg.querySelectorAll(".node"), function (n) { nodes[n.id] = n; neighbours[n.id] = [n.id]; edgesOf[n.id] = []; });
  Array.prototype.forEach.call(svg.querySelectorAll(".edges .edge"), function (e) {
    var a = e.getAttribute("data-from"), b = e.getAttribute("data-to");
    if (!nodes[a] || !nodes[b]) { return; }
    neighbours[a].push(b); neighbours[b].push(a); edgesOf[a].push(e); edgesOf[b].push(e);
  });
  var pinned = null;
  function clear() {
    svg.classList.remove("focus");
    Array.prototype.forEach.call(svg.querySelectorAll(".lit"), function (e) { e.classList.remove("lit"); });
  }
  function light(id) {
    clear();
    if (!id) { return; }
    svg.classList.add("focus");
    neighbours[id].forEach(function (n) { nodes[n].classList.add("lit"); });
    edgesOf[id].forEach(function (e) { e.classList.add("lit"); });
  }
  function nodeOf(target) { return target && target.closest ? target.closest(".node") : null; }
  svg.addEventListener("mouseover", function (e) { var n = nodeOf(e.target); if (n && !pinned) { light(n.id); } });
  svg.addEventListener("mouseout", function (e) { var n = nodeOf(e.target); if (n && !pinned && !n.contains(e.relatedTarget)) { clear(); } });

  // Drag pans; a press that does not move is a click.
  var drag = null;
  svg.addEventListener("pointerdown", function (e) { drag = { x: e.clientX, y: e.clientY, moved: false }; });
  svg.addEventListener("pointermove", function (e) {
    if (!drag) { return; }
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) { return; }
    if (!drag.moved) { svg.setPointerCapture(e.pointerId); }
    drag.moved = true; svg.classList.add("dragging");
    x += dx; y += dy; drag.x = e.clientX; drag.y = e.clientY; apply();
  });
  svg.addEventListener("pointerup", function (e) {
    var clicked = drag && !drag.moved;
    drag = null; svg.classList.remove("dragging");
    if (!clicked) { return; }
    var n = nodeOf(document.elementFromPoint(e.clientX, e.clientY));
    pinned = n && n.id !== pinned ? n.id : null;
    light(pinned);
  });
  svg.addEventListener("wheel", function (e) {
    e.preventDefault();
    var box = svg.getBoundingClientRect();
    zoom(Math.exp(-e.deltaY * 0.0015), e.clientX - box.left, e.clientY - box.top);
  }, { passive: false });
  document.getElementById("zoom-in").addEventListener("click", function () { var c = centre(); zoom(1.25, c[0], c[1]); });
  document.getElementById("zoom-out").addEventListener("click", function () { var c = centre(); zoom(0.8, c[0], c[1]); });
  document.getElementById("fit").addEventListener("click", fit);

  // Search marks every node whose name holds the text; Enter shows the
  // first at full size, centred, and pins it.
  var search = document.getElementById("search");
  function matches() {
    var text = search.value.trim().toLowerCase(), found = [];
    Object.keys(nodes).forEach(function (id) {
      var hit = text !== "" && (nodes[id].getAttribute("data-name") || "").toLowerCase().indexOf(text) >= 0;
      nodes[id].classList.toggle("match", hit);
      if (hit) { found.push(nodes[id]); }
    });
    return found;
  }
  function find() {
    var found = matches();
    if (found.length === 0) { return; }
    var at = found[0].transform.baseVal.consolidate().matrix, box = svg.getBoundingClientRect();
    scale = Math.max(scale, 1);
    x = box.width / 2 - (at.e + 100) * scale; y = box.height / 2 - (at.f + 22) * scale; apply();
    pinned = found[0].id; light(pinned);
  }
  search.addEventListener("input", matches);
  search.addEventListener("keydown", function (e) { if (e.key === "Enter") { find(); } });

  fit();
  // PAGE.html#find=NAME opens the page with NAME found, for links.
  var wanted = /^#find=(.+)$/.exec(window.location.hash);
  // A malformed escape (`#find=%`) is searched for as written, not thrown.
  if (wanted) {
    try { search.value = decodeURIComponent(wanted[1]); } catch (e) { search.value = wanted[1]; }
    find();
  }
  document.body.setAttribute("data-nodes", String(Object.keys(nodes).length));
  document.body.setAttribute("data-ready", "true");
})();
"#;
