import { useCallback, useEffect, useState } from "react";
import { canWrite, get, post, projectPath, type Session } from "../api";
import { when } from "../format";
import { href } from "../route";

interface Entry {
  task: string;
  key: string;
  source_execution: string;
  source_node: string;
  created_at: number;
}

export function Cache({ project, session }: { project: string; session: Session }): React.JSX.Element {
  const [rows, setRows] = useState<Entry[]>([]);
  const [error, setError] = useState<string | null>(null);
  const base = projectPath(project) + "/cache";
  const load = useCallback(() => {
    get<{ entries: Entry[] }>(base)
      .then((r) => setRows(r.entries))
      .catch((e: unknown) => setError(String(e)));
  }, [base]);
  useEffect(load, [load]);
  const evict = (keys: string[]): void => {
    post(base + "/evict", { keys })
      .then(load)
      .catch((e: unknown) => setError(String(e)));
  };
  const write = canWrite(session);
  return (
    <section aria-labelledby="cache-title">
      <h1 id="cache-title">Cache catalog</h1>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <table className="grid">
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Key</th>
            <th scope="col">Produced by</th>
            <th scope="col">Created</th>
            {write && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {rows.map((e) => (
            <tr key={e.key}>
              <td>{e.task}</td>
              <td className="mono">{e.key.slice(0, 12)}</td>
              <td>
                <a href={href(`executions/${e.source_execution}`, project, { node: e.source_node })}>
                  {e.source_execution}/{e.source_node}
                </a>
              </td>
              <td>{when(e.created_at)}</td>
              {write && (
                <td>
                  <button type="button" className="danger" onClick={() => evict([e.key])} aria-label={`Evict ${e.key.slice(0, 12)}`}>
                    Evict
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <p className="empty">The catalog is empty.</p>}
    </section>
  );
}
