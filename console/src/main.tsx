import { StrictMode, useCallback, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import "./style.css";
import { ApiError, get, request, setSession, SIGNED_OUT, type Session } from "./api";
import { href, useRoute } from "./route";
import { SignIn } from "./pages/SignIn";
import { Executions } from "./pages/Executions";
import { ExecutionPage } from "./pages/Execution";
import { Registry } from "./pages/Registry";
import { Schedules } from "./pages/Schedules";
import { Cache } from "./pages/Cache";
import { Launch } from "./pages/Launch";

function useSession(): [Session | null | "signin", (s: Session | null | "signin") => void] {
  const [session, set] = useState<Session | null | "signin">(null);
  const update = useCallback((s: Session | null | "signin") => {
    setSession(s === "signin" ? null : s);
    set(s);
  }, []);
  useEffect(() => {
    get<Session>("/console/session")
      .then(update)
      .catch((e: unknown) => {
        // A server without the session routes (an older one) has no auth to sign in to.
        if (e instanceof ApiError && e.status === 404) update({ auth: false, project: null, role: "admin", csrf: null });
        else update("signin");
      });
  }, [update]);
  useEffect(() => {
    const out = (): void => update("signin");
    window.addEventListener(SIGNED_OUT, out);
    return () => window.removeEventListener(SIGNED_OUT, out);
  }, [update]);
  return [session, update];
}

function App(): React.JSX.Element {
  const [session, setSess] = useSession();
  const route = useRoute();
  const [projects, setProjects] = useState<string[]>([]);

  useEffect(() => {
    if (session === null || session === "signin") return;
    if (session.project) {
      setProjects([session.project]);
      return;
    }
    get<{ projects: { name: string }[] }>("/api/v1/projects")
      .then((r) => setProjects(r.projects.map((p) => p.name)))
      .catch(() => setProjects([]));
  }, [session]);

  if (session === null) return <main className="loading">Loading…</main>;
  if (session === "signin") return <SignIn onSignedIn={setSess} />;

  const project =
    session.project ?? route.params.get("project") ?? (projects.length > 0 ? projects[0]! : null);
  const page = route.parts[0] ?? "executions";

  const signOut = (): void => {
    request("DELETE", "/console/session")
      .catch(() => undefined)
      .finally(() => setSess("signin"));
  };

  let body: React.JSX.Element;
  if (!project) body = <p className="empty">No project yet: register a workflow first (setpoint register).</p>;
  else if (page === "executions" && route.parts[1])
    body = <ExecutionPage key={route.parts[1]} project={project} id={route.parts[1]} session={session} route={route} />;
  else if (page === "registry") body = <Registry project={project} route={route} session={session} />;
  else if (page === "launch") body = <Launch project={project} route={route} session={session} />;
  else if (page === "schedules") body = <Schedules project={project} session={session} />;
  else if (page === "cache") body = <Cache project={project} session={session} />;
  else body = <Executions project={project} route={route} />;

  const nav: [string, string][] = [
    ["executions", "Executions"],
    ["registry", "Registry"],
    ["schedules", "Schedules"],
    ["cache", "Cache"],
  ];
  return (
    <>
      <header className="top">
        <a className="brand" href={href("executions", project)}>
          setpoint
        </a>
        <nav aria-label="Main">
          {nav.map(([p, label]) => (
            <a key={p} href={href(p, project)} className={page === p ? "active" : ""} aria-current={page === p ? "page" : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <div className="who">
          {session.project ? (
            <span className="project-name">project {session.project}</span>
          ) : (
            <label>
              project{" "}
              <select
                value={project ?? ""}
                onChange={(e) => (window.location.hash = href(page, e.target.value))}
              >
                {projects.map((p) => (
                  <option key={p}>{p}</option>
                ))}
              </select>
            </label>
          )}
          <span className="role" data-role={session.role}>
            {session.role}
          </span>
          {session.auth && (
            <button type="button" className="link" onClick={signOut}>
              Sign out
            </button>
          )}
        </div>
      </header>
      <main>{body}</main>
    </>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
