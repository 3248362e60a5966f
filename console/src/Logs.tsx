// A node's logs streamed from the logs SSE route: follow, search, download; a virtualised list of
// lines so a multi-megabyte log stays responsive.
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useMemo, useRef, useState } from "react";
import { execPath, query } from "./api";
import { styled } from "./format";

const MAX_LINES = 200_000;

export function Logs({ project, execution, node }: { project: string; execution: string; node: string }): React.JSX.Element {
  const [lines, setLines] = useState<string[]>([]);
  const [ended, setEnded] = useState(false);
  const [follow, setFollow] = useState(true);
  const [search, setSearch] = useState("");
  const pending = useRef<string[]>([]);
  const partial = useRef<Map<string, string>>(new Map());
  const lastKey = useRef<string | null>(null);
  const scroller = useRef<HTMLDivElement>(null);

  useEffect(() => {
    setLines([]);
    setEnded(false);
    pending.current = [];
    partial.current = new Map();
    lastKey.current = null;
    const src = new EventSource(execPath(project, execution) + "/logs/stream" + query({ node }));
    src.addEventListener("log", (e) => {
      const m = JSON.parse((e as MessageEvent<string>).data) as { attempt_id: string; stream: string; text: string };
      // A line naming the attempt and stream whenever the output switches to another one.
      const key = `${m.attempt_id} ${m.stream}`;
      if (key !== lastKey.current) {
        lastKey.current = key;
        pending.current.push(`# ── ${m.attempt_id} ${m.stream} ──`);
      }
      const text = (partial.current.get(key) ?? "") + m.text;
      const parts = text.split("\n");
      partial.current.set(key, parts.pop() ?? "");
      const tag = m.stream === "stderr" ? "! " : "  ";
      for (const p of parts) pending.current.push(tag + p);
    });
    src.addEventListener("end", () => {
      for (const [key, rest] of partial.current) if (rest) pending.current.push((key.endsWith("stderr") ? "! " : "  ") + rest);
      partial.current.clear();
      setEnded(true);
      src.close();
    });
    // Lines arrive in bursts; render at most ten times a second.
    const t = window.setInterval(() => {
      if (pending.current.length === 0) return;
      const add = pending.current;
      pending.current = [];
      setLines((old) => {
        const all = old.concat(add);
        return all.length > MAX_LINES ? all.slice(all.length - MAX_LINES) : all;
      });
    }, 100);
    return () => {
      window.clearInterval(t);
      src.close();
    };
  }, [project, execution, node]);

  const shown = useMemo(() => {
    const s = search.toLowerCase();
    return s ? lines.filter((l) => l.toLowerCase().includes(s)) : lines;
  }, [lines, search]);

  const rows = useVirtualizer({
    count: shown.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 17,
    overscan: 20,
  });

  useEffect(() => {
    if (follow && shown.length > 0) rows.scrollToIndex(shown.length - 1, { align: "end" });
  }, [follow, shown.length, rows]);

  const download = execPath(project, execution) + "/logs" + query({ node });
  return (
    <div className="logs">
      <div className="logs-bar">
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <label>
          Search <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </label>
        <a href={download} download={`${execution}-${node}.log`}>
          Download
        </a>
        <span className="count" aria-live="polite">
          {shown.length} lines{ended ? "" : " · streaming"}
        </span>
      </div>
      <div className="log-lines" ref={scroller} tabIndex={0} aria-label={`Logs of ${node}`}>
        <div className="log-inner" ref={styled("height", `${rows.getTotalSize()}px`)}>
          {rows.getVirtualItems().map((v) => (
            <LogLine key={v.key} top={v.start} text={shown[v.index] ?? ""} />
          ))}
        </div>
      </div>
    </div>
  );
}

function LogLine({ top, text }: { top: number; text: string }): React.JSX.Element {
  // Positioned through the CSSOM (allowed by the Content-Security-Policy), never a style attribute.
  return (
    <div
      className={text.startsWith("! ") ? "log-line err" : text.startsWith("# ") ? "log-line mark" : "log-line"}
      ref={styled("transform", `translateY(${top}px)`)}
    >
      {text.slice(2)}
    </div>
  );
}
