import { useCallback, useEffect, useState } from "react";
import { canWrite, get, post, projectPath, type Entity, type Session } from "../api";
import { when } from "../format";

interface Status {
  name: string;
  latest_version: string | null;
  active_version: string | null;
  schedule_text: string | null;
  next_ticks: string[]; // ISO 8601, UTC
}

export function Schedules({ project, session }: { project: string; session: Session }): React.JSX.Element {
  const [rows, setRows] = useState<Status[]>([]);
  const [error, setError] = useState<string | null>(null);
  const base = projectPath(project) + "/launchplans";
  const load = useCallback(() => {
    get<{ entities: Entity[] }>(base)
      .then((r) => Promise.all(r.entities.map((e) => get<Status>(`${base}/${encodeURIComponent(e.name)}/schedule`))))
      .then(setRows)
      .catch((e: unknown) => setError(String(e)));
  }, [base]);
  useEffect(load, [load]);
  const toggle = (s: Status): void => {
    post(`${base}/${encodeURIComponent(s.name)}/${s.active_version ? "deactivate" : "activate"}`, {})
      .then(load)
      .catch((e: unknown) => setError(String(e)));
  };
  return (
    <section aria-labelledby="schedules-title">
      <h1 id="schedules-title">Schedules</h1>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <table className="grid">
        <thead>
          <tr>
            <th scope="col">Launch plan</th>
            <th scope="col">Schedule</th>
            <th scope="col">Active version</th>
            <th scope="col">Next ticks</th>
            <th scope="col">Active</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((s) => (
            <tr key={s.name}>
              <td>{s.name}</td>
              <td className="mono">{s.schedule_text ?? "none"}</td>
              <td className="mono">{s.active_version ?? "—"}</td>
              <td>{s.next_ticks.slice(0, 3).map((t) => when(Date.parse(t) / 1000)).join(", ") || "—"}</td>
              <td>
                {canWrite(session) ? (
                  <button type="button" role="switch" aria-checked={!!s.active_version} aria-label={`Activate ${s.name}`} onClick={() => toggle(s)}>
                    {s.active_version ? "On" : "Off"}
                  </button>
                ) : s.active_version ? (
                  "on"
                ) : (
                  "off"
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <p className="empty">No launch plans.</p>}
    </section>
  );
}
