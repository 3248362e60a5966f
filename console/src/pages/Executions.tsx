import { useEffect, useRef, useState } from "react";
import { get, projectPath, query, TERMINAL, type Execution } from "../api";
import { duration, phaseClass, when } from "../format";
import { href, type Route } from "../route";

const PHASES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "ABORTING", "ABORTED", "TIMED_OUT"];
const PAGE = 50;
const REFRESH_MS = 2000; // the first page again while something on screen is still moving

interface Page {
  executions: Execution[];
  next: string | null;
}

export function Executions({ project, route }: { project: string; route: Route }): React.JSX.Element {
  const phase = route.params.get("phase") ?? "";
  const workflow = route.params.get("workflow") ?? "";
  const search = route.params.get("search") ?? "";
  const [typed, setTyped] = useState(search);
  const [rows, setRows] = useState<Execution[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const base = projectPath(project) + "/executions";
  const filterKey = `${base}|${phase}|${workflow}|${search}`;
  const currentKey = useRef(filterKey);
  currentKey.current = filterKey;
  const filters = { phase: phase ? [phase] : undefined, workflow: workflow || undefined, search: search || undefined, limit: PAGE };

  useEffect(() => {
    let stop = false;
    setLoading(true);
    setRows([]); // nothing of the previous filters stays on screen while the new page comes
    setNext(null);
    get<Page>(base + query(filters))
      .then((p) => {
        if (stop) return;
        setRows(p.executions);
        setNext(p.next);
        setError(null);
      })
      .catch((e: unknown) => !stop && setError(String(e)))
      .finally(() => !stop && setLoading(false));
    return () => {
      stop = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [base, phase, workflow, search]);

  // The search is the server's (a part of the id or the workflow name), asked once typing pauses.
  useEffect(() => {
    if (typed.trim() === search) return;
    const t = window.setTimeout(() => setFilter("search", typed.trim()), 300);
    return () => window.clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [typed]);

  const moving = rows.some((r) => !TERMINAL.has(r.phase));
  useEffect(() => {
    let current = true; // an answer to a request made under other filters is dropped
    const t = window.setInterval(() => {
      get<Page>(base + query(filters))
        .then((p) =>
          current && setRows((old) => {
            const fresh = new Map(p.executions.map((e) => [e.id, e]));
            const known = new Set(old.map((e) => e.id));
            const added = p.executions.filter((e) => !known.has(e.id));
            return [...added, ...old.map((e) => fresh.get(e.id) ?? e)];
          }),
        )
        .catch(() => undefined);
    }, REFRESH_MS);
    return () => {
      current = false;
      window.clearInterval(t);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [base, phase, workflow, search, moving]);

  const more = (): void => {
    if (!next) return;
    setLoading(true);
    const asked = filterKey;
    get<Page>(base + query({ ...filters, before: next }))
      .then((p) => {
        if (asked !== currentKey.current) return;
        setRows((old) => [...old, ...p.executions]);
        setNext(p.next);
      })
      .catch((e: unknown) => setError(String(e)))
      .finally(() => setLoading(false));
  };

  const shown = rows;

  const setFilter = (key: string, value: string): void => {
    const extra: Record<string, string> = {};
    if (phase) extra.phase = phase;
    if (workflow) extra.workflow = workflow;
    if (search) extra.search = search;
    if (value) extra[key] = value;
    else delete extra[key];
    window.location.hash = href("executions", project, extra);
  };

  return (
    <section aria-labelledby="executions-title">
      <h1 id="executions-title">Executions</h1>
      <div className="filters">
        <label>
          Phase{" "}
          <select value={phase} onChange={(e) => setFilter("phase", e.target.value)}>
            <option value="">any</option>
            {PHASES.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
        <label>
          Workflow{" "}
          <input
            defaultValue={workflow}
            key={workflow}
            onKeyDown={(e) => e.key === "Enter" && setFilter("workflow", e.currentTarget.value.trim())}
            onBlur={(e) => e.currentTarget.value.trim() !== workflow && setFilter("workflow", e.currentTarget.value.trim())}
            placeholder="exact name"
          />
        </label>
        <label>
          Search{" "}
          <input type="search" value={typed} onChange={(e) => setTyped(e.target.value)} placeholder="part of an id or workflow" />
        </label>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <table className="grid executions">
        <thead>
          <tr>
            <th scope="col">Execution</th>
            <th scope="col">Phase</th>
            <th scope="col">Workflow</th>
            <th scope="col">Project</th>
            <th scope="col">Launch plan</th>
            <th scope="col">Duration</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((e) => (
            <tr key={e.id} data-execution={e.id}>
              <td>
                <a href={href(`executions/${e.id}`, project)}>{e.id}</a>
              </td>
              <td>
                <span className={phaseClass(e.phase)}>{e.phase}</span>
              </td>
              <td>{e.workflow}</td>
              <td>{e.project}</td>
              <td>{e.launchplan ?? "—"}</td>
              <td>{duration(e.started_at, e.finished_at)}</td>
              <td>{when(e.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!loading && shown.length === 0 && <p className="empty">No executions.</p>}
      <div className="pager">
        {next && (
          <button type="button" onClick={more} disabled={loading}>
            Load more
          </button>
        )}
        <span className="count">{rows.length} shown</span>
      </div>
    </section>
  );
}
