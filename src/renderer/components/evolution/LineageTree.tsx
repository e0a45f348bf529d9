/**
 * The lineage tree of an evolution session: generations as rows (the head marked), thumbnails as
 * nodes, edges from parents to children (dashed: carried over unchanged). Hovering or selecting a
 * node shows its prompt, seed, operator and parents (the Evolve view's details panel) and lights
 * up its ancestry and descendants; the selected node is where "Branch from here" starts.
 */
import { useMemo } from 'react';
import type { EvolutionSessionView } from '../../../shared/ipc/evolution.js';
import { useStudio } from '../../api/context.js';
import { ancestry, descendants, edgePath, layoutLineage } from './lineage-layout.js';

interface Props {
  session: EvolutionSessionView;
  selected: string | undefined;
  hovered: string | undefined;
  picks: readonly string[];
  onSelect: (id: string) => void;
  onHover: (id: string | undefined) => void;
}

function rowLabel(g: EvolutionSessionView['generations'][number]): string {
  if (g.kind === 'init') return 'start';
  if (g.kind === 'branch') return `branch of ${g.branchedFrom ?? g.parent}`;
  return g.picks ? `${g.picks.length} pick${g.picks.length === 1 ? '' : 's'}` : 'by fitness';
}

export function LineageTree({ session, selected, hovered, picks, onSelect, onHover }: Props) {
  const { api } = useStudio();
  const layout = useMemo(() => layoutLineage(session), [session]);
  const focus = hovered ?? selected;
  // The focused node's ancestry and its descendants.
  const lit = useMemo(() => new Set([...ancestry(session, focus), ...descendants(session, focus)]), [session, focus]);
  const nodeId = useMemo(() => new Map(layout.nodes.map((n) => [n.key, n.id])), [layout]);
  const s = layout.size;
  return (
    <div
      className="lineage-scroll"
      data-testid="lineage-tree"
      data-generations={session.generations.length}
      data-nodes={layout.nodes.length}
    >
      <div className="lineage" style={{ width: layout.width, height: layout.height }}>
        <svg className="lineage-edges" width={layout.width} height={layout.height} aria-hidden="true">
          {layout.edges.map((e) => {
            const on = focus !== undefined && lit.has(nodeId.get(e.from)!) && lit.has(nodeId.get(e.to)!);
            return (
              <path
                key={`${e.from}>${e.to}`}
                d={edgePath(e)}
                className={`lineage-edge ${e.kind}${on ? ' lit' : ''}`}
                data-testid="lineage-edge"
                data-from={e.from}
                data-to={e.to}
                data-kind={e.kind}
              />
            );
          })}
        </svg>
        {layout.rows.map((r) => (
          <div
            key={r.generation.id}
            className={`lineage-row-label${r.head ? ' head' : ''}`}
            style={{ top: r.y, height: s }}
            data-testid="lineage-row"
            data-generation={r.generation.id}
            data-head={r.head ? 'true' : 'false'}
          >
            <strong>{r.generation.id}</strong>
            <span className="small muted">{rowLabel(r.generation)}</span>
            {r.generation.best !== undefined && <span className="small mono">best {r.generation.best.toFixed(3)}</span>}
            {r.head && <span className="badge busy">head</span>}
          </div>
        ))}
        {layout.nodes.map((n) => {
          const i = n.individual;
          const classes = [
            'lineage-node',
            n.carried ? 'carried' : '',
            selected === n.id ? 'selected' : '',
            lit.has(n.id) && focus ? 'lit' : '',
            picks.includes(n.id) ? 'picked' : '',
          ]
            .filter(Boolean)
            .join(' ');
          return (
            <button
              key={n.key}
              type="button"
              className={classes}
              style={{ left: n.x, top: n.y, width: s, height: s }}
              onClick={() => onSelect(n.id)}
              onMouseEnter={() => onHover(n.id)}
              onMouseLeave={() => onHover(undefined)}
              onFocus={() => onHover(n.id)}
              onBlur={() => onHover(undefined)}
              aria-label={`${i.id}${n.carried ? ' (carried over)' : ''}: ${i.prompt}, seed ${i.seed}, ${i.operator}`}
              aria-pressed={selected === n.id}
              title={`${i.id} · ${i.operator} · seed ${i.seed}${i.fitness !== undefined ? ` · fitness ${i.fitness.toFixed(3)}` : ''}\n${i.prompt}`}
              data-testid="lineage-node"
              data-id={i.id}
              data-generation={session.generations[n.row]!.id}
              data-carried={n.carried ? 'true' : 'false'}
            >
              {i.thumbnail ? <img src={api.imageUrl(i.thumbnail)} alt="" loading="lazy" /> : <span className="small">{i.id}</span>}
            </button>
          );
        })}
      </div>
    </div>
  );
}
