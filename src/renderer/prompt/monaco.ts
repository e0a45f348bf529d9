/**
 * Monaco, bundled (no CDN): the editor core plus the few contributions the prompt editor uses,
 * and its web worker through Vite's `?worker` import, which emits the worker as a same-origin
 * file so it loads offline under `worker-src 'self'`. Imported lazily (Prompt view only).
 */
import * as monaco from 'monaco-editor/editor/editor.api.js';
import 'monaco-editor/editor/browser/coreCommands.js';
import 'monaco-editor/editor/contrib/hover/browser/hoverContribution.js';
import 'monaco-editor/editor/contrib/find/browser/findController.js';
import 'monaco-editor/editor/contrib/clipboard/browser/clipboard.js';
import 'monaco-editor/editor/contrib/contextmenu/browser/contextmenu.js';
import 'monaco-editor/editor/contrib/bracketMatching/browser/bracketMatching.js';
import 'monaco-editor/editor/contrib/comment/browser/comment.js';
import 'monaco-editor/editor/contrib/wordOperations/browser/wordOperations.js';
import 'monaco-editor/editor/contrib/suggest/browser/suggestController.js';
import 'monaco-editor/editor/contrib/placeholderText/browser/placeholderText.contribution.js';
import 'monaco-editor/editor/contrib/toggleTabFocusMode/browser/toggleTabFocusMode.js';
import EditorWorker from 'monaco-editor/editor/editor.worker.js?worker';
import { registerPromptLanguage } from './language.js';

self.MonacoEnvironment = {
  getWorker: () => new EditorWorker(),
};

registerPromptLanguage(monaco);

export { monaco };
export type Monaco = typeof monaco;
