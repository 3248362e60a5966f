// The execution page's model: the graph view model of the API, kept live by applying the event stream.
import { ApiError, execPath, get, TERMINAL, type Counts, type EventRecord, type Graph, type GraphNode, type NodeView } from "./api";

function bucket(phase: string): keyof Omit<Counts, "total"> {
  if (phase === "SUCCEEDED") return "succeeded";
  if (phase === "FAILED" || phase === "ABORTED" || phase === "TIMED_OUT") return "failed";
  if (phase === "RUNNING" || phase === "RETRYING") return "running";
  return "queued";
}

function kindOf(v: NodeView): string {
  const d = v.detail ?? {};
  if ("gate" in d) return "gate";
  if ("expanded" in d) return /-map$/.test(v.id) ? "map" : "dynamic";
  if ("branch" in d || "case" in d) return "branch";
  return "task";
}

/** The graph from the per-node list, for a server without the graph route. */
export function graphFromNodes(execution: Graph["execution"], views: NodeView[]): Graph {
  const parents = new Set(views.filter((v) => v.detail && "expanded" in v.detail).map((v) => v.id));
  const parentOf = (id: string): string | null => {
    const dot = id.lastIndexOf(".");
    if (dot <= 0) return null;
    const p = id.slice(0, dot);
    return parents.has(p) ? p : null;
  };
  const nodes: GraphNode[] = [];
  const counts = new Map<string, Counts>();
  for (const v of views) {
    const parent = parentOf(v.id);
    if (parent !== null) {
      const c = counts.get(parent) ?? { total: 0, succeeded: 0, running: 0, failed: 0, queued: 0 };
      c.total += 1;
      c[bucket(v.phase)] += 1;
      counts.set(parent, c);
      continue;
    }
    const prov = (v.detail?.provenance ?? null) as { execution?: string } | null;
    const recovered = prov?.execution && prov.execution !== execution.id && v.cache_status !== "HIT" ? prov.execution : null;
    nodes.push({
      id: v.id,
      parent: null,
      kind: kindOf(v),
      label: v.id,
      phase: v.phase,
      cache: v.cache_status === "HIT" ? "hit" : v.cache_status === "PUT" ? "miss" : v.cache_status ? v.cache_status.toLowerCase() : null,
      recovered_from: recovered,
      attempts: v.attempts.length,
      queued_at: v.attempts[0]?.created_at ?? null,
      started_at: v.started_at,
      ended_at: v.finished_at,
      children: null,
    });
  }
  for (const n of nodes) {
    const c = counts.get(n.id);
    if (c) n.children = c;
  }
  const edges: [string, string][] = [];
  for (const v of views) if (parentOf(v.id) === null) for (const u of v.upstream) edges.push([u, v.id]);
  return { execution, nodes, edges };
}

export async function loadGraph(project: string, id: string): Promise<Graph> {
  try {
    return await get<Graph>(execPath(project, id) + "/graph");
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404 && e.code !== "not_found_execution")) throw e;
    const [execution, nodes] = await Promise.all([
      get<Graph["execution"]>(execPath(project, id)),
      get<{ nodes: NodeView[] }>(execPath(project, id) + "/nodes?children=true"),
    ]);
    return graphFromNodes(execution, nodes.nodes);
  }
}

/**
 * Applies a batch of events to the graph's top-level nodes and the execution (the last phase an
 * event names wins, so a replay from the start is harmless); answers the new graph and whether it
 * must be read again: an event of a map element or of a node the graph does not list (the counts
 * and expansions come from the API, never recomputed here).
 */
export function applyEvents(g: Graph, events: EventRecord[]): [Graph, boolean] {
  let stale = false;
  let execution = g.execution;
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const changed = new Map<string, GraphNode>();
  for (const ev of events) {
    if (ev.kind === "execution") {
      execution = { ...execution, phase: ev.phase };
      if (ev.phase === "RUNNING" && !execution.started_at) execution.started_at = ev.ts;
      if (TERMINAL.has(ev.phase)) {
        execution.finished_at = ev.ts;
        stale = true; // outputs and error come with the record
      }
      continue;
    }
    if (ev.kind !== "node" || !ev.node) continue;
    const n = changed.get(ev.node) ?? byId.get(ev.node);
    if (!n || n.children) {
      stale = true;
      continue;
    }
    const next = { ...n, phase: ev.phase, attempts: Math.max(n.attempts, ev.attempt ?? 0) };
    if (ev.phase === "RUNNING" && !next.started_at) next.started_at = ev.ts;
    if (TERMINAL.has(ev.phase)) next.ended_at = ev.ts;
    changed.set(n.id, next);
  }
  if (changed.size === 0 && execution === g.execution) return [g, stale];
  return [{ ...g, execution, nodes: g.nodes.map((n) => changed.get(n.id) ?? n) }, stale];
}
