import { useNotices, useStudio } from '../api/context.js';

/**
 * Notices from the host, one dismissible banner each: a damaged settings file moved aside (and
 * where to), a library index rebuilt. Dismissing tells the host, so other windows and later
 * visits do not show it again.
 */
export function NoticeBanners() {
  const notices = useNotices();
  const { notices: store } = useStudio();
  if (notices.length === 0) return null;
  return (
    <div className="notices" aria-label="Notices">
      {notices.map((n) => (
        <div
          key={n.id}
          className={`banner ${n.level === 'error' ? 'banner-bad' : 'banner-warn'}`}
          role={n.level === 'error' ? 'alert' : 'status'}
          data-testid="notice"
          data-source={n.source}
          data-level={n.level}
        >
          <span>
            <strong>{n.source === 'settings' ? 'Settings' : 'Library'}:</strong> {n.message}
            {n.movedTo && (
              <span className="muted small" data-testid="notice-moved-to">
                {' '}
                The damaged file is kept at <span className="mono">{n.movedTo}</span>.
              </span>
            )}
          </span>
          <button
            type="button"
            className="btn-ghost"
            onClick={() => void store.dismiss(n.id)}
            aria-label="Dismiss notice"
            data-testid="notice-dismiss"
          >
            ✕
          </button>
        </div>
      ))}
    </div>
  );
}
