"""Small Sphinx fixes for the web book (loaded by _config.yml: sphinx.local_extensions).

1. jupyter-book 1.x adds *every* .js and .css file under _static to every page
   (html_js_files, html_css_files). Our vendored MathJax (_static/mathjax/tex-chtml-full.js) is
   already loaded once, deferred and configured, through `mathjax_path`; a second, undeferred
   copy makes MathJax throw "Cannot set property Package of #<Object> which has only a getter".
   The studio's web demo (_static/studio/: its page, script, style and onnxruntime-web) belongs
   to its own page, shown in an iframe by chapter 7, not to every page of the book. Drop both.
2. Sphinx 7.4 registers inline scripts that extensions add after the builder starts (sphinx-thebe,
   sphinx-togglebutton) twice: once as `_JavaScript(None, body=...)`, once as `_JavaScript('', ...)`,
   which are not deduplicated. A repeated `const THEBE_JS_URL = ...` is a SyntaxError in the
   browser. Keep the first of each (filename, priority, attributes) on every page.
"""
from __future__ import annotations

VENDORED_PREFIXES = ("mathjax/", "studio/")


def _drop_autoadded_vendor_js(app, config):
    def name(entry):
        return entry[0] if isinstance(entry, (tuple, list)) else entry
    config.html_js_files = [
        f for f in config.html_js_files if not str(name(f)).startswith(VENDORED_PREFIXES)
    ]
    config.html_css_files = [
        f for f in config.html_css_files if not str(name(f)).startswith(VENDORED_PREFIXES)
    ]


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        filename = getattr(js, "filename", js) or ""
        attrs = getattr(js, "attributes", {}) or {}
        key = (str(filename), getattr(js, "priority", 500), tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app):
    app.connect("config-inited", _drop_autoadded_vendor_js)
    app.connect("html-page-context", _dedupe_scripts)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
