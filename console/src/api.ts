// The console is a client of the REST API (/api/v1) and of the session routes (/console/session).
// Writes authenticated by the session cookie carry the session's CSRF token in X-CSRF-Token.

export type Role = "viewer" | "editor" | "admin";

export interface Session {
  auth: boolean;
  project: string | null;
  role: Role;
  csrf: string | null;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let current: Session | null = null;

export const SIGNED_OUT = "setpoint:signed-out";

export function setSession(s: Session | null): void {
  current = s;
}

export function canWrite(s: Session | null): boolean {
  return s !== null && (s.role === "editor" || s.role === "admin");
}

async function failure(res: Response): Promise<ApiError> {
  let code = "http_" + res.status;
  let message = res.statusText || "request failed";
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, code, message);
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && current?.csrf) headers["X-CSRF-Token"] = current.csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    const err = await failure(res);
    // The session ended (expired, or signed out elsewhere): the app goes back to the sign-in page.
    if (err.status === 401 && current?.auth && !path.startsWith("/console/session"))
      window.dispatchEvent(new Event(SIGNED_OUT));
    throw err;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T>(path: string): Promise<T> => request<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}): Promise<T> => request<T>("POST", path, body);

export const projectPath = (project: string): string => `/api/v1/projects/${encodeURIComponent(project)}`;
export const execPath = (project: string, id: string): string =>
  `${projectPath(project)}/executions/${encodeURIComponent(id)}`;

export function query(params: Record<string, string | number | boolean | null | undefined | string[]>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

// -- records (the API's wire forms; only the fields the console reads) ------------------------------

export interface ErrorInfo {
  kind: string;
  code: string;
  message: string;
  node?: string | null;
}

export interface Execution {
  id: string;
  project: string;
  workflow: string;
  phase: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown> | null;
  error: ErrorInfo | null;
  abort_reason: string | null;
  source_id: string | null;
  mode: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  launchplan?: string | null;
  config?: Record<string, unknown>;
}

export interface Attempt {
  id: string;
  number: number;
  phase: string;
  executor: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  error: ErrorInfo | null;
  abort_reason: string | null;
}

export interface NodeView {
  id: string;
  task: string;
  upstream: string[];
  phase: string;
  attempt: number;
  inputs: Record<string, unknown> | null;
  outputs: Record<string, unknown> | null;
  error: ErrorInfo | null;
  started_at: number | null;
  finished_at: number | null;
  cache_status: string | null;
  detail: Record<string, unknown> | null;
  attempts: Attempt[];
}

export interface Counts {
  total: number;
  succeeded: number;
  running: number;
  failed: number;
  queued: number;
  skipped?: number;
}

export interface GraphNode {
  id: string;
  parent: string | null;
  kind: string;
  label: string;
  task?: string;
  phase: string;
  error?: ErrorInfo | null;
  cache: string | null;
  recovered_from: string | null;
  attempts: number;
  queued_at: number | null;
  started_at: number | null;
  ended_at: number | null;
  children: Counts | null;
  gate?: string | null; // a gate: sleep, approve or signal
  child?: string | null; // a launch-plan node: the execution it started
  case?: number | null; // a decided branch: the case it took (-1: none matched)
  case_of?: [string, number] | null;
}

export interface Graph {
  execution: Execution;
  nodes: GraphNode[];
  edges: [string, string][];
}

export interface EventRecord {
  seq: number;
  ts: number;
  kind: string;
  phase: string;
  node: string | null;
  attempt: number | null;
  message: string;
}

export interface Entity {
  kind: string;
  project: string;
  name: string;
  version: string;
  created_at: number;
  body: Record<string, unknown>;
}

export const TERMINAL = new Set(["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "SKIPPED"]);
