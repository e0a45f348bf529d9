import type { EvalTable } from '../../../shared/ipc/eval.js';
import { formatCell } from '../../lib/evaluation.js';
import { formatNumber } from '../../lib/format.js';

/** One of the report's tables as the paper lays them out: method rows × metric columns, mean ± 95% interval, the best mean in bold. */
export function ReportTable({ table }: { table: EvalTable }) {
  return (
    <figure className="eval-table" data-testid={`eval-table-${table.id}`}>
      <figcaption>{table.title}</figcaption>
      <div className="eval-table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">{table.rowHeader}</th>
              <th scope="col" title="units scored">
                n
              </th>
              {table.columns.map((c) => (
                <th key={c.key} scope="col" title={c.description}>
                  {c.label}
                </th>
              ))}
              {table.id !== 'paired' && (
                <th scope="col" title="seconds of the method per image">
                  s / image
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {table.rows.map((r) => (
              <tr key={r.label} data-testid="eval-row" data-method={r.method ?? ''}>
                <th scope="row">{r.label}</th>
                <td className="num">{r.n}</td>
                {r.cells.map((cell, j) => {
                  const col = table.columns[j]!;
                  const text = formatCell(cell, col);
                  return (
                    <td key={col.key} className={`num${cell.best ? ' best' : ''}`} data-metric={col.key}>
                      {cell.best ? <strong>{text}</strong> : text}
                    </td>
                  );
                })}
                {table.id !== 'paired' && <td className="num">{r.secondsPerImage === null ? '—' : formatNumber(r.secondsPerImage)}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
