#!/usr/bin/env python3
"""Parses a Prometheus text exposition file with prometheus_client's own parser (the reference
implementation) and prints what it understood as JSON: {family: {type, help, samples: [...]}}.
Exits 1 with the parser's complaint when the text does not parse."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1], encoding="utf-8").read()
try:
    out = {}
    for family in text_string_to_metric_families(text):
        out[family.name] = {
            "type": family.type,
            "help": family.documentation,
            "samples": [{"name": s.name, "labels": s.labels, "value": float(s.value)} for s in family.samples],
        }
except Exception as e:  # the parser raises ValueError and friends
    print(f"parse error: {e}", file=sys.stderr)
    sys.exit(1)
json.dump(out, sys.stdout, sort_keys=True)
