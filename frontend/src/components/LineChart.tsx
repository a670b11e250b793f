import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
  dash?: boolean;
}

interface Props {
  x: number[];
  series: Series[];
  xLabel?: string;
  height?: number;
  title?: string;
}

/** A small line chart (uPlot) that resizes with its box and updates in place as data grows. */
export default function LineChart({ x, series, xLabel = 'epoch', height = 240, title }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => `${s.label}|${s.color}|${s.dash ? 1 : 0}`).join(',');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      title,
      width: Math.max(el.clientWidth, 200),
      height,
      scales: { x: { time: false } },
      axes: [{ label: xLabel, stroke: '#5b6677' }, { stroke: '#5b6677' }],
      legend: { live: true },
      series: [
        { label: xLabel },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          dash: s.dash ? [6, 4] : undefined,
          points: { show: x.length < 40 },
        })),
      ],
    };
    const p = new uPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    plot.current = p;
    const ro =
      typeof ResizeObserver !== 'undefined' ? new ResizeObserver(() => p.setSize({ width: Math.max(el.clientWidth, 200), height })) : null;
    ro?.observe(el);
    return () => {
      ro?.disconnect();
      p.destroy();
      plot.current = null;
    };
    // Rebuild only when the set of series changes; data updates go through setData.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, height, xLabel, title]);

  useEffect(() => {
    plot.current?.setData([x, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [x, series]);

  return <div className="chart" ref={box} />;
}
