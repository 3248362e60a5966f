// Lays the DAG out left to right with elk's layered algorithm, in a Web Worker (an asset file of its
// own: the Content-Security-Policy allows workers from 'self' and no blob: URL). An expanded node
// (a dynamic sub-workflow opened in place) is a compound node holding its items.
import ELK from "elkjs/lib/elk-api.js";
import type { ElkNode } from "elkjs/lib/elk-api.js";
import workerUrl from "elkjs/lib/elk-worker.min.js?url";

export const NODE_W = 190;
export const NODE_H = 48;

export interface LayoutNode {
  id: string;
  children?: LayoutNode[]; // present when the node is expanded in place
}

export interface Placed {
  id: string;
  x: number; // absolute, from the drawing's top left
  y: number;
  width: number;
  height: number;
  compound: boolean;
}

export interface Layout {
  width: number;
  height: number;
  nodes: Map<string, Placed>;
  edges: { from: string; to: string; points: [number, number][] }[];
}

let elk: InstanceType<typeof ELK> | null = null;

/** Starts the layout worker (a large script to parse) before the first graph arrives. */
export function warmLayout(): void {
  elk ??= new ELK({ workerUrl });
}

function toElk(n: LayoutNode): ElkNode {
  if (!n.children) return { id: n.id, width: NODE_W, height: NODE_H };
  return {
    id: n.id,
    layoutOptions: { "elk.padding": "[top=28,left=12,bottom=12,right=12]" },
    children: n.children.map(toElk),
  };
}

export async function layout(roots: LayoutNode[], edges: [string, string][]): Promise<Layout> {
  warmLayout();
  const known = new Set<string>();
  const walk = (ns: LayoutNode[]): void =>
    ns.forEach((n) => {
      known.add(n.id);
      if (n.children) walk(n.children);
    });
  walk(roots);
  const graph: ElkNode = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.hierarchyHandling": "INCLUDE_CHILDREN",
      "elk.json.shapeCoords": "ROOT",
      "elk.json.edgeCoords": "ROOT",
      "elk.layered.spacing.nodeNodeBetweenLayers": "48",
      "elk.spacing.nodeNode": "20",
      "elk.edgeRouting": "POLYLINE",
    },
    children: roots.map(toElk),
    edges: edges
      .filter(([a, b]) => known.has(a) && known.has(b))
      .map(([a, b], i) => ({ id: `e${i}`, sources: [a], targets: [b] })),
  };
  const out = await elk!.layout(graph);
  const nodes = new Map<string, Placed>();
  const place = (cs: ElkNode[] | undefined): void =>
    (cs ?? []).forEach((c) => {
      const compound = (c.children?.length ?? 0) > 0;
      nodes.set(c.id, { id: c.id, x: c.x ?? 0, y: c.y ?? 0, width: c.width ?? NODE_W, height: c.height ?? NODE_H, compound });
      place(c.children);
    });
  place(out.children);
  const placedEdges: Layout["edges"] = [];
  for (const e of out.edges ?? []) {
    const sec = e.sections?.[0];
    if (!sec) continue;
    const pts: [number, number][] = [
      [sec.startPoint.x, sec.startPoint.y],
      ...(sec.bendPoints ?? []).map((p): [number, number] => [p.x, p.y]),
      [sec.endPoint.x, sec.endPoint.y],
    ];
    placedEdges.push({ from: e.sources[0]!, to: e.targets[0]!, points: pts });
  }
  return { width: out.width ?? 0, height: out.height ?? 0, nodes, edges: placedEdges };
}
