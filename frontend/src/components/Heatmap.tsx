interface Props {
  matrix: number[][];
  labels?: (string | number)[];
}

/** Confusion matrix: rows are true classes, columns predictions; colour by row share. */
export default function Heatmap({ matrix, labels }: Props) {
  const n = matrix.length;
  const names = labels && labels.length === n ? labels.map(String) : matrix.map((_, i) => String(i));
  const total = matrix.reduce((s, row) => s + row.reduce((a, b) => a + b, 0), 0);
  const correct = matrix.reduce((s, row, i) => s + (row[i] ?? 0), 0);
  return (
    <div className="table-wrap">
      <div className="axis-label">
        rows: true class · columns: predicted class · accuracy {total ? ((100 * correct) / total).toFixed(1) : '—'}%
      </div>
      <table className="heatmap" aria-label="Confusion matrix">
        <thead>
          <tr>
            <th />
            {names.map((l) => (
              <th key={l} scope="col">
                {l}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {matrix.map((row, i) => {
            const rowSum = row.reduce((a, b) => a + b, 0) || 1;
            return (
              <tr key={i}>
                <th scope="row">{names[i]}</th>
                {row.map((v, j) => {
                  const share = v / rowSum;
                  const hue = i === j ? '37, 99, 235' : '220, 38, 38';
                  return (
                    <td
                      key={j}
                      title={`true ${names[i]}, predicted ${names[j]}: ${v} (${(share * 100).toFixed(1)}%)`}
                      style={{ background: `rgba(${hue}, ${v ? 0.08 + 0.85 * share : 0})`, color: share > 0.55 ? '#fff' : '#1c2330' }}
                    >
                      {v}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
