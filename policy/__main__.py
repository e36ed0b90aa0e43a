"""The CrossGuard pack's entry point: `pulumi preview/up --policy-pack policy` runs this file.

Pulumi starts it with this folder on sys.path (in the pack's own virtualenv, from requirements.txt),
so the rules are imported as the top-level package ``crossmesh_policy``.
"""

from crossmesh_policy.pack import serve

serve()
