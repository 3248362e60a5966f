// Client-side routing on the URL's hash: /#/executions/<id>?project=p (the server only serves index.html).
import { useEffect, useState } from "react";

export interface Route {
  parts: string[];
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, "");
  const [path, qs] = raw.split("?", 2) as [string, string | undefined];
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(qs ?? "") };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseHash(window.location.hash));
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}

export function href(path: string, project: string | null, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams(extra);
  if (project) q.set("project", project);
  const s = q.toString();
  return "#/" + path.split("/").map(encodeURIComponent).join("/") + (s ? "?" + s : "");
}

export function go(path: string, project: string | null, extra: Record<string, string> = {}): void {
  window.location.hash = href(path, project, extra);
}
