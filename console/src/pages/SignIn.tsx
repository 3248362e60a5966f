import { useState } from "react";
import { ApiError, post, type Session } from "../api";

export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }): React.JSX.Element {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = (e: React.FormEvent): void => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    post<Session>("/console/session", { token: token.trim() })
      .then((s) => {
        setToken("");
        onSignedIn(s);
      })
      .catch((err: unknown) =>
        setError(err instanceof ApiError && err.status === 401 ? "That token is not valid." : String(err)),
      )
      .finally(() => setBusy(false));
  };
  return (
    <main className="signin">
      <h1>setpoint</h1>
      <form onSubmit={submit}>
        <label htmlFor="token">Token</label>
        <input
          id="token"
          type="password"
          autoComplete="off"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          placeholder="from setpoint token create"
        />
        <button type="submit" disabled={busy || !token.trim()}>
          Sign in
        </button>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
