// Lays the DAG out left to right with elk's layered algorithm, in a Web Worker (an asset file of its
// own: the Content-Security-Policy allows workers from 'self' and no blob: URL).
import ELK from "elkjs/lib/elk-api.js";
import type { ElkNode } from "elkjs/lib/elk-api.js";
import workerUrl from "elkjs/lib/elk-worker.min.js?url";

export const NODE_W = 190;
export const NODE_H = 48;

export interface Placed {
  id: string;
  x: number;
  y: number;
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

export async function layout(ids: string[], edges: [string, string][]): Promise<Layout> {
  elk ??= new ELK({ workerUrl });
  const known = new Set(ids);
  const graph: ElkNode = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.layered.spacing.nodeNodeBetweenLayers": "48",
      "elk.spacing.nodeNode": "20",
      "elk.edgeRouting": "POLYLINE",
    },
    children: ids.map((id) => ({ id, width: NODE_W, height: NODE_H })),
    edges: edges
      .filter(([a, b]) => known.has(a) && known.has(b))
      .map(([a, b], i) => ({ id: `e${i}`, sources: [a], targets: [b] })),
  };
  const out = await elk.layout(graph);
  const nodes = new Map<string, Placed>();
  for (const c of out.children ?? []) nodes.set(c.id, { id: c.id, x: c.x ?? 0, y: c.y ?? 0 });
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
