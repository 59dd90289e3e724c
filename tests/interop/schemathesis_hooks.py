"""schemathesis hooks for tessera's documents (SCHEMATHESIS_HOOKS=schemathesis_hooks).

`application/x-ndjson` (the admin user import) is documented as an array of line objects;
on the wire each item is one JSON object on a line of its own.
"""
import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode()
