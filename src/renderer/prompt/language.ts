/**
 * The prompt language for Monaco: Monarch tokenizer, brackets, comments, a hover that shows a
 * word's effective weight, completions for BREAK and the negative section, and the dark theme.
 * The grammar matches shared/prompt-syntax.ts (the parser the token counter and the engine use).
 */
import type * as Monaco from 'monaco-editor/editor/editor.api.js';
import { parsePrompt, splitDoc } from '../../shared/prompt-syntax.js';

export const PROMPT_LANGUAGE = 'sdprompt';
export const PROMPT_THEME = 'studio-dark';

/** Tokens shared by the positive and the negative section; the negative one adds `.negative`. */
function rules(suffix: string): Monaco.languages.IMonarchLanguageRule[] {
  return [
    [/^\s*\/\/.*$/, 'comment'],
    [/\\[()[\]\\]/, `string.escape${suffix}`],
    [/\bBREAK\b/, `keyword.break${suffix}`],
    [/:\s*-?(?:\d+(?:\.\d*)?|\.\d+)(?=\s*\))/, `number.weight${suffix}`],
    [/[()]/, `delimiter.parenthesis${suffix}`],
    [/[[\]]/, `delimiter.square${suffix}`],
    [/,/, `delimiter.comma${suffix}`],
    [/[^\s,()[\]\\:]+/, `word${suffix}`],
    [/:/, `word${suffix}`],
  ];
}

export function promptMonarch(): Monaco.languages.IMonarchLanguage {
  return {
    ignoreCase: false,
    defaultToken: 'word',
    tokenizer: {
      // Monarch compiles rules with the lexer's flags (a regex's own /i is dropped), hence the classes.
      root: [
        [/^\s*[Nn][Ee][Gg][Aa][Tt][Ii][Vv][Ee](?:\s+[Pp][Rr][Oo][Mm][Pp][Tt])?\s*:/, { token: 'keyword.negative', next: '@negative' }],
        ...rules(''),
      ],
      // Once the negative header is seen, the rest of the document is the negative prompt.
      negative: rules('.negative'),
    },
  };
}

export function registerPromptLanguage(monaco: typeof Monaco): void {
  if (monaco.languages.getLanguages().some((l) => l.id === PROMPT_LANGUAGE)) return;
  monaco.languages.register({ id: PROMPT_LANGUAGE, aliases: ['Prompt', 'SD prompt'] });
  monaco.languages.setMonarchTokensProvider(PROMPT_LANGUAGE, promptMonarch());
  monaco.languages.setLanguageConfiguration(PROMPT_LANGUAGE, {
    comments: { lineComment: '//' },
    brackets: [
      ['(', ')'],
      ['[', ']'],
    ],
    autoClosingPairs: [
      { open: '(', close: ')' },
      { open: '[', close: ']' },
    ],
    surroundingPairs: [
      { open: '(', close: ')' },
      { open: '[', close: ']' },
    ],
    wordPattern: /[^\s,()[\]\\:]+/,
  });

  monaco.languages.registerHoverProvider(PROMPT_LANGUAGE, {
    provideHover(model, position) {
      const text = model.getValue();
      const offset = model.getOffsetAt(position);
      const { positive } = splitDoc(text);
      if (offset > positive.length) return null;
      const parsed = parsePrompt(positive);
      const run = parsed.runs.find((r) => offset >= r.start && offset < r.start + r.text.length);
      if (!run || run.text.trim() === '') return null;
      const word = model.getWordAtPosition(position);
      const contents: Monaco.IMarkdownString[] = [
        { value: `weight **${run.weight.toFixed(2)}**${parsed.chunks > 1 ? ` · chunk ${run.chunk + 1}/${parsed.chunks}` : ''}` },
      ];
      return word
        ? { contents, range: new monaco.Range(position.lineNumber, word.startColumn, position.lineNumber, word.endColumn) }
        : { contents };
    },
  });

  monaco.languages.registerCompletionItemProvider(PROMPT_LANGUAGE, {
    triggerCharacters: [],
    provideCompletionItems(model, position) {
      const word = model.getWordUntilPosition(position);
      const range = new monaco.Range(position.lineNumber, word.startColumn, position.lineNumber, word.endColumn);
      const K = monaco.languages.CompletionItemKind;
      return {
        suggestions: [
          {
            label: 'BREAK',
            kind: K.Keyword,
            insertText: 'BREAK',
            detail: 'separator (A1111 chunk break; one 77-token window here)',
            range,
          },
          { label: 'Negative prompt:', kind: K.Keyword, insertText: 'Negative prompt: ', detail: 'the rest is the negative prompt', range },
          {
            label: '(word:weight)',
            kind: K.Snippet,
            insertText: '(${1:word}:${2:1.2})',
            insertTextRules: monaco.languages.CompletionItemInsertTextRule.InsertAsSnippet,
            detail: 'emphasis with an explicit weight',
            range,
          },
        ],
      };
    },
  });

  monaco.editor.defineTheme(PROMPT_THEME, {
    base: 'vs-dark',
    inherit: true,
    rules: [
      { token: 'word', foreground: 'E4E6EC' },
      { token: 'word.negative', foreground: 'E8A0A0' },
      { token: 'comment', foreground: '6A7080', fontStyle: 'italic' },
      { token: 'keyword.break', foreground: 'C792EA', fontStyle: 'bold' },
      { token: 'keyword.break.negative', foreground: 'C792EA', fontStyle: 'bold' },
      { token: 'keyword.negative', foreground: 'EF6B6B', fontStyle: 'bold' },
      { token: 'number.weight', foreground: 'F5B971' },
      { token: 'number.weight.negative', foreground: 'F5B971' },
      { token: 'delimiter.parenthesis', foreground: '7AA2FF' },
      { token: 'delimiter.parenthesis.negative', foreground: '7AA2FF' },
      { token: 'delimiter.square', foreground: '4CC3B0' },
      { token: 'delimiter.square.negative', foreground: '4CC3B0' },
      { token: 'delimiter.comma', foreground: '8A90A0' },
      { token: 'delimiter.comma.negative', foreground: '8A90A0' },
      { token: 'string.escape', foreground: 'D7BA7D' },
      { token: 'string.escape.negative', foreground: 'D7BA7D' },
    ],
    colors: {
      'editor.background': '#16181E',
      'editor.lineHighlightBackground': '#1E2129',
      'editorLineNumber.foreground': '#4A4F5C',
      'editorCursor.foreground': '#7AA2FF',
    },
  });
}
