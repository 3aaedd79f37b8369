#!/usr/bin/env python3
"""Generates docs/api.md, the reference of every ObservabilityStack field, from the CRD.

    scripts/api-docs.py [--crd crds/observabilitystacks.yaml] [--out docs/api.md]
    scripts/api-docs.py --check     exit 1 when docs/api.md differs from what the CRD gives

Everything in the page comes from the CRD's OpenAPI schema (which the Rust types and
their doc comments generate): paths, types, defaults, constraints (required, enum,
pattern, minimum/maximum, length, item counts, list types, CEL rules) and descriptions.
Needs Python 3 and PyYAML (`make api-docs` runs it with the kubernetes-validate venv's
python, which has PyYAML).
"""

import argparse
import difflib
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
QUANTITY_PREFIX = "Quantity is a fixed-point representation of a number."


def fmt_number(v):
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def code(text):
    """Inline code that survives a Markdown table cell."""
    text = str(text).replace("|", "\\|")
    ticks = "``" if "`" in text else "`"
    pad = " " if ticks == "``" else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def cell(text):
    """Prose for a Markdown table cell: paragraphs joined with <br>, pipes escaped."""
    paragraphs = [" ".join(p.split()) for p in str(text).strip().split("\n\n")]
    return "<br>".join(p for p in paragraphs if p).replace("|", "\\|")


def is_quantity(schema):
    return schema.get("x-kubernetes-int-or-string") and str(
        schema.get("description", "")
    ).startswith(QUANTITY_PREFIX)


def type_of(schema):
    """A Go/kubectl-explain-like type name."""
    if is_quantity(schema):
        return "quantity"
    if schema.get("x-kubernetes-int-or-string"):
        return "int-or-string"
    t = schema.get("type")
    if t == "array":
        return "[]" + type_of(schema.get("items", {}))
    if t == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and "properties" not in schema:
            return "map[string]" + type_of(extra)
        if schema.get("x-kubernetes-preserve-unknown-fields") and "properties" not in schema:
            return "object (free-form)"
        return "object"
    if t == "integer" and schema.get("format"):
        return schema["format"]
    if t == "number" and schema.get("format") == "double":
        return "number"
    return t or "any"


def constraints(schema, required):
    out = []
    if required:
        out.append("required")
    if "enum" in schema:
        out.append("one of " + ", ".join(code(v) for v in schema["enum"]))
    if "pattern" in schema:
        out.append("pattern " + code(schema["pattern"]))
    if "format" in schema and schema.get("type") == "string":
        out.append("format " + code(schema["format"]))
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None and hi is not None:
        out.append(f"{fmt_number(lo)} ≤ value ≤ {fmt_number(hi)}")
    elif lo is not None:
        out.append(f"≥ {fmt_number(lo)}")
    elif hi is not None:
        out.append(f"≤ {fmt_number(hi)}")
    if schema.get("exclusiveMinimum") is True:
        out.append("minimum excluded")
    if schema.get("exclusiveMaximum") is True:
        out.append("maximum excluded")
    for key, what in (
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("minItems", "items ≥"),
        ("maxItems", "items ≤"),
        ("minProperties", "keys ≥"),
        ("maxProperties", "keys ≤"),
    ):
        if key in schema:
            out.append(f"{what} {fmt_number(schema[key])}")
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set":
        out.append("unique items (set)")
    elif list_type == "map":
        keys = ", ".join(code(k) for k in schema.get("x-kubernetes-list-map-keys", []))
        out.append(f"items unique by {keys}")
    for rule in schema.get("x-kubernetes-validations", []) or []:
        text = f"rule {code(rule['rule'])}"
        if rule.get("message"):
            text += f": {cell(rule['message'])}"
        out.append(text)
    return "<br>".join(out)


def default_of(schema):
    if "default" not in schema:
        return ""
    return code(json.dumps(schema["default"], separators=(", ", ": "), ensure_ascii=False))


def description_of(schema):
    if is_quantity(schema):
        return "A Kubernetes quantity, e.g. `500m`, `2`, `512Mi`, `1Gi`."
    return cell(schema.get("description", ""))


def walk(schema, path, required, rows):
    """Appends one row per field below `schema` (depth first, fields sorted)."""
    rows.append(
        (
            path,
            type_of(schema),
            default_of(schema),
            constraints(schema, required),
            description_of(schema),
        )
    )
    t = schema.get("type")
    if t == "object":
        req = set(schema.get("required", []))
        for name in sorted(schema.get("properties", {})):
            walk(schema["properties"][name], f"{path}.{name}", name in req, rows)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and (
            "properties" in extra or extra.get("type") in ("object", "array")
        ):
            walk(extra, f"{path}.<key>", False, rows)
    elif t == "array":
        items = schema.get("items", {})
        if items.get("type") in ("object", "array"):
            walk_children(items, f"{path}[]", rows)


def walk_children(schema, path, rows):
    """The fields of each item of a list, with the item's own rules as a row."""
    if items_rules := constraints(
        {k: v for k, v in schema.items() if k == "x-kubernetes-validations"}, False
    ):
        rows.append((path, type_of(schema), default_of(schema), items_rules, description_of(schema)))
    req = set(schema.get("required", []))
    for name in sorted(schema.get("properties", {})):
        walk(schema["properties"][name], f"{path}.{name}", name in req, rows)


def table(rows):
    lines = [
        "| Field | Type | Default | Constraints | Description |",
        "|---|---|---|---|---|",
    ]
    for path, typ, default, cons, desc in rows:
        lines.append(f"| {code(path)} | {code(typ)} | {default} | {cons} | {desc} |")
    return "\n".join(lines)


def render(crd, source):
    spec = crd["spec"]
    names = spec["names"]
    (version,) = [v for v in spec["versions"] if v.get("storage")]
    root = version["schema"]["openAPIV3Schema"]
    out = []
    out.append("# ObservabilityStack API reference")
    out.append("")
    out.append(
        f"<!-- Generated by scripts/api-docs.py from {source}; do not edit. "
        "Regenerate with `make api-docs`; `make test` fails when this file is stale. -->"
    )
    out.append("")
    out.append(
        f"`{spec['group']}/{version['name']}`, kind `{names['kind']}` "
        f"({spec['scope'].lower()}), plural `{names['plural']}`, "
        f"short names {', '.join(code(s) for s in names.get('shortNames', []))}, "
        f"categories {', '.join(code(c) for c in names.get('categories', []))}."
    )
    out.append("")
    out.append(
        "Every description below is also the text of `kubectl explain` (for example "
        "`kubectl explain obs.spec.collector.autoscaling`). Paths use `[]` for the items "
        "of a list and `<key>` for the values of a map. Rules (`rule ...`) are CEL "
        "`x-kubernetes-validations`, enforced by the API server on Kubernetes 1.25 and "
        "later; sextant enforces the same rules itself on every reconcile and in "
        "`sextant check`, so they hold on older clusters too (as `Reconciled=False`, "
        "reason `InvalidSpec`)."
    )
    out.append("")
    cols = version.get("additionalPrinterColumns", [])
    if cols:
        out.append("## `kubectl get obs` columns")
        out.append("")
        out.append("| Column | Type | JSONPath | Description |")
        out.append("|---|---|---|---|")
        for c in cols:
            out.append(
                f"| {c['name'].upper()} | {code(c['type'])} | {code(c['jsonPath'])} | "
                f"{cell(c.get('description', ''))} |"
            )
        out.append("")
    top_rules = constraints(
        {"x-kubernetes-validations": root.get("x-kubernetes-validations", [])}, False
    )
    if top_rules:
        out.append("## Rules on the whole object")
        out.append("")
        for rule in root["x-kubernetes-validations"]:
            out.append(f"- {code(rule['rule'])}: {rule.get('message', '')}")
        out.append("")
    spec_schema = root["properties"]["spec"]
    out.append("## spec")
    out.append("")
    out.append(description_of(spec_schema).replace("<br>", "\n\n"))
    out.append("")
    rows = []
    req = set(spec_schema.get("required", []))
    own = {k: v for k, v in spec_schema.items() if k != "properties"}
    if constraints(own, False):
        rows.append(("spec", "object", default_of(own), constraints(own, False), ""))
    leaves = []
    for name in sorted(spec_schema.get("properties", {})):
        child = spec_schema["properties"][name]
        if child.get("type") == "object" and child.get("properties"):
            continue
        walk(child, f"spec.{name}", name in req, leaves)
    if rows or leaves:
        out.append(table(rows + leaves))
        out.append("")
    for name in sorted(spec_schema.get("properties", {})):
        child = spec_schema["properties"][name]
        if not (child.get("type") == "object" and child.get("properties")):
            continue
        out.append(f"### spec.{name}")
        out.append("")
        rows = []
        walk(child, f"spec.{name}", name in req, rows)
        out.append(table(rows))
        out.append("")
    status = root["properties"].get("status")
    if status:
        out.append("## status")
        out.append("")
        out.append(
            "Written by sextant only (the status subresource); read it with "
            "`kubectl describe obs NAME` or `kubectl get obs NAME -o yaml`."
        )
        out.append("")
        rows = []
        walk(status, "status", False, rows)
        out.append(table(rows))
        out.append("")
    # Hand-written worked examples, checked by tests/slos.rs.
    examples = ROOT / "docs" / "api-examples.md"
    if examples.exists():
        out.append(examples.read_text().rstrip("\n"))
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crd", default=str(ROOT / "crds" / "observabilitystacks.yaml"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "api.md"))
    ap.add_argument("--check", action="store_true", help="fail when --out is stale")
    args = ap.parse_args()
    crd_path = Path(args.crd)
    with crd_path.open() as f:
        crd = yaml.safe_load(f)
    try:
        source = crd_path.resolve().relative_to(ROOT)
    except ValueError:
        source = crd_path
    text = render(crd, source)
    out = Path(args.out)
    try:
        shown = out.resolve().relative_to(ROOT)
    except ValueError:
        shown = out
    if args.check:
        current = out.read_text() if out.exists() else ""
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(), text.splitlines(), str(out), "generated", lineterm="", n=1
            )
            sys.stderr.write("\n".join(list(diff)[:40]) + "\n")
            sys.stderr.write(f"api-docs: {shown} is stale: run `make api-docs`\n")
            return 1
        print(f"api-docs: {shown} is up to date")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"api-docs: wrote {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
