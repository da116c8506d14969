"""Parses IB Flex reports with the `ibflex` library (PyPI) and prints one JSON line:
the files, bytes and detail rows read, and the seconds it took.

    python peer_ibflex.py FILE|DIR...

`ibflex.parser.parse` reads a whole report into an ElementTree, then builds typed
dataclasses for every element; this is the library an IB user would otherwise reach for.
"""

import json
import os
import sys
import time

from ibflex import parser


def files(paths):
    for path in paths:
        if os.path.isdir(path):
            for root, _, names in os.walk(path):
                for name in sorted(names):
                    if name.endswith(".xml"):
                        yield os.path.join(root, name)
        else:
            yield path


def rows(statement):
    count = 0
    for field in ("Trades", "CashTransactions", "ChangeInNAV", "EquitySummaryInBase", "OptionEAE"):
        value = getattr(statement, field, None)
        if value is None:
            continue
        count += len(value) if isinstance(value, (tuple, list)) else 1
    return count


def main():
    started = time.perf_counter()
    total_files = total_bytes = total_rows = 0
    for path in files(sys.argv[1:]):
        total_files += 1
        total_bytes += os.path.getsize(path)
        with open(path, "rb") as source:
            response = parser.parse(source)
        total_rows += sum(rows(statement) for statement in response.FlexStatements)
    seconds = time.perf_counter() - started
    print(json.dumps({"files": total_files, "bytes": total_bytes, "rows": total_rows, "seconds": round(seconds, 3)}))


if __name__ == "__main__":
    main()
