/**
 * An edit in the Library's details: before/after (the before image stored with the edit), what
 * changed and how, the report, and its source (select it when it is still in the library).
 */
import type { ItemEdit } from '../../../shared/ipc/library.js';
import { useStudio } from '../../api/context.js';
import { CompareView } from './CompareView.js';
import { describeEditReport } from './edit-report.js';

export function EditDetails({
  edit,
  file,
  sourceId,
  onShowSource,
}: {
  edit: ItemEdit;
  /** The edited image. */
  file: string;
  /** The source item, when it is still in the library. */
  sourceId: string | undefined;
  onShowSource: (id: string) => void;
}) {
  const { api } = useStudio();
  const report = describeEditReport(edit.report);
  return (
    <div className="edit-details" data-testid="details-edit-record">
      <CompareView before={api.imageUrl(edit.sourceFile)} after={api.imageUrl(file)} testId="details-compare" />
      <dl className="edit-facts">
        <dt>Edit of</dt>
        <dd>
          <span className="mono">{edit.source.prompt}</span>{' '}
          <span className="muted">({edit.source.kind === 'upload' ? 'an uploaded image' : `a library ${edit.source.kind}`})</span>
          {sourceId && (
            <>
              {' '}
              <button
                type="button"
                className="small-btn secondary"
                onClick={() => onShowSource(sourceId)}
                data-testid="details-edit-source"
              >
                Show the source
              </button>
            </>
          )}
        </dd>
        <dt>Change</dt>
        <dd>{edit.diff.summary}</dd>
        <dt>Mode</dt>
        <dd>
          {edit.mode}
          {edit.requestedMode === 'auto' ? ' (auto)' : ''} · cross {edit.crossSteps} · self {edit.selfSteps}
          {edit.blend ? ` · mask threshold ${edit.blend.threshold}` : ''}
        </dd>
        <dt>Changed</dt>
        <dd>
          <div>{report.outside}</div>
          <div className="muted">{report.inside}</div>
        </dd>
      </dl>
    </div>
  );
}
