import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  canWrite,
  execPath,
  get,
  post,
  query,
  TERMINAL,
  type EventRecord,
  type Execution,
  type Graph,
  type GraphNode,
  type NodeView,
  type Session,
} from "../api";
import { Dag, type Expansion } from "../Dag";
import { duration, phaseClass, when } from "../format";
import { JsonTree } from "../JsonTree";
import { warmLayout } from "../layout";
import { applyEvents, loadGraph } from "../model";
import { NodePanel } from "../NodePanel";
import { go, href, type Route } from "../route";

const FLUSH_MS = 100; // at most ten renders a second, however fast events arrive
const REREAD_MS = 1000; // the graph is read again at most once a second

interface Bar {
  key: string;
  label: string;
  queued: number;
  started: number | null;
  ended: number | null;
  phase: string;
}

/** One bar per attempt (queue wait, then run), or per node when its attempts are not known. */
function bars(nodes: GraphNode[], views: Map<string, NodeView>, now: number): Bar[] {
  const out: Bar[] = [];
  for (const n of nodes) {
    const attempts = views.get(n.id)?.attempts ?? [];
    if (attempts.length > 0)
      attempts.forEach((a) =>
        out.push({
          key: a.id,
          label: attempts.length > 1 ? `${n.id} #${a.number}` : n.id,
          queued: a.created_at,
          started: a.started_at,
          // the attempt as last read may lag the node's events: a finished node ends its bars
          ended: a.finished_at ?? (TERMINAL.has(n.phase) ? n.ended_at : null),
          phase: a.finished_at === null && TERMINAL.has(n.phase) ? n.phase : a.phase,
        }),
      );
    else if (n.queued_at || n.started_at)
      out.push({ key: n.id, label: n.id, queued: n.queued_at ?? n.started_at ?? now, started: n.started_at, ended: n.ended_at, phase: n.phase });
  }
  return out.slice(0, 300);
}

function Gantt({ nodes, views }: { nodes: GraphNode[]; views: Map<string, NodeView> }): React.JSX.Element {
  const now = Date.now() / 1000;
  const rows = bars(nodes, views, now);
  if (rows.length === 0) return <p className="empty">Nothing has started yet.</p>;
  const t0 = Math.min(...rows.map((r) => r.queued));
  const t1 = Math.max(...rows.map((r) => r.ended ?? now));
  const span = Math.max(t1 - t0, 0.001);
  const W = 640;
  const H = 18;
  const x = (t: number): number => ((t - t0) / span) * W;
  return (
    <svg className="gantt" width={W + 180} height={rows.length * H + 20} role="img" aria-label="Timeline of attempts: queue wait, then run time">
      {rows.map((r, i) => {
        const s = r.started ?? r.ended ?? now;
        const e = r.ended ?? now;
        return (
          <g key={r.key} transform={`translate(0, ${i * H})`}>
            <text x={0} y={13} className="gantt-label">
              {r.label.length > 22 ? r.label.slice(0, 21) + "…" : r.label}
            </text>
            <g transform="translate(170, 2)">
              <rect x={x(r.queued)} width={Math.max(x(s) - x(r.queued), 0)} height={12} className="gantt-wait">
                <title>waited {duration(r.queued, s)}</title>
              </rect>
              {r.started !== null && (
                <rect x={x(s)} width={Math.max(x(e) - x(s), 1)} height={12} className={`gantt-run node-${r.phase.toLowerCase()}`}>
                  <title>
                    {r.phase} for {duration(s, r.ended)}
                  </title>
                </rect>
              )}
            </g>
          </g>
        );
      })}
      <text x={170} y={rows.length * H + 14} className="gantt-axis">
        0
      </text>
      <text x={170 + W} y={rows.length * H + 14} textAnchor="end" className="gantt-axis">
        {duration(t0, t1)}
      </text>
    </svg>
  );
}

function Actions({
  project,
  exec,
  onChanged,
}: {
  project: string;
  exec: Execution;
  onChanged: () => void;
}): React.JSX.Element {
  const base = execPath(project, exec.id);
  const [reason, setReason] = useState("");
  const [terminating, setTerminating] = useState(false);
  const [plan, setPlan] = useState<{ node_id: string; action: string; reason: string }[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const running = !TERMINAL.has(exec.phase);
  const fail = (e: unknown): void => setError(String(e));
  return (
    <div className="actions">
      <button type="button" onClick={() => post<Execution>(base + "/relaunch", { inputs: {} }).then((e) => go(`executions/${e.id}`, project)).catch(fail)}>
        Relaunch
      </button>
      {(exec.phase === "FAILED" || exec.phase === "ABORTED") && (
        <button type="button" onClick={() => get<{ plan: typeof plan }>(base + "/recovery-plan").then((r) => setPlan(r.plan)).catch(fail)}>
          Recover…
        </button>
      )}
      {running && !terminating && (
        <button type="button" className="danger" onClick={() => setTerminating(true)}>
          Terminate…
        </button>
      )}
      {terminating && (
        <form
          className="inline"
          onSubmit={(e) => {
            e.preventDefault();
            post(base + "/terminate", { reason: reason || "terminated from the console" })
              .then(() => {
                setTerminating(false);
                onChanged();
              })
              .catch(fail);
          }}
        >
          <label>
            Reason <input value={reason} onChange={(e) => setReason(e.target.value)} />
          </label>
          <button type="submit" className="danger">
            Terminate
          </button>
          <button type="button" onClick={() => setTerminating(false)}>
            Cancel
          </button>
        </form>
      )}
      {plan && (
        <div className="dialog" role="dialog" aria-label="Recovery plan">
          <h3>Recovery plan</h3>
          <table className="grid small">
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Action</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {plan.map((p) => (
                <tr key={p.node_id}>
                  <td>{p.node_id}</td>
                  <td>{p.action}</td>
                  <td>{p.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <button type="button" onClick={() => post<Execution>(base + "/recover").then((e) => go(`executions/${e.id}`, project)).catch(fail)}>
            Recover
          </button>
          <button type="button" onClick={() => setPlan(null)}>
            Cancel
          </button>
        </div>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </div>
  );
}

export function ExecutionPage({
  project,
  id,
  session,
  route,
}: {
  project: string;
  id: string;
  session: Session;
  route: Route;
}): React.JSX.Element {
  const base = execPath(project, id);
  const [graph, setGraph] = useState<Graph | null>(null);
  const [views, setViews] = useState<Map<string, NodeView>>(new Map());
  const [events, setEvents] = useState<EventRecord[]>([]);
  // Whether to follow the event stream: decided once, by the phase at the first read (a finished
  // execution has nothing to follow; its history is read when the Events tab opens).
  const [streaming, setStreaming] = useState<boolean | null>(null);
  const [error, setError] = useState<string | null>(null);
  const selected = route.params.get("node");
  const [tab, setTab] = useState<"timeline" | "io" | "events">("timeline");
  const [expanded, setExpanded] = useState<Map<string, Expansion>>(new Map());
  const expandedIds = useRef<string[]>([]);
  const buffer = useRef<EventRecord[]>([]);
  const lastRead = useRef(0);
  const rereadTimer = useRef<number | null>(null);

  // A dynamic node opened in place: its first items (a sub-workflow is small; a map has its table).
  const openInPlace = useCallback(
    (node: string) => {
      get<Expansion & { next: string | null }>(base + "/graph/children" + query({ node, limit: 200 }))
        .then((x) => setExpanded((old) => (expandedIds.current.includes(node) ? new Map(old).set(node, { items: x.items, edges: x.edges }) : old)))
        .catch((e: unknown) => setError(String(e)));
    },
    [base],
  );
  const toggleInPlace = useCallback(
    (node: string) => {
      if (expandedIds.current.includes(node)) {
        expandedIds.current = expandedIds.current.filter((x) => x !== node);
        setExpanded((old) => {
          const m = new Map(old);
          m.delete(node);
          return m;
        });
      } else {
        expandedIds.current = [...expandedIds.current, node];
        openInPlace(node);
      }
    },
    [openInPlace],
  );

  const reread = useCallback(() => {
    lastRead.current = Date.now();
    loadGraph(project, id)
      .then((g) => {
        setGraph(g);
        setStreaming((was) => was ?? !TERMINAL.has(g.execution.phase));
      })
      .catch((e: unknown) => setError(String(e)));
    for (const node of expandedIds.current) openInPlace(node);
    get<{ nodes: NodeView[] }>(base + "/nodes?children=false")
      .then((r) => setViews(new Map(r.nodes.map((n) => [n.id, n]))))
      .catch(() => undefined);
  }, [project, id, base, openInPlace]);

  const scheduleReread = useCallback(() => {
    if (rereadTimer.current !== null) return;
    const wait = Math.max(0, REREAD_MS - (Date.now() - lastRead.current));
    rereadTimer.current = window.setTimeout(() => {
      rereadTimer.current = null;
      reread();
    }, wait);
  }, [reread]);

  useEffect(() => {
    warmLayout();
    reread();
    return () => {
      if (rereadTimer.current !== null) window.clearTimeout(rereadTimer.current);
    };
  }, [reread]);

  // Live: the execution's event stream, applied to the model in batches.
  useEffect(() => {
    if (!streaming) return;
    const src = new EventSource(base + "/events/stream" + query({ after: 0 }));
    src.addEventListener("event", (e) => buffer.current.push(JSON.parse((e as MessageEvent<string>).data) as EventRecord));
    src.addEventListener("end", () => {
      src.close();
      scheduleReread();
    });
    const t = window.setInterval(() => {
      if (buffer.current.length === 0) return;
      const batch = buffer.current;
      buffer.current = [];
      setEvents((old) => old.concat(batch));
      setGraph((g) => {
        if (!g) return g;
        const [next, stale] = applyEvents(g, batch);
        // Attempts, outputs and counts come with a read of the graph (at most one a second).
        if (stale || batch.some((ev) => ev.kind === "node" || ev.kind === "attempt")) scheduleReread();
        return next;
      });
    }, FLUSH_MS);
    return () => {
      window.clearInterval(t);
      src.close();
    };
  }, [base, streaming, scheduleReread]);

  useEffect(() => {
    if (streaming !== false || tab !== "events" || events.length > 0) return;
    get<{ events: EventRecord[] }>(base + "/events" + query({ limit: 10000 }))
      .then((r) => setEvents(r.events))
      .catch((e: unknown) => setError(String(e)));
  }, [base, streaming, tab, events.length]);

  const top = useMemo(() => (graph ? graph.nodes.filter((n) => n.parent === null) : []), [graph]);
  const select = useCallback(
    (node: string) => {
      window.location.hash = href(`executions/${id}`, project, { node });
    },
    [id, project],
  );

  // Durations of what is still running grow on screen: one render a second while the run lasts.
  const [, setTick] = useState(0);
  const moving = graph !== null && !TERMINAL.has(graph.execution.phase);
  useEffect(() => {
    if (!moving) return;
    const t = window.setInterval(() => setTick((x) => x + 1), 1000);
    return () => window.clearInterval(t);
  }, [moving]);

  if (error)
    return (
      <p role="alert" className="error">
        {error}
      </p>
    );
  if (!graph) return <p className="loading">Loading {id}…</p>;
  const exec = graph.execution;
  const chosen: GraphNode | undefined =
    graph.nodes.find((n) => n.id === selected) ??
    [...expanded.values()].flatMap((x) => x.items).find((n) => n.id === selected) ??
    (selected ? { id: selected, parent: null, kind: "task", label: selected, phase: "?", cache: null, recovered_from: null, attempts: 0, queued_at: null, started_at: null, ended_at: null, children: null } : undefined);

  return (
    <div className="execution">
      <header className="exec-head">
        <h1>
          {exec.workflow} <span className="mono">{exec.id}</span>{" "}
          <span className={phaseClass(exec.phase)} data-testid="execution-phase">
            {exec.phase}
          </span>
        </h1>
        <p className="meta">
          created {when(exec.created_at)} · ran {duration(exec.started_at, exec.finished_at)} · {exec.mode}
          {exec.source_id && (
            <>
              {" "}
              · from <a href={href(`executions/${exec.source_id}`, project)}>{exec.source_id}</a>
            </>
          )}
          {exec.abort_reason && <> · aborted: {exec.abort_reason}</>}
        </p>
        {canWrite(session) && <Actions project={project} exec={exec} onChanged={scheduleReread} />}
        {exec.error && (
          <p className="error-line" role="status">
            <strong>{exec.error.code}</strong>: {exec.error.message}
            {exec.error.node && (
              <>
                {" "}
                (node{" "}
                <button type="button" className="link" onClick={() => select(exec.error!.node!)}>
                  {exec.error.node}
                </button>
                )
              </>
            )}
          </p>
        )}
      </header>
      <div className="exec-body">
        <section className="graph-area" aria-label="Graph">
          <Dag nodes={top} edges={graph.edges} expanded={expanded} selected={selected} onSelect={select} />
          <div className="tabs" role="tablist">
            {(["timeline", "io", "events"] as const).map((t) => (
              <button key={t} type="button" role="tab" aria-selected={tab === t} onClick={() => setTab(t)}>
                {t === "timeline" ? "Timeline" : t === "io" ? "Inputs & outputs" : "Events"}
              </button>
            ))}
          </div>
          <div role="tabpanel">
            {tab === "timeline" && <Gantt nodes={top} views={views} />}
            {tab === "io" && (
              <div className="io">
                <div>
                  <h3>Inputs</h3>
                  <JsonTree value={exec.inputs} label="inputs" />
                </div>
                <div>
                  <h3>Outputs</h3>
                  <JsonTree value={exec.outputs} label="outputs" />
                </div>
              </div>
            )}
            {tab === "events" && (
              <ol className="events" aria-label="Event history">
                {events.slice(-500).map((ev) => (
                  <li key={ev.seq}>
                    <span className="mono">{when(ev.ts)}</span> {ev.kind} {ev.node ?? ""} <span className={phaseClass(ev.phase)}>{ev.phase}</span>{" "}
                    {ev.message}
                  </li>
                ))}
              </ol>
            )}
          </div>
        </section>
        {chosen && (
          <NodePanel
            key={chosen.id}
            project={project}
            execution={id}
            node={chosen}
            view={views.get(chosen.id)}
            session={session}
            onSelect={select}
            onChanged={scheduleReread}
            inPlace={expanded.has(chosen.id)}
            onToggleInPlace={toggleInPlace}
          />
        )}
      </div>
    </div>
  );
}
