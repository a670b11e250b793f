import type { MLModel, ModelSummary } from '../lib/types';
import { fmtNum } from './ui';

function shape(v: unknown): string {
  if (v === null || v === undefined) return '—';
  return JSON.stringify(v).replace(/null/g, 'None');
}

type Layer = Record<string, unknown>;

export default function ModelSummaryView({ model }: { model: MLModel }) {
  const s = (model.summary ?? {}) as ModelSummary;
  const layers = (Array.isArray(s.layers) ? s.layers : []) as Layer[];
  const total = s.total_params ?? (s as Record<string, unknown>).params ?? (s as Record<string, unknown>).parameters;
  const text = typeof s.text === 'string' ? s.text : typeof s.summary === 'string' ? s.summary : null;
  return (
    <div data-testid="model-summary">
      <dl className="kv">
        <dt>Input shape</dt>
        <dd className="mono">{shape(model.input_shape)}</dd>
        <dt>Output shape</dt>
        <dd className="mono">{shape(model.output_shape)}</dd>
        <dt>Parameters</dt>
        <dd>
          {fmtNum(total as number)}
          {s.trainable_params !== undefined && <span className="muted"> ({fmtNum(s.trainable_params)} trainable)</span>}
        </dd>
      </dl>
      {layers.length > 0 && (
        <div className="table-wrap" style={{ marginTop: 12 }}>
          <table className="list">
            <thead>
              <tr>
                <th>Layer</th>
                <th>Type</th>
                <th>Output shape</th>
                <th className="num">Params</th>
              </tr>
            </thead>
            <tbody>
              {layers.map((l, i) => (
                <tr key={i}>
                  <td>{String(l.name ?? i)}</td>
                  <td>{String(l.type ?? l.class_name ?? '')}</td>
                  <td className="mono">{shape(l.output_shape ?? l.shape)}</td>
                  <td className="num">{fmtNum((l.params ?? l.parameters) as number)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {!layers.length && text && (
        <pre className="log" style={{ marginTop: 12 }}>
          {text}
        </pre>
      )}
    </div>
  );
}
