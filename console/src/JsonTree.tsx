// Values rendered by shape: objects and lists as an expandable tree, blob references as links.
import { useState } from "react";

function isBlob(v: unknown): v is { uri: string } {
  return typeof v === "object" && v !== null && typeof (v as { uri?: unknown }).uri === "string";
}

function Leaf({ value }: { value: unknown }): React.JSX.Element {
  if (value === null) return <span className="j-null">null</span>;
  if (typeof value === "string") {
    if (/^(https?:\/\/|\/api\/v1\/)/.test(value))
      return (
        <a href={value} rel="noreferrer" target="_blank">
          {value}
        </a>
      );
    return <span className="j-str">"{value}"</span>;
  }
  if (typeof value === "number") return <span className="j-num">{String(value)}</span>;
  if (typeof value === "boolean") return <span className="j-bool">{String(value)}</span>;
  return <span>{JSON.stringify(value)}</span>;
}

function Branch({ name, value, depth }: { name: string; value: unknown; depth: number }): React.JSX.Element {
  const [open, setOpen] = useState(depth < 2);
  const complex = typeof value === "object" && value !== null;
  if (isBlob(value))
    return (
      <li>
        <span className="j-key">{name}</span>: <a href={value.uri}>{value.uri}</a>
      </li>
    );
  if (!complex)
    return (
      <li>
        <span className="j-key">{name}</span>: <Leaf value={value} />
      </li>
    );
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  return (
    <li>
      <button type="button" className="j-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        {open ? "▾" : "▸"} <span className="j-key">{name}</span>
      </button>{" "}
      <span className="j-meta">{Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`}</span>
      {open && (
        <ul className="json">
          {entries.slice(0, 500).map(([k, v]) => (
            <Branch key={k} name={k} value={v} depth={depth + 1} />
          ))}
          {entries.length > 500 && <li className="j-meta">… {entries.length - 500} more</li>}
        </ul>
      )}
    </li>
  );
}

export function JsonTree({ value, label }: { value: Record<string, unknown> | null | undefined; label: string }): React.JSX.Element {
  if (!value || Object.keys(value).length === 0) return <p className="empty">No {label}.</p>;
  return (
    <ul className="json" aria-label={label}>
      {Object.entries(value).map(([k, v]) => (
        <Branch key={k} name={k} value={v} depth={0} />
      ))}
    </ul>
  );
}
