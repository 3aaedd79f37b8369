#!/usr/bin/env python3
"""Run an Argo CD health check (Lua) on Kubernetes objects, as Argo CD does.

Usage: lupa-python scripts/argocd-health.py HEALTH_LUA OBJECT.json...

Prints one JSON line per object: {"status": ..., "message": ...}. Argo CD runs
resource_customizations health scripts with gopher-lua (Lua 5.1), the object
as the global `obj` (its JSON as nested tables, lists 1-based, null absent),
and reads the table the script returns; this runs the same script with
Lua 5.1 from lupa (PyPI).
"""

import json
import sys

import lupa.lua51 as lua51


def to_lua(rt, value):
    if isinstance(value, dict):
        t = rt.table()
        for k, v in value.items():
            if v is not None:
                t[k] = to_lua(rt, v)
        return t
    if isinstance(value, list):
        t = rt.table()
        for i, v in enumerate(value, start=1):
            t[i] = to_lua(rt, v)
        return t
    return value


def main():
    script = open(sys.argv[1]).read()
    for path in sys.argv[2:]:
        with open(path) as f:
            obj = json.load(f)
        rt = lua51.LuaRuntime(unpack_returned_tuples=False)
        rt.globals()["obj"] = to_lua(rt, obj)
        hs = rt.execute(script)
        print(json.dumps({"status": hs["status"], "message": hs["message"]}))


if __name__ == "__main__":
    main()
