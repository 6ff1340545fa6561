// The console's code editor: CodeMirror 6 with line numbers, highlighting and error marks.
// Bundled by `make install` (esbuild) into static/build/editor.js as the global PnilEditor.
import { basicSetup, EditorView } from "codemirror";
import { javascript } from "@codemirror/lang-javascript";
import { json } from "@codemirror/lang-json";
import { python } from "@codemirror/lang-python";
import { setDiagnostics } from "@codemirror/lint";
import { EditorState } from "@codemirror/state";

const LANGUAGES = {
  javascript: () => javascript(),
  assemblyscript: () => javascript({ typescript: true }),
  python: () => python(),
  json: () => json(),
};

export function create(parent, { doc = "", language = "javascript", readOnly = false, onChange } = {}) {
  const extensions = [basicSetup, (LANGUAGES[language] || LANGUAGES.javascript)()];
  if (readOnly) extensions.push(EditorState.readOnly.of(true));
  if (onChange) extensions.push(EditorView.updateListener.of((u) => u.docChanged && onChange()));
  const view = new EditorView({ doc, extensions, parent });
  return {
    view,
    getValue: () => view.state.doc.toString(),
    setValue: (text) =>
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }),
    // problems: [{line, column, message}] (1-based); an empty list clears the marks.
    mark(problems) {
      const doc = view.state.doc;
      const diagnostics = problems
        .filter((p) => p.line >= 1 && p.line <= doc.lines)
        .map((p) => {
          const line = doc.line(p.line);
          const from = Math.min(line.from + Math.max(0, p.column - 1), line.to);
          return { from, to: Math.max(from + 1, line.to), severity: "error", message: p.message };
        })
        .map((d) => ({ ...d, to: Math.min(d.to, doc.length) }));
      view.dispatch(setDiagnostics(view.state, diagnostics));
    },
  };
}
