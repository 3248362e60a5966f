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

type Row = Record<string, unknown>;

/** A list of records with the same few scalar fields: a table (how a small dataframe arrives). */
function asTable(value: unknown): { columns: string[]; rows: Row[] } | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  const first = value[0] as unknown;
  if (typeof first !== "object" || first === null || Array.isArray(first)) return null;
  const columns = Object.keys(first);
  if (columns.length === 0 || columns.length > 30) return null;
  const key = columns.join("\u0000");
  for (const r of value as unknown[]) {
    if (typeof r !== "object" || r === null || Array.isArray(r) || Object.keys(r).join("\u0000") !== key) return null;
    if (Object.values(r).some((v) => typeof v === "object" && v !== null)) return null;
  }
  return { columns, rows: value as Row[] };
}

function Table({ name, table }: { name: string; table: { columns: string[]; rows: Row[] } }): React.JSX.Element {
  return (
    <li>
      <span className="j-key">{name}</span> <span className="j-meta">[{table.rows.length} rows]</span>
      <div className="j-table" tabIndex={0}>
        <table className="grid small">
          <thead>
            <tr>
              {table.columns.map((c) => (
                <th key={c} scope="col">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {table.rows.slice(0, 200).map((r, i) => (
              <tr key={i}>
                {table.columns.map((c) => (
                  <td key={c}>{r[c] === null ? "null" : String(r[c])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
        {table.rows.length > 200 && <p className="j-meta">… {table.rows.length - 200} more rows</p>}
      </div>
    </li>
  );
}

function FileLink({ name, value }: { name: string; value: { uri: string; name?: string | null; size?: number } }): React.JSX.Element {
  const label = value.name || value.uri;
  const size = typeof value.size === "number" ? ` (${value.size.toLocaleString()} bytes)` : "";
  return (
    <li>
      <span className="j-key">{name}</span>:{" "}
      {/^https?:\/\//.test(value.uri) ? <a href={value.uri}>{label}</a> : <span className="mono" title={value.uri}>{label}</span>}
      {size}
    </li>
  );
}

function Branch({ name, value, depth }: { name: string; value: unknown; depth: number }): React.JSX.Element {
  const [open, setOpen] = useState(depth < 2);
  const complex = typeof value === "object" && value !== null;
  if (isBlob(value)) return <FileLink name={name} value={value} />;
  const table = asTable(value);
  if (table) return <Table name={name} table={table} />;
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
