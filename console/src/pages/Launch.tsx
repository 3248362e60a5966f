// A launch form built from the workflow's typed interface, validated here and again by the server.
import { useEffect, useState } from "react";
import { canWrite, get, post, projectPath, type Entity, type Execution, type Session } from "../api";
import { go, type Route } from "../route";
import { parse } from "../values";

interface InputSpec {
  type: { kind: string };
  default?: unknown;
}

export function Launch({ project, route, session }: { project: string; route: Route; session: Session }): React.JSX.Element {
  const kind = route.parts[1] ?? "workflows";
  const name = route.parts[2] ?? "";
  const [inputs, setInputs] = useState<Record<string, InputSpec>>({});
  const [fixed, setFixed] = useState<Record<string, unknown>>({});
  const [values, setValues] = useState<Record<string, string>>({});
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const base = projectPath(project);

  useEffect(() => {
    const load = async (): Promise<void> => {
      let wf = await get<Entity>(`${base}/${kind}/${encodeURIComponent(name)}`);
      let defaults: Record<string, unknown> = {};
      if (kind === "launchplans") {
        const lp = wf.body as { workflow: string; default_inputs?: Record<string, unknown>; fixed_inputs?: Record<string, unknown> };
        defaults = lp.default_inputs ?? {};
        setFixed(lp.fixed_inputs ?? {});
        wf = await get<Entity>(`${base}/workflows/${encodeURIComponent(lp.workflow)}`);
      }
      const iface = (wf.body as { interface?: { inputs?: Record<string, InputSpec> } }).interface?.inputs ?? {};
      setInputs(iface);
      const start: Record<string, string> = {};
      for (const [k, v] of Object.entries(iface)) {
        const d = k in defaults ? defaults[k] : v.default;
        start[k] = d === undefined ? "" : typeof d === "string" ? d : JSON.stringify(d);
      }
      setValues(start);
    };
    load().catch((e: unknown) => setError(String(e)));
  }, [base, kind, name]);

  if (!canWrite(session)) return <p className="empty">Your role cannot launch.</p>;
  const submit = (e: React.FormEvent): void => {
    e.preventDefault();
    const out: Record<string, unknown> = {};
    const bad: Record<string, string> = {};
    for (const [k, spec] of Object.entries(inputs)) {
      if (k in fixed) continue;
      const raw = values[k] ?? "";
      if (raw === "" && spec.default !== undefined) continue;
      const [v, err] = parse(spec.type.kind, raw);
      if (err) bad[k] = `expected ${err}`;
      else out[k] = v;
    }
    setProblems(bad);
    if (Object.keys(bad).length > 0) return;
    const body = kind === "launchplans" ? { launchplan: name, inputs: out } : { workflow: name, inputs: out };
    post<Execution>(base + "/executions", body)
      .then((x) => go(`executions/${x.id}`, project))
      .catch((err: unknown) => setError(String(err)));
  };
  return (
    <section aria-labelledby="launch-title">
      <h1 id="launch-title">Launch {name}</h1>
      <form className="launch" onSubmit={submit} noValidate>
        {Object.entries(inputs).map(([k, spec]) => (
          <div key={k} className="field">
            <label htmlFor={`in-${k}`}>
              {k} <span className="mono">{spec.type.kind}</span>
            </label>
            {spec.type.kind === "bool" ? (
              <select id={`in-${k}`} value={values[k] ?? "false"} disabled={k in fixed} onChange={(e) => setValues({ ...values, [k]: e.target.value })}>
                <option>true</option>
                <option>false</option>
              </select>
            ) : (
              <input
                id={`in-${k}`}
                value={k in fixed ? JSON.stringify(fixed[k]) : (values[k] ?? "")}
                disabled={k in fixed}
                inputMode={spec.type.kind === "int" || spec.type.kind === "float" ? "decimal" : undefined}
                aria-invalid={k in problems}
                aria-describedby={k in problems ? `err-${k}` : undefined}
                onChange={(e) => setValues({ ...values, [k]: e.target.value })}
              />
            )}
            {k in problems && (
              <span id={`err-${k}`} className="error">
                {problems[k]}
              </span>
            )}
          </div>
        ))}
        <button type="submit">Launch</button>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}
