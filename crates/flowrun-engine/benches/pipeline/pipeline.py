"""The pipeline benchmark's work in CPython (json + dicts), stage by stage as in pipeline.yaml.

    python3 pipeline.py input.json

Prints the groups as compact JSON, in order of first appearance like flowrun.
"""

import json
import sys


def main(path):
    with open(path, "rb") as file:
        records = json.load(file)
    # filter + map
    rows = [
        {
            "sku": record["sku"],
            "country": record["country"],
            "amount": record["qty"] * record["price"],
            "email": record["customer"]["email"].lower(),
        }
        for record in records
        if record["status"] == "paid" and record["qty"] > 0
    ]
    # dedupe: keep the first of each key
    seen = set()
    unique = []
    for row in rows:
        key = row["email"] + "|" + row["sku"]
        if key not in seen:
            seen.add(key)
            unique.append(row)
    # group_by, in order of first appearance
    groups = {}
    for row in unique:
        groups.setdefault(row["country"], []).append(row)
    # aggregate
    result = [
        {"key": key, "total": sum(row["amount"] for row in items), "orders": len(items)}
        for key, items in groups.items()
    ]
    json.dump(result, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
