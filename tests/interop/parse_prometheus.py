"""Parses a Prometheus text exposition from stdin with the reference client library's
parser and prints {family name: [sample names]} as JSON; exits 1 if it does not parse."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    families = {}
    try:
        for family in text_string_to_metric_families(sys.stdin.read()):
            families[family.name] = sorted({s.name for s in family.samples})
    except Exception as e:  # the parser raises ValueError and friends
        print(f"unparseable: {e!r}")
        return 1
    print(json.dumps(families))
    return 0


if __name__ == "__main__":
    sys.exit(main())
