"""Production static files: hashed names, compressed, and ES module imports rewritten.

Pages load one module that imports the rest by relative path; without rewriting those
imports a browser could mix new and old modules for a while after a deploy.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
