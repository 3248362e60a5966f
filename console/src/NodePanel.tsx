// One node: attempts, error with traceback, inputs and outputs, logs, cache status with its
// explanation, lineage to the producing executions, and a gate's approve / reject / signal form.
import { useEffect, useState } from "react";
import { canWrite, execPath, get, post, query, TERMINAL, type GraphNode, type NodeView, type Session } from "./api";
import { duration, phaseClass } from "./format";
import { JsonTree } from "./JsonTree";
import { Logs } from "./Logs";
import { MapTable } from "./MapTable";
import { parse } from "./values";
import { href } from "./route";

interface Upstream {
  execution: string;
  node: string;
  task: string;
  phase: string;
  produced_by: { execution: string; node: string } | null;
  inputs: { input: string; kind: string; upstream: Upstream[] }[];
}

function LineageTree({ items, project }: { items: Upstream[]; project: string }): React.JSX.Element {
  return (
    <ul className="lineage">
      {items.map((u, i) => (
        <li key={i}>
          <span className="mono">{u.node}</span> <span className={phaseClass(u.phase)}>{u.phase}</span>
          {u.produced_by && (
            <>
              {" "}
              produced by{" "}
              <a href={href(`executions/${u.produced_by.execution}`, project, { node: u.produced_by.node })} data-lineage-link="">
                {u.produced_by.execution}/{u.produced_by.node}
              </a>
            </>
          )}
          {u.inputs.some((x) => x.upstream.length > 0) && (
            <LineageTree items={u.inputs.flatMap((x) => x.upstream)} project={project} />
          )}
        </li>
      ))}
    </ul>
  );
}

interface Consumer {
  execution: string;
  node: string;
  input: string;
  depth: number;
}

function traceback(logs: { stream: string; text: string }[]): string | null {
  const err = logs.filter((l) => l.stream === "stderr").map((l) => l.text).join("");
  const at = err.lastIndexOf("Traceback (most recent call last)");
  return at >= 0 ? err.slice(at).trim() : null;
}

export function NodePanel({
  project,
  execution,
  node,
  view,
  session,
  onSelect,
  onChanged,
  inPlace,
  onToggleInPlace,
}: {
  project: string;
  execution: string;
  node: GraphNode;
  view: NodeView | undefined;
  session: Session;
  onSelect: (id: string) => void;
  onChanged: () => void;
  inPlace: boolean;
  onToggleInPlace: (id: string) => void;
}): React.JSX.Element {
  const base = execPath(project, execution);
  const [explain, setExplain] = useState<{ summary?: string; status?: string; differences?: string[] } | null>(null);
  const [lineage, setLineage] = useState<Upstream[] | null>(null);
  const [consumers, setConsumers] = useState<Consumer[]>([]);
  const [trace, setTrace] = useState<string | null>(null);
  const [signalValue, setSignalValue] = useState("");
  const [signalType, setSignalType] = useState<string | null>(null);
  const [signalProblem, setSignalProblem] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [showMap, setShowMap] = useState(false);
  const [deck, setDeck] = useState(false);
  const write = canWrite(session);
  const deckUrl = `${base}/nodes/${encodeURIComponent(node.id)}/deck`;

  // A deck (the task's HTML report) is shown in a sandboxed frame when the node has one.
  useEffect(() => {
    setDeck(false);
    if (node.children || !TERMINAL.has(node.phase)) return;
    fetch(deckUrl, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((r) => setDeck(r.ok))
      .catch(() => undefined);
  }, [deckUrl, node.children, node.phase]);

  useEffect(() => {
    setExplain(null);
    setLineage(null);
    setConsumers([]);
    setTrace(null);
    setError(null);
    setShowMap(false);
  }, [node.id]);

  useEffect(() => {
    if (node.phase !== "FAILED") return;
    get<{ logs: { stream: string; text: string }[] }>(base + "/logs" + query({ node: node.id }))
      .then((r) => setTrace(traceback(r.logs)))
      .catch(() => undefined);
  }, [base, node.id, node.phase]);

  const detail = (view?.detail ?? {}) as { gate?: string; signal?: string };
  const gateKind = node.gate ?? detail.gate;
  const runsCode = node.kind !== "gate" && node.kind !== "branch"; // gates and branches have no logs or cache
  const gateOpen = node.kind === "gate" && node.phase === "RUNNING" && gateKind !== "sleep";
  // A signal gate's declared type, from the execution's pinned spec: the form checks values by it.
  useEffect(() => {
    if (!gateOpen || gateKind !== "signal") return;
    get<{ spec: { nodes: { id: string; config?: { type?: { kind?: string } } }[] } }>(base + "/spec")
      .then((r) => setSignalType(r.spec.nodes.find((n) => n.id === node.id)?.config?.type?.kind ?? null))
      .catch(() => undefined);
  }, [base, gateOpen, gateKind, node.id]);

  const signal = (value: unknown): void => {
    setError(null);
    post(base + "/signals", { name: detail.signal ?? node.id, value })
      .then(onChanged)
      .catch((e: unknown) => setError(String(e)));
  };
  const err = view?.error;

  return (
    <aside className="panel" aria-labelledby="panel-title">
      <h2 id="panel-title">
        {node.id} <span className={phaseClass(node.phase)}>{node.phase}</span>
      </h2>
      <p className="meta">
        {view?.task ?? node.kind}
        {node.cache && <> · cache {node.cache}</>}
        {node.recovered_from && (
          <>
            {" "}
            · recovered from <a href={href(`executions/${node.recovered_from}`, project)}>{node.recovered_from}</a>
          </>
        )}
      </p>
      {node.child && (
        <p>
          Started execution <a href={href(`executions/${node.child}`, project)}>{node.child}</a>
        </p>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {gateOpen && write && (
        <div className="gate-actions">
          {gateKind === "approve" ? (
            <>
              <button type="button" onClick={() => signal(true)}>
                Approve
              </button>
              <button type="button" className="danger" onClick={() => signal(false)}>
                Reject
              </button>
            </>
          ) : (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                const [v, problem] = parse(signalType ?? "json", signalValue);
                setSignalProblem(problem && `expected ${problem}`);
                if (!problem) signal(v);
              }}
              noValidate
            >
              <label>
                Value for {detail.signal ?? node.id} {signalType && <span className="mono">{signalType}</span>}{" "}
                <input
                  value={signalValue}
                  onChange={(e) => setSignalValue(e.target.value)}
                  aria-invalid={signalProblem !== null}
                  aria-describedby={signalProblem ? "signal-problem" : undefined}
                />
              </label>
              <button type="submit">Send signal</button>
              {signalProblem && (
                <span id="signal-problem" className="error">
                  {signalProblem}
                </span>
              )}
            </form>
          )}
        </div>
      )}
      {node.children && (
        <section>
          <h3>Elements</h3>
          <p>
            {node.children.succeeded} succeeded, {node.children.running} running, {node.children.failed} failed of{" "}
            {node.children.total}{" "}
            {node.kind === "dynamic" && (
              <button type="button" onClick={() => onToggleInPlace(node.id)} aria-pressed={inPlace}>
                {inPlace ? "Close in graph" : "Open in graph"}
              </button>
            )}{" "}
            <button type="button" onClick={() => setShowMap(!showMap)} aria-expanded={showMap}>
              {showMap ? "Hide" : "Show"} elements
            </button>
          </p>
          {showMap && <MapTable project={project} execution={execution} node={node.id} onSelect={onSelect} />}
        </section>
      )}
      {err && (
        <section className="failure">
          <h3>Error</h3>
          <p className="error-line">
            <strong>{err.code}</strong>: {err.message}
          </p>
          {trace && <pre className="traceback" tabIndex={0} aria-label="Traceback">
              {trace}
            </pre>}
        </section>
      )}
      {view && view.attempts.length > 0 && (
        <section>
          <h3>Attempts</h3>
          <table className="grid small">
            <thead>
              <tr>
                <th scope="col">Attempt</th>
                <th scope="col">Phase</th>
                <th scope="col">Executor</th>
                <th scope="col">Waited</th>
                <th scope="col">Ran</th>
                <th scope="col">Exit</th>
              </tr>
            </thead>
            <tbody>
              {view.attempts.map((a) => (
                <tr key={a.id}>
                  <td className="mono">{a.id}</td>
                  <td>
                    <span className={phaseClass(a.phase)}>{a.phase}</span>
                  </td>
                  <td>{a.executor}</td>
                  <td>{duration(a.created_at, a.started_at)}</td>
                  <td>{duration(a.started_at, a.finished_at)}</td>
                  <td>{a.error ? `${a.error.code}: ${a.error.message}` : (a.abort_reason ?? "")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {view && (
        <section className="io">
          <div>
            <h3>Inputs</h3>
            <JsonTree value={view.inputs} label="inputs" />
          </div>
          <div>
            <h3>Outputs</h3>
            <JsonTree value={view.outputs} label="outputs" />
          </div>
        </section>
      )}
      {deck && (
        <section>
          <h3>Deck</h3>
          <iframe title={`Deck of ${node.id}`} src={deckUrl} sandbox="allow-scripts" className="deck" />
        </section>
      )}
      {runsCode && (
        <section>
          <h3>Cache</h3>
          <p>
            {view?.cache_status ?? node.cache ?? "not cached"}{" "}
            <button
              type="button"
              onClick={() =>
                get<{ explanation: { summary?: string } }>(base + "/cache-explain" + query({ node: node.id }))
                  .then((r) => setExplain(r.explanation))
                  .catch((e: unknown) => setExplain({ summary: String(e) }))
              }
            >
              Explain
            </button>
          </p>
          {explain && (
            <div className="explain">
              <p>{explain.summary ?? explain.status}</p>
              {explain.differences && explain.differences.length > 0 && (
                <ul>
                  {explain.differences.map((d) => (
                    <li key={d}>{d}</li>
                  ))}
                </ul>
              )}
            </div>
          )}
        </section>
      )}
      <section>
        <h3>Lineage</h3>
        {lineage === null ? (
          <button
            type="button"
            onClick={() => {
              get<{ lineage: Upstream[] }>(base + "/lineage/upstream" + query({ node: node.id }))
                .then((r) => setLineage(r.lineage))
                .catch((e: unknown) => setError(String(e)));
              get<{ consumers: Consumer[] }>(base + "/lineage/consumers" + query({ node: node.id }))
                .then((r) => setConsumers(r.consumers))
                .catch(() => undefined);
            }}
          >
            Show lineage
          </button>
        ) : (
          <>
            <h4>Made from</h4>
            {lineage.length === 0 ? <p className="empty">No lineage recorded.</p> : <LineageTree items={lineage} project={project} />}
            <h4>Used by</h4>
            {consumers.length === 0 ? (
              <p className="empty">No node has used its outputs.</p>
            ) : (
              <ul className="lineage" aria-label="Used by">
                {consumers.map((c) => (
                  <li key={`${c.execution}/${c.node}/${c.input}`}>
                    <a href={href(`executions/${c.execution}`, project, { node: c.node })} data-consumer-link="">
                      {c.execution}/{c.node}
                    </a>{" "}
                    as {c.input}
                    {c.depth > 1 ? ` (${c.depth} steps away)` : ""}
                  </li>
                ))}
              </ul>
            )}
          </>
        )}
      </section>
      {!node.children && runsCode && (
        <section>
          <h3>Logs</h3>
          <Logs project={project} execution={execution} node={node.id} />
        </section>
      )}
    </aside>
  );
}
