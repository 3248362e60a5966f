// A map node's elements: paged from the graph/children route into a virtualised table.
import { useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, execPath, get, query, type Graph, type GraphNode, type NodeView } from "./api";
import { duration, phaseClass, styled } from "./format";
import { graphFromNodes } from "./model";

const PAGE = 500;

export function MapTable({
  project,
  execution,
  node,
  onSelect,
}: {
  project: string;
  execution: string;
  node: string;
  onSelect: (id: string) => void;
}): React.JSX.Element {
  const [items, setItems] = useState<GraphNode[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const base = execPath(project, execution);

  const fetchPage = useCallback(
    async (cursor: string | null): Promise<{ items: GraphNode[]; next: string | null }> => {
      try {
        return await get(base + "/graph/children" + query({ node, cursor, limit: PAGE }));
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
        // A server without the children route: the elements from the node list.
        const all = await get<{ nodes: NodeView[] }>(base + "/nodes?children=true");
        const kids = all.nodes.filter((v) => v.id.startsWith(node + "."));
        const g = graphFromNodes({ id: execution } as Graph["execution"], kids);
        return { items: g.nodes.map((n) => ({ ...n, parent: node })), next: null };
      }
    },
    [base, node, execution],
  );

  useEffect(() => {
    setItems([]);
    setBusy(true);
    fetchPage(null)
      .then((p) => {
        setItems(p.items);
        setNext(p.next);
      })
      .catch((e: unknown) => setError(String(e)))
      .finally(() => setBusy(false));
  }, [fetchPage]);

  const rows = useVirtualizer({
    count: items.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 28,
    overscan: 10,
  });
  const last = rows.getVirtualItems().at(-1);
  useEffect(() => {
    if (!last || !next || busy || last.index < items.length - 50) return;
    setBusy(true);
    fetchPage(next)
      .then((p) => {
        setItems((old) => old.concat(p.items));
        setNext(p.next);
      })
      .catch((e: unknown) => setError(String(e)))
      .finally(() => setBusy(false));
  }, [last, next, busy, items.length, fetchPage]);

  return (
    <div className="map-table" role="table" aria-label={`Elements of ${node}`}>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <div className="map-row map-head" role="row">
        <span role="columnheader">Element</span>
        <span role="columnheader">Phase</span>
        <span role="columnheader">Cache</span>
        <span role="columnheader">Attempts</span>
        <span role="columnheader">Duration</span>
      </div>
      <div className="map-body" ref={scroller} tabIndex={0} role="rowgroup">
        <div ref={styled("height", `${rows.getTotalSize()}px`)} className="map-inner">
          {rows.getVirtualItems().map((v) => {
            const n = items[v.index]!;
            return (
              <div
                key={n.id}
                role="row"
                className="map-row"
                ref={styled("transform", `translateY(${v.start}px)`)}
              >
                <span role="cell">
                  <button type="button" className="link" onClick={() => onSelect(n.id)}>
                    {n.label}
                  </button>
                </span>
                <span role="cell">
                  <span className={phaseClass(n.phase)}>{n.phase}</span>
                </span>
                <span role="cell">{n.cache ?? "—"}</span>
                <span role="cell">{n.attempts}</span>
                <span role="cell">{duration(n.started_at, n.ended_at)}</span>
              </div>
            );
          })}
        </div>
      </div>
      <p className="count">
        {items.length} loaded{next ? " (scroll for more)" : ""}
      </p>
    </div>
  );
}
