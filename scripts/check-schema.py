#!/usr/bin/env python3
"""Validate YAML plans against capplan's exported JSON Schema with the reference
`jsonschema` implementation: an independent check that `capplan schema` says
what the loader enforces. Usage: check-schema.py SCHEMA PLAN... ; exit 1 if any
plan is rejected (each rejection is printed)."""
import json
import sys

import jsonschema
import yaml


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        schema = json.load(handle)
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    rejected = 0
    for path in argv[2:]:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        for error in errors:
            where = ".".join(str(part) for part in error.path) or "(top)"
            print(f"{path}: {where}: {error.message}")
        rejected += bool(errors)
    return 1 if rejected else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
