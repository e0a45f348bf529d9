import { useEffect, useRef } from 'react';
import { monaco } from './monaco.js';
import { PROMPT_LANGUAGE, PROMPT_THEME } from './language.js';

export interface Mark {
  /** Offsets into the document. */
  start: number;
  end: number;
  /** `inserted`, `replaced`, `reweighted`, `removed`: the Edit view's diff against the source prompt. */
  kind: 'dropped' | 'problem' | 'inserted' | 'replaced' | 'reweighted' | 'removed';
  message: string;
  /** Text shown at `start` without being part of the document (a removed word, struck through). */
  ghost?: string;
}

/** Inline classes of the decorated kinds (problems are markers instead). */
const MARK_CLASS: Partial<Record<Mark['kind'], string>> = {
  dropped: 'tok-dropped',
  inserted: 'tok-inserted',
  replaced: 'tok-replaced',
  reweighted: 'tok-reweighted',
};

interface Props {
  /** Initial document. The editor owns the text afterwards (so fast typing never races React). */
  value: string;
  /** Text pushed in from outside (open from Invert/Library, the negative-prompt field); applied when `seq` changes. */
  replace?: { text: string; seq: number } | undefined;
  onChange: (value: string) => void;
  marks: readonly Mark[];
  /** Ctrl/Cmd+Enter. */
  onSubmit?: () => void;
  label: string;
  /** Default `prompt-editor`; another editor on the page (the Edit view's) needs its own. */
  testId?: string;
  placeholder?: string;
}

/**
 * Monaco editor for the prompt document. Dropped words (past CLIP's limit) get a strike-through
 * decoration with a hover; syntax problems become warning markers (also in the Problems hover).
 */
export function PromptEditor({ value, replace, onChange, marks, onSubmit, label, testId = 'prompt-editor', placeholder }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const editorRef = useRef<monaco.editor.IStandaloneCodeEditor | null>(null);
  const decorations = useRef<monaco.editor.IEditorDecorationsCollection | null>(null);
  const latest = useRef({ onChange, onSubmit });
  latest.current = { onChange, onSubmit };

  useEffect(() => {
    if (!host.current) return;
    const model = monaco.editor.createModel(value, PROMPT_LANGUAGE);
    const editor = monaco.editor.create(host.current, {
      model,
      theme: PROMPT_THEME,
      ariaLabel: label,
      automaticLayout: true,
      minimap: { enabled: false },
      lineNumbers: 'on',
      lineNumbersMinChars: 2,
      folding: false,
      glyphMargin: false,
      wordWrap: 'on',
      wrappingIndent: 'none',
      scrollBeyondLastLine: false,
      renderLineHighlight: 'line',
      fontSize: 14,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
      // Prompts have no use for tab characters: Tab moves focus, so the editor is not a keyboard trap.
      tabFocusMode: true,
      quickSuggestions: false,
      suggestOnTriggerCharacters: false,
      wordBasedSuggestions: 'off',
      placeholder: placeholder ?? 'Describe the image… e.g. a castle on a hill, (golden hour:1.3)',
      fixedOverflowWidgets: true,
      scrollbar: { alwaysConsumeMouseWheel: false },
    });
    editorRef.current = editor;
    decorations.current = editor.createDecorationsCollection();
    const sub = model.onDidChangeContent(() => latest.current.onChange(model.getValue()));
    editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.Enter, () => latest.current.onSubmit?.());
    return () => {
      sub.dispose();
      editor.dispose();
      model.dispose();
      editorRef.current = null;
    };
    // The editor is created once; later `value` changes are pushed in by the effect below.
    // eslint-disable-next-line react-hooks/exhaustive-deps -- created once on mount
  }, []);

  // External changes replace the text as an undoable edit.
  useEffect(() => {
    const editor = editorRef.current;
    const model = editor?.getModel();
    if (!editor || !model || !replace || model.getValue() === replace.text) return;
    editor.pushUndoStop();
    model.pushEditOperations([], [{ range: model.getFullModelRange(), text: replace.text }], () => null);
    editor.pushUndoStop();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- each replacement is applied once, by its sequence number
  }, [replace?.seq]);

  useEffect(() => {
    const editor = editorRef.current;
    const model = editor?.getModel();
    if (!editor || !model) return;
    const len = model.getValueLength();
    const range = (m: Mark) => {
      const a = model.getPositionAt(Math.min(m.start, len));
      const b = model.getPositionAt(Math.min(m.end, len));
      return new monaco.Range(a.lineNumber, a.column, b.lineNumber, b.column);
    };
    decorations.current?.set(
      marks.flatMap((m): monaco.editor.IModelDeltaDecoration[] => {
        const stickiness = monaco.editor.TrackedRangeStickiness.NeverGrowsWhenTypingAtEdges;
        if (m.kind === 'removed' && m.ghost)
          return [
            {
              range: range({ ...m, end: m.start }),
              options: { before: { content: m.ghost, inlineClassName: 'tok-removed' }, showIfCollapsed: true, stickiness },
            },
          ];
        const cls = MARK_CLASS[m.kind];
        return cls ? [{ range: range(m), options: { inlineClassName: cls, hoverMessage: { value: m.message }, stickiness } }] : [];
      }),
    );
    monaco.editor.setModelMarkers(
      model,
      'prompt-syntax',
      marks
        .filter((m) => m.kind === 'problem')
        .map((m) => {
          const r = range(m);
          return {
            severity: monaco.MarkerSeverity.Warning,
            message: m.message,
            startLineNumber: r.startLineNumber,
            startColumn: r.startColumn,
            endLineNumber: r.endLineNumber,
            endColumn: r.endColumn,
          };
        }),
    );
  }, [marks]);

  return <div ref={host} className="editor-box" data-testid={testId} />;
}
