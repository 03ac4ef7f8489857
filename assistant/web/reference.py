"""The API reference at ``/api/docs``: the OpenAPI document as one self-contained HTML page.

Hand-written rather than Swagger UI (which ``fastapi-offline``, MIT, bundles for offline use):
this page runs no script and loads nothing, so it keeps the API's ``default-src 'none'`` with
one stylesheet hash, where Swagger UI's 1.5 MB bundle needs script, fetch and inline-style
exceptions in the CSP.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from fastapi.responses import HTMLResponse

from assistant.settings import Settings
from assistant.web.security import content_security_policy, sha256_source

REFERENCE_CSS = """
body{margin:0;font:15px/1.6 "WenQuanYi Micro Hei","Noto Sans CJK SC","Microsoft YaHei",system-ui,sans-serif;
color:#1f2328;background:#f5f6f8}
main{max-width:960px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:24px;margin:0 0 4px;color:#8e0c13}
h2{font-size:18px;margin:0 0 6px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:16px 20px;margin:16px 0}
.method{display:inline-block;min-width:52px;text-align:center;border-radius:4px;color:#fff;
font-size:13px;padding:1px 6px;margin-right:8px;background:#1f6feb}
.method.post{background:#b5121b}
code,pre{font-family:"DejaVu Sans Mono",Consolas,monospace;font-size:13px}
pre{background:#f6f8fa;border:1px solid #e1e4e8;border-radius:6px;padding:10px;overflow:auto;white-space:pre-wrap}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:14px}
th,td{border-bottom:1px solid #eaecef;padding:5px 8px;text-align:left;vertical-align:top}
th{color:#57606a;font-weight:600}
.note{white-space:pre-wrap;color:#30363d}
h3{font-size:14px;margin:12px 0 4px;color:#57606a}
"""


def _ref_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            return _ref_name(option)
    if schema.get("type") == "array":
        return f"[{_ref_name(schema.get('items', {}))}]"
    return schema.get("type", "")


def _constraints(schema: dict[str, Any]) -> str:
    keys = {"minLength": "min length", "maxLength": "max length", "minimum": "≥", "maximum": "≤",
            "maxItems": "max items", "default": "default"}
    found = [f"{label} {schema[key]}" for key, label in keys.items() if key in schema]
    for option in schema.get("anyOf", []):
        found += [f"{label} {option[key]}" for key, label in keys.items() if key in option]
    return ", ".join(found)


def _rows(components: dict[str, Any], schema_name: str) -> str:
    """A request model's fields as a table."""
    schema = components.get(schema_name, {})
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        out.append(f"<tr><td><code>{escape(name)}</code>{' *' if name in required else ''}</td>"
                   f"<td>{escape(_ref_name(prop))}</td><td>{escape(_constraints(prop))}</td>"
                   f"<td>{escape(prop.get('description', ''))}</td></tr>")
    return ("<table><tr><th>field</th><th>type</th><th>limits</th><th>description</th></tr>"
            + "".join(out) + "</table>") if out else ""


def _parameters(params: list[dict[str, Any]]) -> list[str]:
    if not params:
        return []
    parts = [("<h3>parameters</h3><table><tr><th>name</th><th>in</th><th>type</th>"
              "<th>limits</th><th>description</th></tr>")]
    for prm in params:
        schema = prm.get("schema", {})
        parts.append(f"<tr><td><code>{escape(prm['name'])}</code>{' *' if prm.get('required') else ''}"
                     f"</td><td>{escape(prm.get('in', ''))}</td><td>{escape(_ref_name(schema))}</td>"
                     f"<td>{escape(_constraints(schema))}</td>"
                     f"<td>{escape(prm.get('description', ''))}</td></tr>")
    parts.append("</table>")
    return parts


def _operation(path: str, method: str, op: dict[str, Any], components: dict[str, Any]) -> list[str]:
    """One endpoint: summary, parameters, request body with its examples, responses."""
    title = f'<span class="method {escape(method)}">{escape(method.upper())}</span><code>{escape(path)}</code>'
    parts = ["<section>", f"<h2>{title}</h2>", f"<p><strong>{escape(op.get('summary', ''))}</strong></p>"]
    if op.get("description"):
        parts.append(f'<p class="note">{escape(op["description"])}</p>')
    parts += _parameters(op.get("parameters", []))
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    if body:
        name = _ref_name(body.get("schema", {}))
        parts.append(f"<h3>request body: {escape(name)}</h3>{_rows(components, name)}")
        for example in body.get("examples", {}).values():
            parts.append(f"<p>{escape(example.get('summary', ''))}</p><pre>"
                         f"{escape(json.dumps(example.get('value'), ensure_ascii=False, indent=2))}</pre>")
    parts.append("<h3>responses</h3><table>")
    for code, response in op.get("responses", {}).items():
        content = response.get("content", {})
        model = next((_ref_name(c.get("schema", {})) for c in content.values() if c.get("schema")), "")
        kind = ", ".join(content)
        parts.append(f"<tr><td>{escape(str(code))}</td><td>{escape(kind)}</td><td>{escape(model)}</td>"
                     f'<td class="note">{escape(response.get("description", ""))}</td></tr>')
    parts.append("</table></section>")
    return parts


def render_reference(spec: dict[str, Any]) -> str:
    """The OpenAPI document as one self-contained HTML page (every value escaped)."""
    components = spec.get("components", {}).get("schemas", {})
    info = spec.get("info", {})
    version = escape(str(info.get("version", "")))
    error_shape = '<code>{"error": {"code", "message"}}</code>'
    parts = [
        f"<h1>{escape(info.get('title', 'API'))}</h1>",
        f'<p>{escape(info.get("description", ""))} · v{version} · <a href="/openapi.json">openapi.json</a></p>',
        f"<p>错误统一为 {error_shape}（message 先中文后英文）。/ Errors are {error_shape}.</p>",
    ]
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            parts += _operation(path, method, op, components)
    return ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(info.get('title', 'API'))}</title><style>{REFERENCE_CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>")


def reference_response(spec: dict[str, Any], settings: Settings) -> HTMLResponse:
    """The page, under the API's policy plus its one stylesheet (by hash)."""
    policy = content_security_policy(settings, "/api/docs", style_hashes=[sha256_source(REFERENCE_CSS)])
    return HTMLResponse(render_reference(spec),
                        headers={"Content-Security-Policy": policy, "Cache-Control": "no-cache"})
