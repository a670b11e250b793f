import { useEffect, useRef } from 'react';
import { EditorView, basicSetup } from 'codemirror';
import { python } from '@codemirror/lang-python';
import { useLatest } from '../lib/useLatest';
import { EditorState, StateEffect, StateField, RangeSetBuilder } from '@codemirror/state';
import { Decoration, DecorationSet, GutterMarker, gutter } from '@codemirror/view';

// One effect sets (or clears, with null) the line marked as failing.
const setErrorLine = StateEffect.define<number | null>();

const errorLineField = StateField.define<number | null>({
  create: () => null,
  update(value, tr) {
    for (const e of tr.effects) if (e.is(setErrorLine)) return e.value;
    return tr.docChanged ? null : value; // editing clears the mark: it may no longer apply
  },
});

const lineDeco = Decoration.line({ class: 'cm-error-line' });
const errorDecorations = EditorView.decorations.compute([errorLineField], (state) => {
  const line = state.field(errorLineField);
  const builder = new RangeSetBuilder<Decoration>();
  if (line && line >= 1 && line <= state.doc.lines) {
    const l = state.doc.line(line);
    builder.add(l.from, l.from, lineDeco);
  }
  return builder.finish() as DecorationSet;
});

class ErrorMarker extends GutterMarker {
  toDOM() {
    const span = document.createElement('span');
    span.className = 'cm-error-gutter';
    span.textContent = '●';
    span.title = 'Validation failed here';
    return span;
  }
}
const errorGutter = gutter({
  class: 'cm-error-gutter-col',
  lineMarker(view, line) {
    const n = view.state.field(errorLineField);
    if (!n || n > view.state.doc.lines) return null;
    return view.state.doc.lineAt(line.from).number === n ? new ErrorMarker() : null;
  },
  lineMarkerChange: (update) => update.startState.field(errorLineField) !== update.state.field(errorLineField),
});

interface Props {
  value: string;
  onChange: (value: string) => void;
  /** 1-based line to mark as failing, or null. */
  errorLine?: number | null;
  minHeight?: number;
  ariaLabel?: string;
  id?: string;
}

/** A Python code editor (CodeMirror 6): syntax highlighting, line numbers, the failing line marked. */
export default function CodeEditor({ value, onChange, errorLine = null, minHeight = 120, ariaLabel, id }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changeRef = useLatest(onChange);

  useEffect(() => {
    if (!host.current) return;
    const v = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          python(),
          errorLineField,
          errorDecorations,
          errorGutter,
          EditorView.theme({ '&': { minHeight: `${minHeight}px` }, '.cm-scroller': { minHeight: `${minHeight}px` } }),
          EditorView.contentAttributes.of({ 'aria-label': ariaLabel ?? 'Code', ...(id ? { id } : {}) }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) changeRef.current(u.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = v;
    return () => {
      v.destroy();
      view.current = null;
    };
    // The editor is created once: later `value`/`errorLine` changes reach it through the effects below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // Outside changes (a template, a reload) replace the text.
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
    }
  }, [value]);

  useEffect(() => {
    const v = view.current;
    if (!v) return;
    v.dispatch({ effects: setErrorLine.of(errorLine ?? null) });
    if (errorLine && errorLine <= v.state.doc.lines) {
      const line = v.state.doc.line(errorLine);
      v.dispatch({ effects: EditorView.scrollIntoView(line.from, { y: 'center' }) });
    }
  }, [errorLine]);

  return <div className="editor" ref={host} data-error-line={errorLine ?? ''} />;
}
