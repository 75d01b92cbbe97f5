// archspec's interactive diagram. Self-contained: no network. Layout by elkjs (ELK layered, Eclipse
// Public License 2.0, vendored beside this file as elk.bundled.js and inlined into the page before it).
//
// Layout: ELK's layered algorithm, each open block laid out by itself and nested in its parent as one
// box (see "layout" below); edges routed orthogonally around the boxes and through ports on the
// frames' borders, so an edge never passes through a box it does not connect, whatever is open.
// A frame that is one column (each box fed by the one above) is laid out here instead ("stack").
// A run of identical repeated blocks (layer1.0 – layer1.2) is one "×N" box, as in the static diagram,
// until it is opened: then a frame holds its blocks, each closed.
//
// View: the drawing sits in one <g> moved and scaled by the view (fit, wheel zoom about the pointer,
// drag pan, minimap, keyboard). Spec text reaches the page only through textContent and setAttribute.
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
  const INPUT = "input", OUT = "\u21a6 ", ROOT = "\u0000root", HEADER = "\u0000head ";   // output units: OUT + output name
  const PAD = 10, HEAD = 20, LINE = 14, LABEL_FONT = "9px sans-serif", HEAD_FONT = "bold 11px sans-serif";
  const view = { k: 1, x: 0, y: 0 };               // screen = world * k + (x, y)
  // below this zoom text is under 2.5 px: not drawn (CSS `.far`), which halves the browser's work on
  // a thousand open boxes (DenseNet-264) and keeps panning them smooth; boxes and edges stay
  const FAR = 0.2;
  let selected = null, current = null, busy = 0, queue = Promise.resolve();
  // ELK runs in workers made from the page's own copy of elkjs (a blob: URL; nothing is fetched), so
  // the page stays responsive while it lays out; where a page may not start workers, in the page
  const WORKER = ";(function () { const elk = new ELK(); self.onmessage = (m) => elk.layout(m.data.graph).then(" +
    "(g) => self.postMessage({ id: m.data.id, graph: g }), (e) => self.postMessage({ id: m.data.id, error: String(e) })); })();";
  function worker() {
    try {
      const w = new Worker(URL.createObjectURL(new Blob([$("elk").textContent, WORKER], { type: "text/javascript" })));
      const waiting = new Map();
      let next = 0;
      w.onmessage = (m) => {
        const [ok, fail] = waiting.get(m.data.id);
        waiting.delete(m.data.id);
        if (m.data.error) fail(new Error(m.data.error)); else ok(m.data.graph);
      };
      w.onerror = (ev) => { ev.preventDefault(); for (const [, fail] of waiting.values()) fail(new Error("worker")); waiting.clear(); };
      return { layout: (graph) => new Promise((ok, fail) => { waiting.set(next, [ok, fail]); w.postMessage({ id: next++, graph }); }) };
    } catch (err) { return null; }
  }
  let pageElk = null;
  const inPage = { layout: (graph) => (pageElk = pageElk || new ELK()).layout(graph) };
  let fore = inPage, back = null, warming = null;  // set below, once the page is read

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
  const isBlock = (id) => scopes.has(id) || runs.has(id);
  // the nodes a unit stands for: a node itself, a block's, a run's blocks' and carried concats'
  // indexed once by every prefix, so that drawing costs what is drawn, not units x nodes
  const under = new Map();
  for (const n of M.nodes) for (const p of [...prefixes(n.name), n.name]) {
    if (!under.has(p)) under.set(p, []);
    under.get(p).push(n);
  }
  const within = (id) => (runs.has(id) ? runs.get(id).members : [id]).flatMap((p) => under.get(p) || []);

  // -- the graph of visible units ------------------------------------------------
  // The shortcut of an add is found by structure in Python (the model's `skip`: per edge, or per input
  // of a node); a page without it marks an add's later inputs, as before.
  const skipEdges = new Map((M.edges || []).map((e) => [e.src + "\u0000" + e.dst, !!e.skip]));
  function isSkip(n, k) {
    if (Array.isArray(n.skip)) return !!n.skip[k];
    const key = n.inputs[k] + "\u0000" + n.name;
    return skipEdges.has(key) ? skipEdges.get(key) : n.op === "add" && k > 0;
  }
  function units() {
    const list = [INPUT], seen = new Set(list), edges = [], keys = new Set();
    const add = (src, dst, kind, tensor) => {      // tensor: what flows, for the edge's label
      const key = src + "\u0000" + dst;
      if (src === dst || keys.has(key)) return;
      keys.add(key);
      edges.push({ id: "e" + edges.length, src, dst, kind, tensor: tensor.name || INPUT, label: compactShape(tensor) });
    };
    for (const n of M.nodes) {
      const u = unitOf(n.name);
      if (!seen.has(u)) { seen.add(u); list.push(u); }
      n.inputs.forEach((src, k) => {
        const alone = u === n.name;
        const kind = alone && n.op === "add" && isSkip(n, k) ? "skip" : alone && n.op === "concat" ? "concat" : "";
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
    if (isBlock(u)) {
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
  const headText = (path) => "\u2212 " + shortName(path) + " \u00b7 " + blockOf(path);

  // -- layout: ELK layered, each open block on its own, nested ------------------------
  // Every open block is laid out by itself and then placed in its parent as one box of that size
  // (hierarchyHandling SEPARATE_CHILDREN: the cost grows with the blocks' sizes, not with the whole
  // open graph), and a block whose content is unchanged since an earlier layout is given to ELK as a
  // box of fixed size and ports (`done`), so opening or closing one block lays out only the blocks
  // around it. An edge that leaves or enters a block passes through a port on its frame: it is cut
  // into one segment per frame it crosses, each routed inside its frame around the boxes there.
  // A frame's header is a box too, in the row of the frame's entry ports (layer FIRST_SEPARATE): ELK
  // routes every edge around it, so none crosses a title (in the padding above, entering edges did).
  const LAYOUT = {
    "elk.algorithm": "layered", "elk.direction": "DOWN", "elk.hierarchyHandling": "SEPARATE_CHILDREN",
    "elk.edgeRouting": "ORTHOGONAL", "elk.json.shapeCoords": "PARENT", "elk.json.edgeCoords": "CONTAINER",
    "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",     // branches in the spec's order
    "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF", "elk.layered.nodePlacement.bk.fixedAlignment": "BALANCED",
    "elk.layered.spacing.nodeNodeBetweenLayers": "26", "elk.spacing.nodeNode": "18",
    "elk.layered.spacing.edgeNodeBetweenLayers": "12", "elk.spacing.edgeNode": "12", "elk.spacing.edgeEdge": "8",
    "elk.layered.spacing.edgeEdgeBetweenLayers": "8", "elk.padding": "[top=12,left=12,bottom=12,right=12]",
    "elk.separateConnectedComponents": "false",
  };
  const done = new Map();                          // a block's content, as text -> its layout, relative to it
  const token = new Map();                         // the same text -> a short name, so a parent's text stays short
  // each frame's content as text, innermost first; a frame laid out before becomes a fixed box
  function reuse(n, sigs) {
    n.children = n.children.map((c) => {
      if (!c.children) return c;
      const sig = reuse(c, sigs);
      sigs.set(c.id, sig);
      const d = done.get(sig) || chain(c) || stack(c, sigs);
      if (d && !done.has(sig)) done.set(sig, d);
      return d ? { id: c.id, width: d.width, height: d.height, layoutOptions: { "elk.portConstraints": "FIXED_POS" },
        ports: d.ports.map((q) => ({ id: q.id, x: q.x, y: q.y, width: 0, height: 0 })) } : c;
    });
    const text = JSON.stringify([n.id, n.layoutOptions, n.ports, n.edges,
      n.children.map((c) => (sigs.has(c.id) ? token.get(sigs.get(c.id)) : c))]);
    if (!token.has(text)) token.set(text, "#" + token.size);
    return text;
  }
  // A frame of plain ops in one line (DenseNet's dense layers and transitions, a branch of Inception)
  // or one line and a shortcut beside it into one merge (a residual block whose shortcut is the input or
  // one line of ops) is laid out here, as ELK would draw it: a column, the shortcut in a lane on the
  // right, the header right of the entry. ELK's fixed cost per graph (its JIT-compiled phases) made
  // these frames most of the time of a network opened whole (DenseNet-264: 133 of 142 frames).
  const GAP = 26;
  function lines(f) {              // the frame's nodes as main line, side line, merge and tail; or null
    const nodes = f.children.slice(1), side = (q) => (q.layoutOptions || {})["elk.port.side"];
    const inP = f.ports.find((q) => side(q) === "NORTH"), outP = f.ports.find((q) => side(q) === "SOUTH");
    if (f.ports.length !== 2 || !inP || !outP || nodes.some((c) => c.children || c.ports)) return null;
    const from = new Map();
    for (const e of f.edges) {
      const t = e.targets[0];
      if (!from.has(t)) from.set(t, []);
      from.get(t).push(e.sources[0]);
    }
    const main = [], aside = [], tail = [];
    let merge = null;
    const end = (l) => (l.length ? l[l.length - 1].id : inP.id);
    for (const c of nodes) {
      const src = from.get(c.id) || [];
      if (merge) { if (src.length === 1 && src[0] === end(tail.length ? tail : [merge])) tail.push(c); else return null; }
      else if (src.length === 1 && (main.length ? src[0] === end(main) : src[0] === inP.id)) main.push(c);
      else if (src.length === 1 && main.length && src[0] === end(aside)) aside.push(c);
      else if (src.length === 2 && main.length && src.includes(end(main)) && src.includes(end(aside))
               && end(main) !== end(aside)) merge = c;
      else return null;
    }
    const last = end(tail.length ? tail : merge ? [merge] : main);
    const edges = f.edges.length === nodes.length + 1 + (merge ? 1 : 0);   // each counted above, and the exit
    if (!main.length || (aside.length && !merge) || !edges || (from.get(outP.id) || []).join() !== last) return null;
    return { inP, outP, main, aside, merge, tail };
  }
  function chain(f) {              // laid out as `relative` gives a frame; null where `lines` is
    const l = lines(f);
    if (!l) return null;
    const head = f.children[0], stem = [...l.main, ...(l.merge ? [l.merge] : []), ...l.tail];
    const wm = Math.max(...stem.map((c) => c.width)), ws = Math.max(0, ...l.aside.map((c) => c.width));
    const cx = PAD + wm / 2, lane = PAD + wm + (ws ? 18 + ws / 2 : 12), top = PAD + head.height + 16, fork = top - 8;
    const at = new Map(), boxes = [], routes = [];
    const put = (c, x, y) => { at.set(c.id, { x, y, w: c.width, h: c.height }); boxes.push([c.id, at.get(c.id), f.id]); };
    let y = top;
    for (const c of l.main) { put(c, cx - c.width / 2, y); y += c.height + GAP; }
    let ys = top;                                  // the side line ends just above the merge
    for (const c of l.aside) ys += c.height + GAP;
    y = Math.max(y, ys);
    let ya = y - (ys - top);
    for (const c of l.aside) { put(c, lane - c.width / 2, ya); ya += c.height + GAP; }
    for (const c of [...(l.merge ? [l.merge] : []), ...l.tail]) { put(c, cx - c.width / 2, y); y += c.height + GAP; }
    const H = y - GAP + PAD + 8, W = Math.max(lane + (ws ? ws / 2 : 4) + PAD, cx + 8 + head.width + PAD);
    boxes.unshift([head.id, { x: cx + 8, y: PAD, w: head.width, h: head.height }, f.id]);
    const ends = (id) => at.get(id) || (id === l.inP.id ? { x: cx, y: 0, w: 0, h: 0 } : { x: cx, y: H, w: 0, h: 0 });
    for (const e of f.edges) {
      const a = ends(e.sources[0]), b = ends(e.targets[0]), ax = a.x + a.w / 2, bx = b.x + b.w / 2;
      const m = l.merge && e.targets[0] === l.merge.id ? at.get(l.merge.id) : null, into = m && m.x + m.w - 8;
      let pts;
      if (m && ax !== cx && ax <= into) pts = [{ x: ax, y: a.y + a.h }, { x: ax, y: m.y }];
      else if (m && ax !== cx) pts = [{ x: ax, y: a.y + a.h }, { x: ax, y: m.y - 10 }, { x: into, y: m.y - 10 }, { x: into, y: m.y }];
      else if (m && e.sources[0] === l.inP.id) pts = [{ x: cx, y: 0 }, { x: cx, y: fork }, { x: lane, y: fork }, { x: lane, y: m.y - 10 }, { x: into, y: m.y - 10 }, { x: into, y: m.y }];
      else if (e.sources[0] === l.inP.id && bx !== cx) pts = [{ x: cx, y: 0 }, { x: cx, y: fork }, { x: bx, y: fork }, { x: bx, y: b.y }];
      else pts = [{ x: ax, y: a.y + a.h }, { x: bx, y: b.y }];
      routes.push([e.id, f.id, pts]);
    }
    boxes.forEach(([, r]) => { r.frame = false; });
    return { width: W, height: H, ports: [{ id: l.inP.id, x: cx, y: 0 }, { id: l.outP.id, x: cx, y: H }], boxes, routes };
  }
  // A frame whose boxes each take an input from the box above (in graph order) is a column too, its
  // other edges (DenseNet's carried inputs, a skip from the entry) each in a lane on the right: the
  // runs of DenseNet's dense layers, ResNet's stages. A box that is a frame hangs from its entry port.
  function stack(f, sigs) {
    const side = (q) => (q.layoutOptions || {})["elk.port.side"], kids = f.children.slice(1), head = f.children[0];
    const inP = f.ports.find((q) => side(q) === "NORTH"), outP = f.ports.find((q) => side(q) === "SOUTH");
    if (f.ports.length !== 2 || !inP || !outP || !kids.length || kids.some((c) => c.children)) return null;
    const own = new Map([[inP.id, { i: -1 }], [outP.id, { i: kids.length }]]);
    kids.forEach((c, i) => { own.set(c.id, { i, c }); for (const q of c.ports || []) own.set(q.id, { i, c, q }); });
    const fed = new Set(), ins = new Map();
    for (const e of f.edges) {
      const a = own.get(e.sources[0]), b = own.get(e.targets[0]);
      if (!a || !b || a.i >= b.i || (b.i === kids.length && a.i !== kids.length - 1)) return null;
      if (b.i === a.i + 1) { fed.add(b.i); if (!ins.has(b.i)) ins.set(b.i, b.q ? b.q.x : b.c ? b.c.width / 2 : 0); }
    }
    for (let i = 0; i <= kids.length; i++) if (!fed.has(i)) return null;
    const top = PAD + head.height + 16, fork = top - 8, at = new Map();
    let y = top;
    kids.forEach((c, i) => { at.set(c.id, { x: -ins.get(i), y, w: c.width, h: c.height }); y += c.height + GAP; });
    const H = y - GAP + PAD + 8, point = (id, end) => {      // where an edge leaves or enters, cx = 0
      const o = own.get(id);
      if (o.i < 0) return { x: 0, y: 0 };
      if (o.i === kids.length) return null;                 // the exit: below the last box's exit
      const r = at.get(o.c.id);
      return o.q ? { x: r.x + o.q.x, y: r.y + o.q.y } : { x: r.x + r.w / 2, y: end ? r.y : r.y + r.h };
    };
    const right = Math.max(...[...at.values()].map((r) => r.x + r.w)), left = Math.min(0, ...[...at.values()].map((r) => r.x));
    const lanes = [], routes = [];
    for (const e of f.edges) {
      const a = own.get(e.sources[0]), b = own.get(e.targets[0]), p = point(e.sources[0], false);
      let q = point(e.targets[0], true) || { x: p.x, y: H };
      if (b.i === a.i + 1) {
        routes.push([e.id, f.id, p.x === q.x ? [p, q] : [p, { x: p.x, y: q.y - 10 }, { x: q.x, y: q.y - 10 }, q]]);
        continue;
      }
      let k = lanes.findIndex((used) => used.every(([s, t]) => t < a.i || s > b.i));
      if (k < 0) { k = lanes.length; lanes.push([]); }
      lanes[k].push([a.i, b.i]);
      if (!b.q) { const r = at.get(b.c.id); q = { x: r.x + r.w - 8, y: r.y }; }   // beside the entry from above
      const x = right + 12 + 10 * k, y0 = a.i < 0 ? fork : p.y + 8;
      routes.push([e.id, f.id, [p, { x: p.x, y: y0 }, { x, y: y0 }, { x, y: q.y - 10 }, { x: q.x, y: q.y - 10 }, q]]);
    }
    const hx = 8, W = Math.max(right + 12 + 10 * lanes.length, hx + head.width) - left, dx = PAD - left;
    const boxes = [[head.id, { x: hx + dx, y: PAD, w: head.width, h: head.height, frame: false }, f.id]];
    for (const c of kids) {                        // a frame brings what is inside it, moved with it
      const r = at.get(c.id), x = r.x + dx, inner = sigs.has(c.id) && done.get(sigs.get(c.id));
      boxes.push([c.id, { x, y: r.y, w: r.w, h: r.h, frame: !!inner }, f.id]);
      if (!inner) continue;
      for (const [id, a, in_] of inner.boxes) boxes.push([id, { x: a.x + x, y: a.y + r.y, w: a.w, h: a.h, frame: a.frame }, in_]);
      for (const [id, in_, pts] of inner.routes) routes.push([id, in_, pts.map((p) => ({ x: p.x + x, y: p.y + r.y }))]);
    }
    const last = point(f.edges.find((e) => e.targets[0] === outP.id).sources[0], false);   // the exit below it
    routes.forEach((r) => { if (r[1] === f.id) r[2] = r[2].map((p) => ({ x: p.x + dx, y: p.y })); });
    return { width: W + 2 * PAD, height: H, ports: [{ id: inP.id, x: dx, y: 0 }, { id: outP.id, x: last.x + dx, y: H }], boxes, routes };
  }
  // a frame's layout relative to its corner: its size, ports, and the boxes and routes inside it
  function relative(id, ports, abs, routes, parent) {
    const f = abs.get(id), inside = new Set([id]), d = { width: f.w, height: f.h, ports, boxes: [], routes: [] };
    for (const [u, a] of abs) if (inside.has(parent.get(u))) {   // a Map keeps the order of insertion: parents first
      d.boxes.push([u, { x: a.x - f.x, y: a.y - f.y, w: a.w, h: a.h, frame: a.frame }, parent.get(u)]);
      if (a.frame) inside.add(u);
    }
    for (const [e, r] of routes) if (inside.has(r.in)) d.routes.push([e, r.in, r.points.map((p) => ({ x: p.x - f.x, y: p.y - f.y }))]);
    return d;
  }
  function elkGraph(list, edges) {
    const root = { id: ROOT, layoutOptions: LAYOUT, children: [], edges: [] }, made = new Map([["", root]]);
    const group = (g) => {                         // a frame, its header a box ELK places (so routes avoid it)
      if (made.has(g)) return made.get(g);
      const head = { id: HEADER + g, width: Math.ceil(textWidth(headText(g), HEAD_FONT)) + 12, height: HEAD - 2,
        layoutOptions: { "elk.layered.layering.layerConstraint": "FIRST_SEPARATE" } };
      const n = { id: g, children: [head], edges: [], ports: [], layoutOptions: Object.assign({}, LAYOUT, {
        "elk.padding": `[top=${PAD},left=${PAD},bottom=${PAD},right=${PAD}]`, "elk.portConstraints": "FIXED_SIDE" }) };
      made.set(g, n);
      group(groupOf(g)).children.push(n);
      return n;
    };
    for (const u of list) { const s = unitSize(u); group(groupOf(u)).children.push({ id: u, width: s.w, height: s.h }); }
    const ports = new Set(), segs = new Map();
    const port = (g, dir, src) => {                // one port per frame, direction and tensor
      const id = g + "\u0000" + dir + "\u0000" + src;
      if (!ports.has(id)) {
        ports.add(id);
        made.get(g).ports.push({ id, width: 0, height: 0, layoutOptions: { "elk.port.side": dir === "in" ? "NORTH" : "SOUTH" } });
      }
      return id;
    };
    const seg = (g, a, b) => {
      const key = a + "\u0001" + b;
      if (!segs.has(key)) { segs.set(key, "s\u0001" + key); made.get(g).edges.push({ id: segs.get(key), sources: [a], targets: [b] }); }
      return segs.get(key);
    };
    const chain = (u) => { const c = [groupOf(u)]; while (c[c.length - 1] !== "") c.push(groupOf(c[c.length - 1])); return c; };
    for (const e of edges) {
      const up = chain(e.src), down = chain(e.dst), inDown = new Set(down), lca = up.find((g) => inDown.has(g));
      let at = e.src, within = lca;
      e.segs = [];
      for (const g of up.slice(0, up.indexOf(lca))) { const p = port(g, "out", e.src); e.segs.push(seg(g, at, p)); at = p; }
      for (const g of down.slice(0, down.indexOf(lca)).reverse()) { const p = port(g, "in", e.src); e.segs.push(seg(within, at, p)); at = p; within = g; }
      e.segs.push(seg(within, at, e.dst));
    }
    return root;
  }
  function prepare() {                             // what ELK is asked, for the blocks open now
    const { list, edges } = units(), sigs = new Map(), graph = elkGraph(list, edges);
    reuse(graph, sigs);
    return { list, edges, sigs, graph };
  }
  function absorb({ list, edges, sigs }, out) {    // ELK's answer: every box and route, and `done` grown
    const abs = new Map(), parent = new Map(), routes = new Map(), ports = new Map();
    const put = (id, a, g) => { abs.set(id, a); parent.set(id, g); };
    const walk = (n, g, ox, oy) => {               // ELK's answer (each shape relative to its parent), made absolute
      for (const e of n.edges || []) {
        const s = (e.sections || [])[0];
        if (s) routes.set(e.id, { in: g, points: [s.startPoint, ...(s.bendPoints || []), s.endPoint].map((p) => ({ x: p.x + ox, y: p.y + oy })) });
      }
      for (const c of n.children || []) {
        const x = c.x + ox, y = c.y + oy, reused = sigs.has(c.id) && !c.children && done.get(sigs.get(c.id));
        put(c.id, { x, y, w: c.width, h: c.height, frame: sigs.has(c.id) }, g);
        if (reused) {                              // laid out before: moved to where it is now
          for (const [id, a, in_] of reused.boxes) put(id, { x: a.x + x, y: a.y + y, w: a.w, h: a.h, frame: a.frame }, in_);
          for (const [id, in_, pts] of reused.routes) routes.set(id, { in: in_, points: pts.map((p) => ({ x: p.x + x, y: p.y + y })) });
        } else if (c.children) {
          ports.set(c.id, (c.ports || []).map((q) => ({ id: q.id, x: q.x, y: q.y })));
          walk(c, c.id, x, y);
        }
      }
    };
    walk(out, "", 0, 0);
    for (const [id, p] of ports) if (!done.has(sigs.get(id))) done.set(sigs.get(id), relative(id, p, abs, routes, parent));
    for (const e of edges) {                       // the segments end to end, each junction once
      const parts = e.segs.map((id) => routes.get(id) && routes.get(id).points);
      e.points = parts.every(Boolean) ? parts.flatMap((p, i) => (i ? p.slice(1) : p)) : null;
    }
    const frames = [...abs].filter(([, a]) => a.frame).map(([id]) => id);
    return { list, edges, abs, frames, width: out.width, height: out.height };
  }
  // Past FLAT boxes in one flat graph (a spec of thousands of nodes and no block) ELK's layered
  // layout takes minutes; such a graph is drawn as one column in graph order instead, each edge that
  // skips a row in its own lane right of the column: linear cost, and still through no box.
  const FLAT = 1000;
  const flat = (graph) => graph.children.length > FLAT && graph.children.every((c) => !c.children && !c.ports);
  function column(graph) {
    const GAP = 26, W = Math.max(...graph.children.map((c) => c.width)), at = new Map();
    let y = 12, lanes = 0;
    const children = graph.children.map((c) => {
      const n = { id: c.id, x: 12 + (W - c.width) / 2, y, width: c.width, height: c.height };
      y += c.height + GAP;
      at.set(c.id, n);
      return n;
    });
    const edges = graph.edges.map((e) => {
      const a = at.get(e.sources[0]), b = at.get(e.targets[0]);
      if (b.y > a.y && b.y - a.y - a.height <= GAP + 0.5) {   // the next row: straight down
        return { id: e.id, sections: [{ startPoint: { x: a.x + a.width / 2, y: a.y + a.height }, endPoint: { x: b.x + b.width / 2, y: b.y } }] };
      }
      const x = 24 + W + 8 * (lanes++ % 40), ay = a.y + a.height / 2, by = b.y + b.height / 2;
      return { id: e.id, sections: [{ startPoint: { x: a.x + a.width, y: ay }, bendPoints: [{ x, y: ay }, { x, y: by }], endPoint: { x: b.x + b.width, y: by } }] };
    });
    return { id: graph.id, width: 36 + W + 8 * Math.min(lanes, 40), height: y, children, edges };
  }
  async function layout() {
    if (done.size > 20000) { done.clear(); token.clear(); }   // a bound, not a policy
    const t0 = performance.now(), job = prepare();
    let out;
    if (flat(job.graph)) return Object.assign(absorb(job, column(job.graph)), { ms: performance.now() - t0 });
    try { out = await fore.layout(job.graph); } catch (err) {
      if (fore === inPage) throw err;              // a worker refused (a page's policy): ELK in the page
      fore = inPage; back = null;
      out = await inPage.layout(job.graph);
    }
    return Object.assign(absorb(job, out), { ms: performance.now() - t0 });
  }
  // the every-block-open layout, computed in the background after the first drawing, so that
  // "expand all" (and opening most blocks) only draws
  function warm() {
    if (!back) return;
    const was = [...open];
    [...scopes.keys(), ...runs.keys()].forEach((p) => open.add(p));
    const job = prepare();
    open.clear();
    was.forEach((p) => open.add(p));
    if (flat(job.graph)) return;
    warming = back.layout(job.graph).then((out) => { absorb(job, out); document.body.dataset.warm = "1"; }, () => null)
      .then(() => { warming = null; });          // a failure here costs only the head start
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

  // every redraw runs after the one before it; body[data-busy] is "0" when the page is drawn and idle
  function draw(anchor, all) {     // all: every block opens, whose layout the background may be computing
    busy++;
    document.body.dataset.busy = "1";
    hideTip();
    queue = queue.then(() => (all && warming) || null).then(() => render(anchor)).catch((err) => console.error(err)).finally(() => {
      if (--busy === 0) document.body.dataset.busy = "0";
    });
    return queue;
  }
  async function render(anchor) {
    const before = anchor && current && current.abs.get(anchor);
    const t0 = performance.now(), next = await layout(), fresh = !current;
    current = next;
    const g = $("viewport");
    g.replaceChildren();
    texts = []; near = [];
    const frames = current.frames.slice().sort((p, q) => nesting(p) - nesting(q));
    for (const path of frames) drawFrame(g, path, current.abs.get(path));
    const edgeLayer = el("g", { class: "edges" }, g);            // above the frames, under the boxes
    const unitLayer = el("g", { class: "units" }, g);
    const taken = new Taken([...current.list.map((u) => current.abs.get(u)),   // what an edge label must not cover
      ...frames.flatMap((path) => { const a = current.abs.get(path); return [current.abs.get(HEADER + path),
        { x: a.x, y: a.y - 2, w: a.w, h: 4 }, { x: a.x, y: a.y + a.h - 2, w: a.w, h: 4 }]; })]);   // header, top and bottom lines
    for (const e of current.edges) {
      if (!e.points) continue;
      const d = "M" + e.points.map((p) => p.x + "," + p.y).join(" L");
      el("path", { class: "edge " + e.kind, d, "marker-end": "url(#arrow)", "data-src": e.src, "data-dst": e.dst }, edgeLayer);
    }
    for (const e of current.edges) if (e.points) edgeLabel(edgeLayer, e, taken);
    for (const u of current.list) drawUnit(unitLayer, u, current.abs.get(u));
    fillTable();
    drawMinimap();
    const after = before && (current.abs.get(anchor) || current.abs.get(groupOf(anchor)));
    if (fresh) fit();
    else if (after) setView(view.k, view.x + (before.x - after.x) * view.k, view.y + (before.y - after.y) * view.k);
    else setView(view.k, view.x, view.y);
    if (selected) select(selected, false);
    markMatches();
    current.drawMs = performance.now() - t0;
    window.archspecTimings = { layout: current.ms, draw: current.drawMs, units: current.list.length };
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

  // an edge's tensor shape beside one of its vertical runs, nearest the middle, where it covers no box,
  // frame line, header or other label; none where there is no such place
  function edgeLabel(parent, e, taken) {
    if (!e.label) return;
    const w = textWidth(e.label, LABEL_FONT), p = e.points, tries = [];
    for (let i = 1; i < p.length; i++) {
      if (Math.abs(p[i].x - p[i - 1].x) > 0.5) continue;
      const y0 = Math.min(p[i].y, p[i - 1].y), len = Math.abs(p[i].y - p[i - 1].y);
      for (const t of [0.5, 0.3, 0.7]) tries.push({ x: p[i].x + 4, y: y0 + len * t, len });
    }
    tries.sort((a, b) => b.len - a.len);
    for (const { x, y } of tries) {
      const box = { x: x - 3, y: y - 5, w: w + 6, h: 10 };          // a little room either side
      if (box.x + box.w > current.width || taken.hits(box)) continue;
      taken.push(box);
      const t = text(parent, x, y + 3, e.label, "shape");
      texts.push([t, box]);
      t.setAttribute("data-src", e.src);
      t.setAttribute("data-dst", e.dst);
      t.setAttribute("data-tensor", e.tensor);
      return;
    }
  }

  function drawFrame(parent, path, a) {
    const g = el("g", { class: "frame" + (runs.has(path) ? " run" : ""), "data-id": path }, parent);
    el("rect", { x: a.x, y: a.y, width: a.w, height: a.h, rx: 6 }, g);
    const h = current.abs.get(HEADER + path);      // the title's box, laid out by ELK: no edge crosses it
    el("rect", { class: "head", x: h.x, y: h.y, width: h.w, height: h.h, rx: 3 }, g);
    texts.push([g, h]);
    const head = text(g, h.x + 6, h.y + h.h - 5, headText(path), "head");
    head.addEventListener("click", (ev) => { if (!dragged(ev)) { close(path); draw(path); } });
    g.addEventListener("mousemove", (ev) => { if (ev.target === head) tip(ev, path); });
    g.addEventListener("mouseleave", hideTip);
  }

  function close(path) {             // a run closes with every block in it
    const paths = runs.has(path) ? runs.get(path).members : [];
    for (const p of [...open]) if (p === path || paths.some((m) => p === m || p.startsWith(m + "."))) open.delete(p);
  }
  function openUnit(u) { open.add(u); selected = u; return draw(u); }

  function drawUnit(parent, u, a) {
    const block = isBlock(u), io = u === INPUT || u.startsWith(OUT);
    const n = nodes.get(u), inside = io ? [] : within(u), train = inside.length > 0 && inside.every((x) => x.train_only);
    const g = el("g", { class: "unit" + (block ? " block" : "") + (runs.has(u) ? " run" : "") + (io ? " io" : "")
      + (train ? " train" : ""), "data-id": u }, parent);
    if (block) el("rect", { class: "shadow", x: a.x + 4, y: a.y - 4, width: a.w, height: a.h, rx: 3 }, g);
    el("rect", { class: "box", x: a.x, y: a.y, width: a.w, height: a.h, rx: block ? 3 : 8, fill: n ? fill(n.op) : "#fff" }, g);
    unitLines(u).forEach(([str, cls], i) => {
      const t = text(g, a.x + a.w / 2, a.y + 5 + LINE * (i + 1) - 3, str, cls);
      t.setAttribute("text-anchor", "middle");
    });
    texts.push([g, a]);
    g.addEventListener("mousemove", (ev) => tip(ev, u));
    g.addEventListener("mouseleave", hideTip);
    g.addEventListener("click", (ev) => {
      if (dragged(ev)) return;
      if (block) openUnit(u).then(() => select(u, false)); else if (!io) select(u, false);
    });
  }

  const FILL = { conv: "#cfe2f3", linear: "#d9d2e9", rbf: "#d9d2e9", batchnorm: "#fff2cc", lrn: "#fff2cc", maxpool: "#d9ead3",
    avgpool: "#d9ead3", adaptive_avgpool: "#d9ead3", global_avgpool: "#d9ead3", subsample: "#d9ead3", add: "#f9cb9c",
    concat: "#b6d7a8", mul: "#ead1dc", dropout: "#eeeeee", flatten: "#eeeeee" };
  const fill = (op) => FILL[op] || "#ffffff";

  // -- the view: fit, zoom about a point, pan, minimap ---------------------------------
  // the canvas's place, read once per resize (reading it after a redraw would lay the page out then)
  let canvasAt = null;
  new ResizeObserver(() => { canvasAt = null; }).observe($("canvas"));
  const canvasBox = () => canvasAt || (canvasAt = $("canvas").getBoundingClientRect());
  function setView(k, x, y) {
    Object.assign(view, { k: Math.min(8, Math.max(0.02, k)), x, y });
    $("viewport").setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
    $("graph").classList.toggle("far", view.k < FAR);
    $("zoom-level").textContent = Math.round(view.k * 100) + "%";
    hideTip();
    drawMinimapView();
    nearText();
  }
  // Text is laid out only near the screen (the view and half a screen around it): the browser's work
  // per drawing or pan grows with what is seen, not with every box of a network opened whole.
  let texts = [], near = [];                       // [element, its box] of each unit, frame title and label
  function nearText() {
    if (!current || view.k < FAR) return;
    const v = visible(), x = v.x - v.w / 2, y = v.y - v.h / 2, w = 2 * v.w, h = 2 * v.h;
    texts.forEach(([e, r], i) => {
      const on = r.x < x + w && x < r.x + r.w && r.y < y + h && y < r.y + r.h;
      if (on !== near[i]) { near[i] = on; e.classList.toggle("near", on); }
    });
  }
  function fit() {                   // the whole drawing on screen, centred, never above 100%
    const c = canvasBox(), m = 16;
    const k = Math.min(1, (c.width - 2 * m) / current.width, (c.height - 2 * m) / current.height);
    setView(k, (c.width - current.width * k) / 2, Math.max(m, (c.height - current.height * k) / 2));
  }
  function zoomAt(factor, sx, sy) {  // sx, sy: a point of the canvas that stays where it is
    const k = Math.min(8, Math.max(0.02, view.k * factor)), f = k / view.k;
    setView(k, sx - (sx - view.x) * f, sy - (sy - view.y) * f);
  }
  function centerOn(a) {
    const c = canvasBox();
    setView(view.k, c.width / 2 - (a.x + a.w / 2) * view.k, c.height / 2 - (a.y + a.h / 2) * view.k);
  }
  function visible() {               // the part of the drawing on screen, in its coordinates
    const c = canvasBox();
    return { x: -view.x / view.k, y: -view.y / view.k, w: c.width / view.k, h: c.height / view.k };
  }
  let drag = null;
  const dragged = (ev) => drag && drag.moved && drag.id === ev.pointerId;   // a pan ends without a click
  function viewEvents() {
    const cv = $("canvas");
    cv.addEventListener("wheel", (ev) => {          // wheel and ctrl+wheel (pinch) zoom about the pointer
      ev.preventDefault();
      const c = canvasBox(), step = ev.deltaMode === 1 ? ev.deltaY * 16 : ev.deltaY;
      zoomAt(Math.exp(-step * (ev.ctrlKey ? 0.004 : 0.0015)), ev.clientX - c.left, ev.clientY - c.top);
    }, { passive: false });
    cv.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      drag = { id: ev.pointerId, sx: ev.clientX, sy: ev.clientY, x: view.x, y: view.y, moved: false };
    });
    window.addEventListener("pointermove", (ev) => {
      if (!drag || drag.id !== ev.pointerId || !(ev.buttons & 1)) return;
      const dx = ev.clientX - drag.sx, dy = ev.clientY - drag.sy;
      if (!drag.moved && Math.hypot(dx, dy) < 4) return;
      drag.moved = true;
      cv.classList.add("panning");
      setView(view.k, drag.x + dx, drag.y + dy);
    });
    window.addEventListener("pointerup", () => {
      cv.classList.remove("panning");
      setTimeout(() => { drag = null; }, 0);        // after the click that ends the drag is ignored
    });
    $("minimap").addEventListener("pointerdown", (ev) => { ev.stopPropagation(); miniMove(ev); });
    $("minimap").addEventListener("pointermove", (ev) => { if (ev.buttons & 1) miniMove(ev); });
    window.addEventListener("resize", () => { canvasAt = null; if (current) setView(view.k, view.x, view.y); });
  }
  function miniScale() {
    const mm = $("minimap"), r = mm.getBoundingClientRect();
    return { r, s: Math.min(r.width / current.width, r.height / current.height) };
  }
  function miniMove(ev) {             // the minimap centres the view where it is pressed
    const { r, s } = miniScale(), v = visible();
    const x = (ev.clientX - r.left) / s, y = (ev.clientY - r.top) / s;
    centerOn({ x: x - v.w / 2, y: y - v.h / 2, w: v.w, h: v.h });
  }
  function drawMinimap() {
    const mm = $("minimap");
    mm.setAttribute("viewBox", `0 0 ${current.width} ${current.height}`);
    mm.replaceChildren();
    for (const path of current.frames) { const a = current.abs.get(path); el("rect", { x: a.x, y: a.y, width: a.w, height: a.h, class: "mframe" }, mm); }
    for (const u of current.list) {
      const a = current.abs.get(u);
      el("rect", { x: a.x, y: a.y, width: a.w, height: a.h, class: "munit" + (isBlock(u) ? " mblock" : "") }, mm);
    }
    el("rect", { id: "minimap-view", x: 0, y: 0, width: 0, height: 0 }, mm);
  }
  function drawMinimapView() {
    const r = $("minimap-view");
    if (!r) return;
    const v = visible();
    for (const [k, val] of Object.entries({ x: v.x, y: v.y, width: v.w, height: v.h })) r.setAttribute(k, val);
  }

  // -- keyboard: arrows move between boxes, Enter opens, Escape closes, f fits ----------
  function neighbour(from, key) {
    const a = current.abs.get(from), cx = a.x + a.w / 2, cy = a.y + a.h / 2;
    const dir = { ArrowDown: [0, 1], ArrowUp: [0, -1], ArrowRight: [1, 0], ArrowLeft: [-1, 0] }[key];
    let best = null, bestCost = Infinity;
    for (const u of current.list) {
      if (u === from) continue;
      const b = current.abs.get(u), dx = b.x + b.w / 2 - cx, dy = b.y + b.h / 2 - cy;
      const along = dx * dir[0] + dy * dir[1], across = Math.abs(dx * dir[1] - dy * dir[0]);
      if (along <= 1) continue;
      const cost = along + 2 * across;             // nearest in that direction, straight ahead first
      if (cost < bestCost) { bestCost = cost; best = u; }
    }
    return best;
  }
  function onKey(ev) {
    if (ev.target.closest && ev.target.closest("input, textarea")) return;
    const here = selected && current.abs.has(selected) && !current.frames.includes(selected) ? selected : null;
    if (ev.key.startsWith("Arrow")) {
      const inFrame = (u) => { for (let g = groupOf(u); g !== ""; g = groupOf(g)) if (g === selected) return true; return false; };
      const next = here ? neighbour(here, ev.key) : current.list.find(inFrame) || current.list[0];   // a frame: its first box
      if (next) { select(next, true); ev.preventDefault(); }
    } else if (ev.key === "Enter" && here && isBlock(here)) {
      openUnit(here).then(() => select(here, false));
    } else if (ev.key === "Escape") {
      const g = selected && (current.frames.includes(selected) ? selected : groupOf(selected));
      if (g) { close(g); selected = g; draw(g); }
    } else if (ev.key === "f" || ev.key === "0") fit();
    else if (ev.key === "+" || ev.key === "=") zoomAt(1.25, canvasBox().width / 2, canvasBox().height / 2);
    else if (ev.key === "-") zoomAt(0.8, canvasBox().width / 2, canvasBox().height / 2);
    else if (ev.key === "/") { $("search").focus(); ev.preventDefault(); }
  }

  // -- export: what is on screen, as SVG or PNG ----------------------------------------
  function exportSVG() {              // the drawing's own <svg>, cut to the view, with the page's rules inline
    const v = visible(), svg = $("graph").cloneNode(true);
    svg.querySelector("#viewport").removeAttribute("transform");
    svg.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
    svg.setAttribute("width", Math.round(v.w));
    svg.setAttribute("height", Math.round(v.h));
    const style = document.createElementNS(SVG, "style");
    style.textContent = [...document.styleSheets].flatMap((s) => [...s.cssRules]).map((r) => r.cssText)
      .filter((t) => t.startsWith("svg") || t.startsWith("#graph")).join("\n").replace(/#graph /g, "");
    svg.insertBefore(el("rect", { x: v.x, y: v.y, width: v.w, height: v.h, fill: "#fcfcfc" }), svg.querySelector("#viewport"));
    svg.insertBefore(style, svg.firstChild);
    return new XMLSerializer().serializeToString(svg);
  }
  function save(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
  function exportPNG() {              // the same SVG drawn on a canvas, at twice the view's size
    const text = exportSVG(), v = visible(), img = new Image(), scale = 2 * view.k;
    return new Promise((resolve, reject) => {
      img.onload = () => {
        const c = document.createElement("canvas");
        c.width = Math.max(1, Math.round(v.w * scale));
        c.height = Math.max(1, Math.round(v.h * scale));
        const ctx = c.getContext("2d");
        ctx.fillStyle = "#fcfcfc";
        ctx.fillRect(0, 0, c.width, c.height);
        ctx.drawImage(img, 0, 0, c.width, c.height);
        c.toBlob((b) => (b ? resolve(b) : reject(new Error("PNG export failed"))), "image/png");
      };
      img.onerror = () => reject(new Error("PNG export failed"));
      img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(text);
    });
  }
  const fileName = (ext) => (M.name || "model").replace(/[^\w.-]+/g, "_") + "." + ext;

  // -- details: tooltip and panel -----------------------------------------------------
  function facts(id) {
    // [label, value] rows: exact counts, as `archspec summary --json` gives them
    if (isBlock(id)) {
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
    if (drag && drag.moved) return;
    const f = facts(id), t = $("tip");
    if (!f) return hideTip();
    t.replaceChildren();
    const b = document.createElement("b"); b.textContent = f.title + " · " + f.sub; t.appendChild(b);
    factTable(f, t);
    t.hidden = false;
    t.dataset.id = id;
    t.style.left = Math.min(ev.clientX + 14, window.innerWidth - t.offsetWidth - 8) + "px";
    t.style.top = Math.min(ev.clientY + 14, window.innerHeight - t.offsetHeight - 8) + "px";
  }
  function hideTip() { $("tip").hidden = true; }

  function select(id, reveal) {       // reveal: bring it on screen (keyboard, search, table)
    selected = id;
    document.querySelectorAll(".selected").forEach((e) => e.classList.remove("selected"));
    document.querySelectorAll("#layers tr.sel").forEach((e) => e.classList.remove("sel"));
    const shape = document.querySelector(`#graph [data-id="${CSS.escape(id)}"]`);
    if (shape) shape.classList.add("selected");
    const row = rowOf(id);
    if (row) { row.classList.add("sel"); if (reveal) row.scrollIntoView({ block: "nearest" }); }
    const a = current && current.abs.get(id), v = current && visible();
    if (a && reveal && (a.x < v.x || a.y < v.y || a.x + a.w > v.x + v.w || a.y + a.h > v.y + v.h)) centerOn(a);
    const f = facts(id), d = $("details");
    d.replaceChildren();
    if (!f) return;
    const h = document.createElement("h2"); h.textContent = f.title + " · " + f.sub; d.appendChild(h);
    factTable(f, d);
  }

  // The table lists what is drawn, ROWS rows at a time: the next ROWS when its end scrolls into view
  // (or a row further down is selected). A thousand rows laid out at once cost the browser more than
  // the drawing itself (DenseNet-264 open: about 0.5 s of its layout).
  const ROWS = 120;
  let listed = [], shown = 0;
  function fillTable() {
    listed = current.list.filter((u) => u !== INPUT && !u.startsWith(OUT));
    shown = 0;
    document.querySelector("#layers tbody").replaceChildren();
    moreRows(ROWS);
  }
  function moreRows(upTo) {         // rows built off the page, then put in at once; events delegated (below)
    const rows = document.createDocumentFragment(), end = Math.min(listed.length, Math.max(upTo, shown + 1));
    for (; shown < end; shown++) {
      const u = listed[shown], f = scopes.get(u) || runs.get(u) || nodes.get(u), block = isBlock(u);
      const tr = document.createElement("tr");
      tr.setAttribute("data-id", u);
      if (block) tr.className = "block";
      [u, f.block || f.label, f.shape.length ? shapeOf(f) : "", fmt(f.params), fmt(f.macs)].forEach((v, i) => {
        const td = document.createElement("td");
        if (i === 0) v.split(/(?<=\.)/).forEach((part, k) => { if (k) td.appendChild(document.createElement("wbr")); td.append(part); });
        else td.textContent = v;                   // a path may wrap after its dots, never inside a name
        if (i >= 3) td.className = "num";
        tr.appendChild(td);
      });
      rows.appendChild(tr);
    }
    document.querySelector("#layers tbody").appendChild(rows);
    $("table-more").hidden = shown >= listed.length;
    $("table-more").textContent = `${listed.length - shown} more rows: scroll on`;
  }
  function rowOf(id) {              // the row of a drawn box, listed first if it is further down
    const k = listed.indexOf(id);
    if (k >= shown) moreRows(k + ROWS);
    return document.querySelector(`#layers tr[data-id="${CSS.escape(id)}"]`);
  }
  function tableEvents() {          // one listener per kind for all rows, not four per row per draw
    const body = document.querySelector("#layers tbody"), row = (ev) => ev.target.closest("tr");
    let hovered = null;
    const hover = (u) => { if (hovered) highlight(hovered, false); hovered = u; if (u) highlight(u, true); };
    body.addEventListener("click", (ev) => { const tr = row(ev); if (tr) select(tr.dataset.id, true); });
    body.addEventListener("dblclick", (ev) => {
      const u = row(ev) && row(ev).dataset.id;
      if (u && isBlock(u)) openUnit(u);
    });
    body.addEventListener("mouseover", (ev) => { const tr = row(ev); hover(tr ? tr.dataset.id : null); });
    body.addEventListener("mouseleave", () => hover(null));
    new IntersectionObserver((seen) => { if (seen.some((x) => x.isIntersecting)) moreRows(shown + ROWS); },
      { root: $("table-wrap"), rootMargin: "400px" }).observe($("table-more"));
  }
  function highlight(id, on) {
    const shape = document.querySelector(`#graph [data-id="${CSS.escape(id)}"]`);
    if (shape) shape.classList.toggle("hl", on);
  }

  // -- search: names, ops, labels and attributes ("3x3", "conv", "stride 2") ------------
  function reveal(id) {           // open every block and run above `id`, draw, select it and bring it on screen
    let changed = false;
    const opens = (x) => { if (!open.has(x)) { open.add(x); changed = true; } };
    for (const p of [...prefixes(id), id]) {
      if (runOf.has(p)) opens(runOf.get(p).id);
      if (p !== id && scopes.has(p)) opens(p);
    }
    selected = id;
    return (changed ? draw() : Promise.resolve()).then(() => select(id, true));
  }
  function attrForms(k, v) {       // stride (2, 2) is also "stride 2" and "stride 2x2"
    const parts = /^\(([^()]*)\)$/.test(v) ? v.slice(1, -1).split(/,\s*/) : [v];
    const forms = [k + " " + v, k + " " + parts.join("x")];
    if (parts.every((p) => p === parts[0])) forms.push(k + " " + parts[0]);
    return forms;
  }
  const haystack = new Map();       // what a query matches: a node's name, op, label and "key value" attributes
  for (const n of M.nodes) {
    haystack.set(n.name, [n.name, n.op, n.label, ...Object.entries(n.attrs).flatMap(([k, v]) => attrForms(k, v))]
      .join("\n").toLowerCase().replace(/\u00d7/g, "x"));
  }
  for (const s of M.scopes) haystack.set(s.path, [s.path, s.block].join("\n").toLowerCase());
  function matches(q) {
    q = q.trim().toLowerCase().replace(/\u00d7/g, "x");
    if (!q) return [];
    const words = q.split(/\s*,\s*/);               // "conv, stride 2": each phrase somewhere in the node
    const hit = (x) => words.every((w) => haystack.get(x).includes(w));
    const named = (x) => (x.toLowerCase().includes(q) ? 0 : 1);   // name matches first, then graph order
    return [...scopes.keys(), ...nodes.keys()].filter(hit).sort((a, b) => named(a) - named(b));
  }
  let found = [];
  function markMatches() {          // every drawn box that holds a match is marked
    document.querySelectorAll("#graph .match").forEach((e) => e.classList.remove("match"));
    const marked = new Set(found.map(unitOf));
    for (const u of marked) { const e = document.querySelector(`#graph .unit[data-id="${CSS.escape(u)}"]`); if (e) e.classList.add("match"); }
  }
  function showMatches() {
    const ul = $("matches");
    found = matches($("search").value);
    ul.replaceChildren();
    found.slice(0, 30).forEach((m, i) => {
      const li = document.createElement("li");
      li.textContent = m + (scopes.has(m) ? " · " + scopes.get(m).block : " · " + nodes.get(m).label);
      li.setAttribute("data-id", m);
      if (i === 0) li.className = "active";
      li.addEventListener("mousedown", (ev) => { ev.preventDefault(); ul.hidden = true; reveal(m); });
      ul.appendChild(li);
    });
    $("found").textContent = $("search").value.trim() ? found.length + (found.length === 1 ? " match" : " matches") : "";
    ul.hidden = !found.length;
    markMatches();
  }

  // -- wiring -------------------------------------------------------------------------
  $("search").addEventListener("input", showMatches);
  $("search").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { const m = matches($("search").value)[0]; $("matches").hidden = true; if (m) reveal(m); }
    if (ev.key === "Escape") $("matches").hidden = true;
  });
  $("search").addEventListener("blur", () => { $("matches").hidden = true; });
  $("expand-all").addEventListener("click", () => { [...scopes.keys(), ...runs.keys()].forEach((p) => open.add(p)); draw(null, true); });
  $("collapse-all").addEventListener("click", () => { open.clear(); draw(); });
  $("zoom-in").addEventListener("click", () => zoomAt(1.25, canvasBox().width / 2, canvasBox().height / 2));
  $("zoom-out").addEventListener("click", () => zoomAt(0.8, canvasBox().width / 2, canvasBox().height / 2));
  $("fit").addEventListener("click", fit);
  $("export-svg").addEventListener("click", () => save(new Blob([exportSVG()], { type: "image/svg+xml" }), fileName("svg")));
  $("export-png").addEventListener("click", () => exportPNG().then((b) => save(b, fileName("png")), (e) => console.error(e)));
  $("legend-toggle").addEventListener("click", () => { $("legend").hidden = !$("legend").hidden; });
  document.addEventListener("keydown", onKey);
  viewEvents();
  tableEvents();
  $("title").textContent = M.title;
  $("totals").textContent = `params ${fmt(M.totals.params)} · MACs ${fmt(M.totals.macs)} · input ${shapeText(M.input)}`;
  $("totals").title = M.convention;
  // for scripts and tests: the view, the last layout, and bringing a box on screen
  window.archspecViewer = { fit, zoomAt, exportSVG, exportPNG, view, get layout() { return current; },
    get selected() { return selected; }, get inWorker() { return fore !== inPage; },
    setOpen: (paths) => { open.clear(); paths.forEach((p) => open.add(p)); return draw(); },   // these blocks and runs open
    centre: (id) => { const a = current && current.abs.get(id); if (a) centerOn(Object.assign({}, a, { h: Math.min(a.h, 60) })); return !!a; } };   // a frame: its header
  fore = worker() || inPage;
  back = fore === inPage ? null : worker();
  draw().then(() => setTimeout(warm, 0));
})();
