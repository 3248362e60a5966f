import { useEffect, useState } from "react";
import { canWrite, get, projectPath, type Entity, type Session } from "../api";
import { when } from "../format";
import { href, type Route } from "../route";

const KINDS: [string, string][] = [
  ["workflows", "Workflows"],
  ["tasks", "Tasks"],
  ["launchplans", "Launch plans"],
];

function Interface({ entity }: { entity: Entity }): React.JSX.Element {
  const body = entity.body as { interface?: { inputs?: Record<string, { type: unknown; default?: unknown }>; outputs?: Record<string, unknown> }; spec?: { interface?: unknown } };
  const iface = (body.interface ?? (body.spec as { interface?: typeof body.interface } | undefined)?.interface) as typeof body.interface;
  if (!iface) return <pre className="json-raw">{JSON.stringify(entity.body, null, 2)}</pre>;
  return (
    <table className="grid small">
      <caption>Interface</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Direction</th>
          <th scope="col">Type</th>
          <th scope="col">Default</th>
        </tr>
      </thead>
      <tbody>
        {Object.entries(iface.inputs ?? {}).map(([k, v]) => (
          <tr key={"i" + k}>
            <td>{k}</td>
            <td>input</td>
            <td className="mono">{JSON.stringify(v.type)}</td>
            <td className="mono">{"default" in v ? JSON.stringify(v.default) : "—"}</td>
          </tr>
        ))}
        {Object.entries(iface.outputs ?? {}).map(([k, v]) => (
          <tr key={"o" + k}>
            <td>{k}</td>
            <td>output</td>
            <td className="mono">{JSON.stringify(v)}</td>
            <td>—</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Registry({ project, route, session }: { project: string; route: Route; session: Session }): React.JSX.Element {
  const kind = route.parts[1] ?? "workflows";
  const name = route.parts[2];
  const [list, setList] = useState<Entity[]>([]);
  const [versions, setVersions] = useState<Entity[]>([]);
  const [error, setError] = useState<string | null>(null);
  const base = projectPath(project) + "/" + kind;
  useEffect(() => {
    setError(null);
    if (name) {
      get<{ entities: Entity[] }>(`${base}/${encodeURIComponent(name)}/versions`)
        .then((r) => setVersions(r.entities))
        .catch((e: unknown) => setError(String(e)));
    } else {
      get<{ entities: Entity[] }>(base)
        .then((r) => setList(r.entities))
        .catch((e: unknown) => setError(String(e)));
    }
  }, [base, name]);
  const launchable = kind !== "tasks" && canWrite(session);
  return (
    <section aria-labelledby="registry-title">
      <h1 id="registry-title">Registry</h1>
      <nav className="subnav" aria-label="Registry kinds">
        {KINDS.map(([k, label]) => (
          <a key={k} href={href(`registry/${k}`, project)} className={k === kind ? "active" : ""} aria-current={k === kind ? "page" : undefined}>
            {label}
          </a>
        ))}
      </nav>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {name ? (
        <>
          <h2>
            {name}{" "}
            {launchable && (
              <a className="button" href={href(`launch/${kind}/${name}`, project)}>
                Launch
              </a>
            )}
          </h2>
          {versions[0] && <Interface entity={versions[0]} />}
          <table className="grid">
            <caption>Versions</caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Registered</th>
              </tr>
            </thead>
            <tbody>
              {versions.map((v) => (
                <tr key={v.version}>
                  <td className="mono">{v.version}</td>
                  <td>{when(v.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : (
        <table className="grid">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Latest version</th>
              <th scope="col">Registered</th>
              {launchable && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {list.map((e) => (
              <tr key={e.name}>
                <td>
                  <a href={href(`registry/${kind}/${e.name}`, project)}>{e.name}</a>
                </td>
                <td className="mono">{e.version}</td>
                <td>{when(e.created_at)}</td>
                {launchable && (
                  <td>
                    <a href={href(`launch/${kind}/${e.name}`, project)}>Launch</a>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
