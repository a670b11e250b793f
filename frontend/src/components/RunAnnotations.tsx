import { useState } from 'react';
import { api } from '../lib/api';
import { parseTags } from '../lib/runs';
import type { Run, TrainingResult } from '../lib/types';
import { ErrorAlert } from './ui';
import '../styles/tracking.css';

/** Tags and note of one run, edited in place (PATCH /results/<id>/). */
export default function RunAnnotations({
  run,
  onSaved,
}: {
  run: Pick<Run, 'id' | 'tags' | 'note'>;
  onSaved: (r: Pick<Run, 'tags' | 'note'>) => void;
}) {
  const [editing, setEditing] = useState(false);
  const [tags, setTags] = useState(run.tags.join(', '));
  const [note, setNote] = useState(run.note);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  if (!editing) {
    return (
      <div className="run-notes">
        {run.tags.map((t) => (
          <span key={t} className="badge tag" data-testid="tag">
            {t}
          </span>
        ))}
        {run.note && (
          <div className="small muted note" title={run.note}>
            {run.note}
          </div>
        )}
        <button
          type="button"
          className="btn small link"
          aria-label={`Edit tags and note of run ${run.id}`}
          onClick={() => {
            setTags(run.tags.join(', '));
            setNote(run.note);
            setEditing(true);
          }}
        >
          {run.tags.length || run.note ? 'Edit' : 'Add tags / note'}
        </button>
      </div>
    );
  }
  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      const saved = await api.patch<TrainingResult>(`/api/v1/results/${run.id}/`, { tags: parseTags(tags), note });
      onSaved({ tags: saved.tags ?? [], note: saved.note ?? '' });
      setEditing(false);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="run-notes editing">
      <input
        aria-label={`Tags of run ${run.id}`}
        placeholder="tags, comma separated"
        value={tags}
        onChange={(e) => setTags(e.target.value)}
      />
      <textarea aria-label={`Note of run ${run.id}`} rows={2} placeholder="note" value={note} onChange={(e) => setNote(e.target.value)} />
      <div className="actions">
        <button type="button" className="btn small primary" disabled={busy} onClick={save}>
          Save
        </button>
        <button type="button" className="btn small" onClick={() => setEditing(false)}>
          Cancel
        </button>
      </div>
      <ErrorAlert error={error} />
    </div>
  );
}
