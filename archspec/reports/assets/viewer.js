// archspec's interactive diagram. Self-contained: no network, no third-party code.
//
// Layout: every open block is laid out on its own, then nested in its parent as one big box, so an
// open block's frame never overlaps its neighbours. Inside one block (or at the top) the layout is a
// small layered one: longest-path layers, barycenter ordering within a layer, each layer centred.
// CNN graphs are narrow DAGs, so this is enough, and it runs for any set of open blocks.
//
// A run of identical repeated blocks (layer1.0 – layer1.2) is one "×N" box, as in the static diagram,
// until it is opened: then a frame holds its blocks, each closed. Edges carry their tensor's shape
// where the label has room.
//
// Spec text reaches the page only through textContent and setAttribute, never innerHTML.
"use strict";
(function () {
  const M = JSON.parse(document.getElementById("model").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const nodes = new Map(M.nodes.map((n, i) => [n.name, Object.assign(n, { index: i })]));
  const scopes = new Map(M.scopes.map((s) => [s.path, s]));
  const runs = new Map(M.runs.map((r) => [r.id, r]));
  const runOf = new Map();                         // a run's blocks (and DenseNet's carried concats) -> the run
  for (const r of runs.values()) for (const m of r.members) runOf.set(m, r);
  const open = new Set(M.open);
  for (const r of runs.values()) if (r.members.some((m) => open.has(m))) open.add(r.id);   // --expand inside one
  const INPUT = "input", OUT = "\u21a6 ";          // output units: OUT + output name
  const GAP_X = 18, GAP_Y = 30, PAD = 10, HEAD = 20, LINE = 14, LABEL_FONT = "9px sans-serif";
  let zoom = 1, selected = null, current = null;   // current: the last layout

  const fmt = ((f) => (v) => f.format(v))(new Intl.NumberFormat("en-US"));   // one formatter, not one per call
  const shapeText = (s) => "(" + s.join(", ") + ")";
  const shapeOf = (x) => shapeText(x.shape) + (x.layout ? " " + x.layout : "");   // channels last: (56, 56, 96) HWC
  const compactShape = (x) => x.shape.join("\u00d7") + (x.layout ? " " + x.layout : "");   // an edge's: 64×56×56
  const $ = (id) => document.getElementById(id);

  function prefixes(name) {
    const parts = name.split("."), out = [];
    for (let k = 1; k < parts.length; k++) out.push(parts.slice(0, k).join("."));
    return out;
  }
  const closedRun = (m) => { const r = runOf.get(m); return r && !open.has(r.id) ? r : null; };
  // the box a node is drawn in: its outermost closed block or run, else the node itself
  function unitOf(name) {
    if (!nodes.has(name)) return name;
    for (const p of prefixes(name)) {
      if (!scopes.has(p)) continue;
      const r = closedRun(p);
      if (r) return r.id;
      if (!open.has(p)) return p;
    }
    const r = closedRun(name);                     // a carried concat between a run's blocks
    return r ? r.id : name;
  }
  // the open block or run a unit (or an open block or run) sits in, nearest first; "" at the top
  function groupOf(path) {
    if (path === INPUT || path.startsWith(OUT)) return "";
    const run = runs.get(path), self = run ? run.members[0] : path;
    for (const c of [self, ...prefixes(self).reverse()]) {
      if (c !== self && scopes.has(c) && open.has(c)) return c;
      const r = runOf.get(c);
      if (r && r !== run && open.has(r.id)) return r.id;
    }
    return "";
  }
  const nesting = (path) => { let k = 0; for (let g = groupOf(path); g !== ""; g = groupOf(g)) k++; return k; };
  const blockOf = (id) => (scopes.get(id) || runs.get(id)).block;
  // the nodes a unit stands for: a node itself, a block's, a run's blocks' and carried concats'
  // indexed once by every prefix, so that drawing costs what is drawn, not units x nodes
  const under = new Map();
  for (const n of M.nodes) for (const p of [...prefixes(n.name), n.name]) {
    if (!under.has(p)) under.set(p, []);
    under.get(p).push(n);
  }
  const within = (id) => (runs.has(id) ? runs.get(id).members : [id]).flatMap((p) => under.get(p) || []);

  // -- the graph of visible units ------------------------------------------------
  function units() {
    const list = [INPUT], seen = new Set(list), edges = [], keys = new Set();
    const add = (src, dst, kind, tensor) => {      // tensor: what flows, for the edge's label
      const key = src + "\u0000" + dst;
      if (src === dst || keys.has(key)) return;
      keys.add(key);
      edges.push({ src, dst, kind, tensor: tensor.name || INPUT, label: compactShape(tensor) });
    };
    for (const n of M.nodes) {
      const u = unitOf(n.name);
      if (!seen.has(u)) { seen.add(u); list.push(u); }
      n.inputs.forEach((src, k) => {
        const alone = u === n.name;
        const kind = alone && n.op === "add" && n.skip[k] ? "skip" : alone && n.op === "concat" ? "concat" : "";
        add(src === INPUT ? INPUT : unitOf(src), u, kind, src === INPUT ? { shape: M.input } : nodes.get(src));
      });
    }
    for (const o of M.outputs) { list.push(OUT + o.name); add(unitOf(o.node), OUT + o.name, "", nodes.get(o.node)); }
    return { list, edges };
  }

  // a name inside its frame (whose header has the rest); an index keeps its parent: layer3.1
  function shortName(u) {
    if (runs.has(u)) return runs.get(u).name;      // the frame it sits in names the rest
    let g = groupOf(u);
    while (runs.has(g)) g = groupOf(g);
    const rel = g ? u.slice(g.length + 1) : u;
    return /^\d+$/.test(rel) ? u.split(".").slice(-2).join(".") : rel;
  }
  // what a closed block hides that defines the network: its residual add, its concatenation
  function mergeTags(id) {
    const ops = new Set(within(id).map((n) => n.op));
    return [["add", "\u2295 residual"], ["concat", "\u29fa concat"], ["mul", "\u2297 gate"]]
      .filter(([op]) => ops.has(op)).map(([, tag]) => tag).join(" ");
  }

  // -- text and sizes -------------------------------------------------------------
  const measure = document.createElement("canvas").getContext("2d");
  function textWidth(text, font) { measure.font = font; return measure.measureText(text).width; }

  function unitLines(u) {
    if (u === INPUT) return [["input", "name"], [shapeText(M.input), "small"]];
    if (u.startsWith(OUT)) {
      const o = M.outputs.find((x) => OUT + x.name === u);
      return [[o.name, "name"], [shapeOf(nodes.get(o.node)) + (o.train_only ? " training only" : ""), "small"]];
    }
    const counts = (p, m) => [p ? fmt(p) + " params" : "", m ? fmt(m) + " MACs" : ""].filter(Boolean).join(" · ");
    const name = shortName(u);
    if (scopes.has(u) || runs.has(u)) {
      const s = scopes.get(u) || runs.get(u), tags = mergeTags(u);
      return [["+ " + name, "name"], [s.block + (tags ? "  " + tags : ""), ""], [(s.shape.length ? shapeOf(s) + " " : "") + counts(s.params, s.macs), "small"]];
    }
    const n = nodes.get(u);
    return [[name, "name"], [n.label, ""], [shapeOf(n) + " " + counts(n.params, n.macs), "small"]];
  }
  function lineFont(cls) { return (cls === "name" ? "bold 12px " : cls === "small" ? "10px " : "12px ") + "sans-serif"; }
  function unitSize(u) {
    const lines = unitLines(u);
    const w = Math.max(...lines.map(([t, c]) => textWidth(t, lineFont(c))));
    return { w: Math.ceil(w) + 16, h: lines.length * LINE + 10 };
  }

  // -- layout: one layered layout per open block, nested --------------------------
  function layout() {
    const { list, edges } = units();
    const order = new Map(list.map((u, i) => [u, i]));
    const items = new Map([["", []]]);            // group -> its direct items (units and open blocks)
    const place = (item) => {
      const g = groupOf(item);
      if (!items.has(g)) { items.set(g, []); place(g); }
      items.get(g).push(item);
    };
    for (const u of list) place(u);
    const firstUnit = new Map();                   // an item's position in drawing order: its first unit's
    for (const u of list) for (let p = u; ; p = groupOf(p)) { if (!firstUnit.has(p)) firstUnit.set(p, order.get(u)); if (p === "") break; }
    const byGroup = new Map();                     // group -> [item, item] of each edge laid out in it
    for (const e of edges) {                       // the nearest group holding both ends, and their items in it
      const up = (u) => { const c = [u]; while (c[c.length - 1] !== "") c.push(groupOf(c[c.length - 1])); return c; };
      const a = up(e.src), b = up(e.dst), at = new Map(a.map((x, i) => [x, i]));
      const k = b.findIndex((x, i) => i > 0 && at.get(x) > 0);
      if (k < 0) continue;
      if (!byGroup.has(b[k])) byGroup.set(b[k], []);
      byGroup.get(b[k]).push([a[at.get(b[k]) - 1], b[k - 1]]);
    }
    const boxes = new Map();
    const lay = (g) => {
      const its = items.get(g).slice().sort((a, b) => firstUnit.get(a) - firstUnit.get(b));
      const size = new Map(its.map((it) => [it, items.has(it) && it !== "" ? lay(it) : unitSize(it)]));
      const inG = new Set(its), preds = new Map(its.map((i) => [i, new Set()])), succs = new Map(its.map((i) => [i, new Set()]));
      for (const [a, b] of byGroup.get(g) || []) {
        if (a !== b && inG.has(a) && inG.has(b)) { preds.get(b).add(a); succs.get(a).add(b); }
      }
      const layer = new Map();
      for (const it of its) layer.set(it, Math.max(-1, ...[...preds.get(it)].map((p) => layer.has(p) ? layer.get(p) : -1)) + 1);
      const layers = [];
      for (const it of its) (layers[layer.get(it)] = layers[layer.get(it)] || []).push(it);
      const pos = new Map();
      const index = (row) => row.forEach((it, i) => pos.set(it, (i + 0.5) / row.length));
      layers.forEach(index);
      const bary = (it, nb) => { const v = [...nb.get(it)].filter((x) => pos.has(x)).map((x) => pos.get(x)); return v.length ? v.reduce((s, x) => s + x, 0) / v.length : pos.get(it); };
      for (let sweep = 0; sweep < 3; sweep++) {
        for (let l = 1; l < layers.length; l++) { layers[l].sort((a, b) => bary(a, preds) - bary(b, preds)); index(layers[l]); }
        for (let l = layers.length - 2; l >= 0; l--) { layers[l].sort((a, b) => bary(a, succs) - bary(b, succs)); index(layers[l]); }
      }
      let y = g === "" ? PAD : PAD + HEAD, width = 0;
      const rows = layers.map((row) => {
        const w = row.reduce((s, it) => s + size.get(it).w, 0) + GAP_X * (row.length - 1);
        const h = Math.max(...row.map((it) => size.get(it).h));
        width = Math.max(width, w);
        const r = { row, w, h, y };
        y += h + GAP_Y;
        return r;
      });
      const headW = g === "" ? 0 : textWidth(headText(g), "bold 11px sans-serif") + 2 * PAD;
      const groupW = Math.max(width + 2 * PAD, headW), offset = (groupW - width - 2 * PAD) / 2;
      const local = new Map();
      for (const r of rows) {
        let x = PAD + offset + (width - r.w) / 2;
        for (const it of r.row) { const s = size.get(it); local.set(it, { x, y: r.y, w: s.w, h: s.h }); x += s.w + GAP_X; }
      }
      boxes.set(g, { local, items: its });
      return { w: groupW, h: y - GAP_Y + PAD };
    };
    const whole = lay("");
    const abs = new Map();
    const put = (g, ox, oy) => {
      const { local, items: its } = boxes.get(g);
      for (const it of its) {
        const b = local.get(it), a = { x: ox + b.x, y: oy + b.y, w: b.w, h: b.h, frame: items.has(it) && it !== "" };
        abs.set(it, a);
        if (a.frame) put(it, a.x, a.y);
      }
    };
    put("", 0, 0);
    return { list, edges, abs, width: whole.w, height: whole.h };
  }

  // -- drawing --------------------------------------------------------------------
  function el(tag, attrs, parent) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, str, cls) {
    const t = el("text", { x, y }, parent);
    if (cls) t.setAttribute("class", cls);
    t.textContent = str;
    return t;
  }

  function draw() {
    current = layout();
    const svg = $("graph");
    svg.replaceChildren();
    svg.setAttribute("width", Math.ceil(current.width * zoom));
    svg.setAttribute("height", Math.ceil(current.height * zoom));
    svg.setAttribute("viewBox", `0 0 ${Math.ceil(current.width)} ${Math.ceil(current.height)}`);
    const defs = el("defs", {}, svg);
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" }, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#555" }, marker);
    const frames = [...current.abs].filter(([, a]) => a.frame).sort((p, q) => nesting(p[0]) - nesting(q[0]));
    for (const [path, a] of frames) drawFrame(svg, path, a);
    const taken = new Taken([...current.list.map((u) => current.abs.get(u)),   // what an edge label must not cover
      ...frames.flatMap(([path, a]) => [{ x: a.x, y: a.y - 2, w: textWidth(headText(path), "bold 11px sans-serif") + 16, h: HEAD + 2 },
        { x: a.x, y: a.y - 2, w: a.w, h: 4 }, { x: a.x, y: a.y + a.h - 2, w: a.w, h: 4 }])]);   // header, top and bottom lines
    for (const e of current.edges) {
      const s = current.abs.get(e.src), t = current.abs.get(e.dst);
      if (!s || !t) continue;
      const x1 = s.x + s.w / 2, y1 = s.y + s.h, x2 = t.x + t.w / 2, y2 = t.y, my = (y1 + y2) / 2;
      el("path", { class: "edge " + e.kind, d: `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2}`, "marker-end": "url(#arrow)" }, svg);
      edgeLabel(svg, e, [x1, y1, x2, y2], taken);
    }
    for (const u of current.list) drawUnit(svg, u, current.abs.get(u));
    fillTable();
    if (selected) select(selected, false);
  }

  // rectangles by the grid cells they touch: a label's test reads its neighbours only, not every box
  class Taken {
    constructor(rects) { this.cells = new Map(); rects.forEach((r) => this.push(r)); }
    keys(r) {
      const out = [], C = 128;
      for (let i = Math.floor(r.x / C); i <= Math.floor((r.x + r.w) / C); i++)
        for (let j = Math.floor(r.y / C); j <= Math.floor((r.y + r.h) / C); j++) out.push(i + "," + j);
      return out;
    }
    push(r) { for (const k of this.keys(r)) { if (!this.cells.has(k)) this.cells.set(k, []); this.cells.get(k).push(r); } }
    hits(box) {
      const hit = (a) => box.x < a.x + a.w && a.x < box.x + box.w && box.y < a.y + a.h && a.y < box.y + box.h;
      return this.keys(box).some((k) => (this.cells.get(k) || []).some(hit));
    }
  }

  // an edge's tensor shape beside the edge, nearest its middle where it covers no box, frame line,
  // header or other label; none where there is no such place
  function edgeLabel(svg, e, [x1, y1, x2, y2], taken) {
    if (!e.label) return;
    const w = textWidth(e.label, LABEL_FONT);
    for (const t of [0.5, 0.35, 0.65, 0.2, 0.8]) {   // along the curve M x1,y1 C x1,my x2,my x2,y2
      const s = 1 - t, x = x1 + (x2 - x1) * t * t * (3 - 2 * t) + 4;
      const y = y1 * s * s * s + 3 * ((y1 + y2) / 2) * s * t + y2 * t * t * t;
      const box = { x: x - 3, y: y - 5, w: w + 6, h: 10 };          // a little room either side
      if (box.x + box.w > current.width || taken.hits(box)) continue;
      taken.push(box);
      return shapeLabel(svg, e, x, y);
    }
  }
  function shapeLabel(svg, e, x, y) {
    const t = text(svg, x, y + 3, e.label, "shape");
    t.setAttribute("data-src", e.src);
    t.setAttribute("data-dst", e.dst);
    t.setAttribute("data-tensor", e.tensor);
  }

  const headText = (path) => "\u2212 " + shortName(path) + " \u00b7 " + blockOf(path);
  function drawFrame(svg, path, a) {
    const g = el("g", { class: "frame" + (runs.has(path) ? " run" : ""), "data-id": path }, svg);
    el("rect", { x: a.x, y: a.y, width: a.w, height: a.h, rx: 6 }, g);
    const head = text(g, a.x + 8, a.y + 15, headText(path), "head");
    head.addEventListener("click", () => { close(path); draw(); });
    g.addEventListener("mousemove", (ev) => { if (ev.target === head) tip(ev, path); });
    g.addEventListener("mouseleave", hideTip);
  }

  function close(path) {             // a run closes with every block in it
    const paths = runs.has(path) ? runs.get(path).members : [];
    for (const p of [...open]) if (p === path || paths.some((m) => p === m || p.startsWith(m + "."))) open.delete(p);
  }

  function drawUnit(svg, u, a) {
    const block = scopes.has(u) || runs.has(u), io = u === INPUT || u.startsWith(OUT);
    const n = nodes.get(u), inside = io ? [] : within(u), train = inside.length > 0 && inside.every((x) => x.train_only);
    const g = el("g", { class: "unit" + (block ? " block" : "") + (runs.has(u) ? " run" : "") + (io ? " io" : "")
      + (train ? " train" : ""), "data-id": u }, svg);
    if (block) el("rect", { class: "shadow", x: a.x + 4, y: a.y - 4, width: a.w, height: a.h, rx: 3 }, g);
    el("rect", { class: "box", x: a.x, y: a.y, width: a.w, height: a.h, rx: block ? 3 : 8, fill: n ? fill(n.op) : "#fff" }, g);
    unitLines(u).forEach(([str, cls], i) => {
      const t = text(g, a.x + a.w / 2, a.y + 5 + LINE * (i + 1) - 3, str, cls);
      t.setAttribute("text-anchor", "middle");
    });
    g.addEventListener("mousemove", (ev) => tip(ev, u));
    g.addEventListener("mouseleave", hideTip);
    g.addEventListener("click", () => {
      if (block) { open.add(u); selected = u; draw(); reveal(u); } else if (!io) select(u, true);
    });
  }

  const FILL = { conv: "#cfe2f3", linear: "#d9d2e9", rbf: "#d9d2e9", batchnorm: "#fff2cc", lrn: "#fff2cc", maxpool: "#d9ead3",
    avgpool: "#d9ead3", adaptive_avgpool: "#d9ead3", global_avgpool: "#d9ead3", subsample: "#d9ead3", add: "#f9cb9c",
    concat: "#b6d7a8", mul: "#ead1dc", dropout: "#eeeeee", flatten: "#eeeeee" };
  const fill = (op) => FILL[op] || "#ffffff";

  // -- details: tooltip and panel -----------------------------------------------------
  function facts(id) {
    // [label, value] rows: exact counts, as `archspec summary --json` gives them
    if (scopes.has(id) || runs.has(id)) {
      const s = scopes.get(id) || runs.get(id);
      const more = s.args ? Object.entries(s.args) : [["blocks", s.members.filter((m) => scopes.has(m)).join(", ")]];
      return { title: id, sub: s.block, rows: [["output", s.shape.length ? shapeOf(s) : "?"], ["params", fmt(s.params)],
        ["buffers", fmt(s.buffers)], ["MACs", fmt(s.macs)], ...more], weights: [] };
    }
    const n = nodes.get(id);
    if (!n) return null;
    return { title: id, sub: n.label, rows: [["op", n.op], ["output", shapeOf(n)], ["params", fmt(n.params)],
      ["buffers", fmt(n.buffers)], ["MACs", fmt(n.macs)], ["inputs", n.inputs.join(", ")], ...Object.entries(n.attrs)],
      weights: n.weights };
  }
  function factTable(f, parent) {
    const table = document.createElement("table");
    const add = (k, v) => {
      const tr = table.insertRow(), a = tr.insertCell(), b = tr.insertCell();
      a.textContent = k; b.textContent = v;
    };
    f.rows.forEach(([k, v]) => add(k, v));
    f.weights.forEach((w) => add(w.key + (w.buffer ? " (buffer)" : ""), shapeText(w.shape)));
    parent.appendChild(table);
  }
  function tip(ev, id) {
    const f = facts(id), t = $("tip");
    if (!f) return hideTip();
    t.replaceChildren();
    const b = document.createElement("b"); b.textContent = f.title + " · " + f.sub; t.appendChild(b);
    factTable(f, t);
    t.hidden = false;
    t.style.left = Math.min(ev.clientX + 14, window.innerWidth - t.offsetWidth - 8) + "px";
    t.style.top = Math.min(ev.clientY + 14, window.innerHeight - t.offsetHeight - 8) + "px";
  }
  function hideTip() { $("tip").hidden = true; }

  function select(id, scroll) {
    selected = id;
    document.querySelectorAll(".selected").forEach((e) => e.classList.remove("selected"));
    document.querySelectorAll("#layers tr.sel").forEach((e) => e.classList.remove("sel"));
    const shape = document.querySelector(`#graph [data-id="${CSS.escape(id)}"]`);
    if (shape) shape.classList.add("selected");
    const row = document.querySelector(`#layers tr[data-id="${CSS.escape(id)}"]`);
    if (row) { row.classList.add("sel"); if (scroll) row.scrollIntoView({ block: "nearest" }); }
    if (shape && scroll) shape.scrollIntoView({ block: "center", inline: "center" });
    const f = facts(id), d = $("details");
    d.replaceChildren();
    if (!f) return;
    const h = document.createElement("h2"); h.textContent = f.title + " · " + f.sub; d.appendChild(h);
    factTable(f, d);
  }

  function fillTable() {            // rows built off the page, then put in at once; events delegated (below)
    const rows = document.createDocumentFragment();
    for (const u of current.list) {
      if (u === INPUT || u.startsWith(OUT)) continue;
      const f = scopes.get(u) || runs.get(u) || nodes.get(u), block = scopes.has(u) || runs.has(u);
      const tr = document.createElement("tr");
      tr.setAttribute("data-id", u);
      if (block) tr.className = "block";
      [u, f.block || f.label, f.shape.length ? shapeOf(f) : "", fmt(f.params), fmt(f.macs)].forEach((v, i) => {
        const td = document.createElement("td"); td.textContent = v; if (i >= 3) td.className = "num";
        tr.appendChild(td);
      });
      rows.appendChild(tr);
    }
    document.querySelector("#layers tbody").replaceChildren(rows);
  }
  function tableEvents() {          // one listener per kind for all rows, not four per row per draw
    const body = document.querySelector("#layers tbody"), row = (ev) => ev.target.closest("tr");
    let hovered = null;
    const hover = (u) => { if (hovered) highlight(hovered, false); hovered = u; if (u) highlight(u, true); };
    body.addEventListener("click", (ev) => { const tr = row(ev); if (tr) select(tr.dataset.id, true); });
    body.addEventListener("dblclick", (ev) => {
      const u = row(ev) && row(ev).dataset.id;
      if (u && (scopes.has(u) || runs.has(u))) { open.add(u); draw(); }
    });
    body.addEventListener("mouseover", (ev) => { const tr = row(ev); hover(tr ? tr.dataset.id : null); });
    body.addEventListener("mouseleave", () => hover(null));
  }
  function highlight(id, on) {
    const shape = document.querySelector(`#graph [data-id="${CSS.escape(id)}"]`);
    if (shape) shape.classList.toggle("hl", on);
  }

  // -- search -----------------------------------------------------------------------
  function reveal(id) {           // open every block and run above `id`, draw, select it and scroll to it
    let changed = false;
    const opens = (x) => { if (!open.has(x)) { open.add(x); changed = true; } };
    for (const p of [...prefixes(id), id]) {
      if (runOf.has(p)) opens(runOf.get(p).id);
      if (p !== id && scopes.has(p)) opens(p);
    }
    if (changed) draw();
    select(id, true);
  }
  function matches(q) {
    q = q.trim().toLowerCase();
    if (!q) return [];
    const all = [...scopes.keys(), ...nodes.keys()];
    return all.filter((x) => x.toLowerCase().includes(q)).sort((a, b) => a.length - b.length).slice(0, 15);
  }
  function showMatches() {
    const ul = $("matches"), found = matches($("search").value);
    ul.replaceChildren();
    found.forEach((m, i) => {
      const li = document.createElement("li");
      li.textContent = m + (scopes.has(m) ? " · " + scopes.get(m).block : " · " + nodes.get(m).label);
      li.setAttribute("data-id", m);
      if (i === 0) li.className = "active";
      li.addEventListener("mousedown", (ev) => { ev.preventDefault(); ul.hidden = true; reveal(m); });
      ul.appendChild(li);
    });
    ul.hidden = !found.length;
  }
  $("search").addEventListener("input", showMatches);
  $("search").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { const m = matches($("search").value)[0]; $("matches").hidden = true; if (m) reveal(m); }
    if (ev.key === "Escape") $("matches").hidden = true;
  });
  $("search").addEventListener("blur", () => { $("matches").hidden = true; });
  $("expand-all").addEventListener("click", () => { [...scopes.keys(), ...runs.keys()].forEach((p) => open.add(p)); draw(); });
  $("collapse-all").addEventListener("click", () => { open.clear(); draw(); });
  $("zoom-in").addEventListener("click", () => { zoom *= 1.25; draw(); });
  $("zoom-out").addEventListener("click", () => { zoom /= 1.25; draw(); });

  tableEvents();
  $("title").textContent = M.title;
  $("totals").textContent = `params ${fmt(M.totals.params)} · MACs ${fmt(M.totals.macs)} · input ${shapeText(M.input)}`;
  $("totals").title = M.convention;
  draw();
})();
