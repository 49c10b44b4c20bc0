"""collectstatic's storage (project/storage.py, used when DEBUG is off) rewrites every ES
module import to the imported file's hashed name, once: the real static/ tree and the
shapes of import/export the grammar allows, with the real storage and post-processing."""

import posixpath
import re
import shutil
from pathlib import Path

from django.core.files.storage import FileSystemStorage

from project.storage import StaticStorage

STATIC = Path(__file__).resolve().parents[2] / "static"
# Any specifier after `from`, after a bare `import`, or in `import(...)`.
SPECIFIER = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']""")


def collect(tmp_path, files):
    """Post-processes `files` ({name: text}, or the real static/ tree) as collectstatic does;
    the storage's root and its manifest's {name: hashed name}."""
    root = tmp_path / "collected"
    if files is None:
        shutil.copytree(STATIC, root)
    else:
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
    source = FileSystemStorage(location=root)
    paths = {str(p.relative_to(root)): (source, str(p.relative_to(root)))
             for p in root.rglob("*") if p.is_file()}
    storage = StaticStorage(location=root, base_url="/static/")
    for name, _hashed, processed in storage.post_process(paths):
        assert not isinstance(processed, Exception), (name, processed)
    return root, storage.hashed_files


def test_every_import_in_the_sites_modules_names_a_collected_hashed_file(tmp_path):
    root, manifest = collect(tmp_path, None)
    hashed_names = set(manifest.values())
    modules = [name for name in manifest if name.endswith(".js")]
    assert "app/page.js" in modules and "app/board.js" in modules
    for name in modules:
        text = (root / manifest[name]).read_text()
        for spec in SPECIFIER.findall(text):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), spec))
            assert target in hashed_names, f"{manifest[name]} imports {spec}: not a collected hashed name"


def test_import_and_export_forms_are_rewritten_once_without_crossing_statements(tmp_path):
    module = "\n".join([
        'import { a } from "./dep.js";',
        "export function f(value) { return value }",   # no semicolon: nothing may span it
        'import { b,\n  c } from "./dep.js";',
        'import d, { e } from "./dep.js"',
        'import * as ns from "./dep.js";',
        'export { g } from "./dep.js";',
        'export * from "./dep.js";',
        'import "./dep.js";',
        'const lazy = () => import("./dep.js");',
        'const important = "./dep.js";',
    ])
    root, manifest = collect(tmp_path, {"m.js": module, "dep.js": "export const a = 1;\n"})
    dep = manifest["dep.js"]
    assert re.fullmatch(r"dep\.[0-9a-f]{12}\.js", dep)
    out = (root / manifest["m.js"]).read_text()
    assert out.count(f"./{dep}") == 8 and out.count('"./dep.js"') == 1, out
    assert "export function f(value) { return value }" in out

