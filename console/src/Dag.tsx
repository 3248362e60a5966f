// The DAG, left to right: node colour is its phase, running nodes pulse (CSS), cache hits and
// recovered nodes carry a badge, a map is one node with a progress bar of its elements.
import { memo, useEffect, useMemo, useState } from "react";
import type { GraphNode } from "./api";
import { layout, NODE_H, NODE_W, type Layout, type LayoutNode } from "./layout";

/** The items of a node opened in place (a dynamic sub-workflow's nodes) and the edges between them. */
export interface Expansion {
  items: GraphNode[];
  edges: [string, string][];
}

interface Props {
  nodes: GraphNode[];
  edges: [string, string][];
  expanded: Map<string, Expansion>;
  selected: string | null;
  onSelect: (id: string) => void;
}

function Bar({ n }: { n: GraphNode }): React.JSX.Element | null {
  const c = n.children;
  if (!c || c.total === 0) return null;
  const w = NODE_W - 16;
  const ok = (c.succeeded / c.total) * w;
  const bad = (c.failed / c.total) * w;
  const run = (c.running / c.total) * w;
  return (
    <g transform={`translate(8, ${NODE_H - 12})`} className="bar">
      <rect width={w} height={6} className="bar-bg" />
      <rect width={ok} height={6} className="bar-ok" />
      <rect x={ok} width={run} height={6} className="bar-run" />
      <rect x={ok + run} width={bad} height={6} className="bar-bad" />
    </g>
  );
}

const DagNode = memo(function DagNode({
  n,
  x,
  y,
  selected,
  onSelect,
}: {
  n: GraphNode;
  x: number;
  y: number;
  selected: boolean;
  onSelect: (id: string) => void;
}): React.JSX.Element {
  const c = n.children;
  const sub = c
    ? `${c.succeeded}/${c.total} done${c.failed ? `, ${c.failed} failed` : ""}`
    : n.kind === "branch" && n.case !== undefined && n.case !== null
      ? `branch · ${n.case < 0 ? "no case matched" : `took case ${n.case + 1}`}`
      : n.kind === "task"
        ? n.phase
        : `${n.kind} · ${n.phase}`;
  const label = n.label.length > 24 ? n.label.slice(0, 23) + "…" : n.label;
  return (
    <g
      transform={`translate(${x}, ${y})`}
      className={`node node-${n.phase.toLowerCase()} kind-${n.kind}${selected ? " selected" : ""}`}
      data-node={n.id}
      data-phase={n.phase}
      role="button"
      tabIndex={0}
      onClick={() => onSelect(n.id)}
      onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && onSelect(n.id)}
    >
      {/* Its accessible name (SVG title): the id, the phase and what the badges mean. */}
      <title>{`${n.id}: ${n.phase}${c ? `, ${sub}` : ""}${n.cache === "hit" ? ", cache hit" : ""}${n.recovered_from ? `, recovered from ${n.recovered_from}` : ""}`}</title>
      <rect width={NODE_W} height={NODE_H} rx={6} className="node-box" />
      <text x={10} y={18} className="node-label">
        {label}
      </text>
      <text x={10} y={c ? 30 : 36} className="node-sub">
        {sub}
      </text>
      {n.cache === "hit" && (
        <g transform={`translate(${NODE_W - 40}, 6)`} className="badge badge-hit">
          <rect width={34} height={14} rx={3} />
          <text x={17} y={11} textAnchor="middle">
            hit
          </text>
        </g>
      )}
      {n.recovered_from && (
        <g transform={`translate(${NODE_W - 40}, 24)`} className="badge badge-recovered">
          <title>recovered from {n.recovered_from}</title>
          <rect width={34} height={14} rx={3} />
          <text x={17} y={11} textAnchor="middle">
            rec
          </text>
        </g>
      )}
      <Bar n={n} />
    </g>
  );
});

export function Dag({ nodes, edges, expanded, selected, onSelect }: Props): React.JSX.Element {
  const [placed, setPlaced] = useState<Layout | null>(null);
  const [error, setError] = useState<string | null>(null);
  const all = useMemo(() => {
    const m = new Map<string, GraphNode>();
    nodes.forEach((n) => m.set(n.id, n));
    expanded.forEach((x) => x.items.forEach((n) => m.set(n.id, n)));
    return m;
  }, [nodes, expanded]);
  const [tree, allEdges] = useMemo(() => {
    const seen = new Set<string>();
    const build = (n: GraphNode): LayoutNode => {
      const x = seen.has(n.id) ? undefined : expanded.get(n.id);
      seen.add(n.id);
      return x && x.items.length > 0 ? { id: n.id, children: x.items.map(build) } : { id: n.id };
    };
    const es = [...edges];
    expanded.forEach((x) => es.push(...x.edges));
    return [nodes.map(build), es] as const;
  }, [nodes, edges, expanded]);
  // Layout depends on the shape only (ids, nesting and edges), not on phases: phase changes never re-lay out.
  const shape = useMemo(() => JSON.stringify(tree) + "|" + allEdges.map((e) => e.join(">")).join(","), [tree, allEdges]);
  useEffect(() => {
    let stop = false;
    layout(tree, allEdges)
      .then((l) => !stop && setPlaced(l))
      .catch((e: unknown) => !stop && setError(String(e)));
    return () => {
      stop = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape]);
  if (error)
    return (
      <p role="alert" className="error">
        Layout failed: {error}
      </p>
    );
  if (!placed) return <p className="loading">Laying out {all.size} nodes…</p>;
  const pad = 12;
  const boxes = [...placed.nodes.values()];
  return (
    <div className="dag-scroll" tabIndex={0}>
      <svg
        className="dag"
        width={placed.width + 2 * pad}
        height={placed.height + 2 * pad}
        role="group"
        aria-label="Execution graph"
        data-ready="true"
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto">
            <path d="M0,0 L10,5 L0,10 z" className="arrow" />
          </marker>
        </defs>
        <g transform={`translate(${pad}, ${pad})`}>
          {boxes
            .filter((p) => p.compound)
            .map((p) => {
              const n = all.get(p.id);
              return (
                <g key={p.id} transform={`translate(${p.x}, ${p.y})`} className={`group node-${(n?.phase ?? "").toLowerCase()}`} data-group={p.id}>
                  <rect width={p.width} height={p.height} rx={8} className="group-box" />
                  <text x={10} y={18} className="node-label">
                    {p.id} · {n?.phase}
                  </text>
                </g>
              );
            })}
          {placed.edges.map((e, i) => (
            <polyline key={i} className="edge" points={e.points.map((p) => p.join(",")).join(" ")} markerEnd="url(#arrow)" />
          ))}
          {boxes
            .filter((p) => !p.compound)
            .map((p) => {
              const n = all.get(p.id);
              return n ? <DagNode key={n.id} n={n} x={p.x} y={p.y} selected={selected === n.id} onSelect={onSelect} /> : null;
            })}
        </g>
      </svg>
    </div>
  );
}
