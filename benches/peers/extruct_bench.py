#!/usr/bin/env python3
"""The peer of `spotcheck bench extract`: extruct's time per page on the real pages.

It reads a manifest written by `spotcheck bench extract` (a JSON list of
{"path": …, "url": …}: the same pages, read from ../shared/realpages where
they live, with the same base URLs spotcheck's generic extractor gets), loads
every page's bytes into memory, runs one untimed warm-up pass, then times
`--repetitions` passes of

    extruct.extract(body, base_url=url, syntaxes=[json-ld, microdata, rdfa, opengraph],
                    uniform=True, errors="log")

over all pages, one page after another in this one thread (after a short
untimed warm-up on the first pages). In each repetition it also times extruct
without RDFa (json-ld, microdata, opengraph: RDFa, by pyRdfa, is most of
extruct's time) and what extruct does first on every page, parsing it into
an lxml tree (`extruct.utils.parse_xmldom_html`, the parser extruct picks
when RDFa is asked for), as a floor.

What extruct does and does not do, next to spotcheck's generic extractor:
it pulls the structured data out of a page (JSON-LD, microdata, RDFa,
OpenGraph) into dictionaries, as the page declares it. It does not choose the
page's main product, parse prices into amounts and currencies, repair broken
JSON-LD, read what a person sees when there is no markup (the heading, the
price near it and the buy button, struck-through prices, stock wording,
spec tables, certificate numbers, the seller's licence block), nor check
the markup against the visible page. spotcheck's generic extractor does all
of that, so per page it does more work than extruct.

`errors="log"` lets every syntax run on every page even when another one
fails (with "strict" a failing syntax would stop the page early and do less
work); the exceptions it logs are counted (`syntax_failures`, in the first
pass of all four syntaxes), not printed.

It prints one JSON line to stdout:
  {"peer": "extruct", "extruct": version, "pages": n, "bytes": n, "syntax_failures": n,
   "rows": {"extruct" | "extruct_without_rdfa" | "parse": {"wall_secs": [per repetition],
                                                          "cpu_secs": [per repetition]}},
   "extruct_page_us": [median µs per page of the four-syntax run, in manifest order]}
"""

import argparse
import importlib.metadata
import json
import logging
import statistics
import sys
import time

import extruct
from extruct.utils import parse_xmldom_html

SYNTAXES = ["json-ld", "microdata", "rdfa", "opengraph"]
WITHOUT_RDFA = ["json-ld", "microdata", "opengraph"]
WARM_UP_PAGES = 8


class Failures(logging.Handler):
    """Counts the exceptions extruct logs with errors="log" (one per failing syntax)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record):
        self.count += 1


def timed_pass(pages, syntaxes, per_page=None):
    """Seconds (wall, CPU) for one pass of extruct over every page."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i, (body, url) in enumerate(pages):
        t = time.perf_counter()
        extruct.extract(body, base_url=url, syntaxes=syntaxes, uniform=True, errors="log")
        if per_page is not None:
            per_page[i].append(time.perf_counter() - t)
    return time.perf_counter() - wall, time.process_time() - cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", required=True, help="JSON list of {path, url}")
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()

    with open(args.manifest, encoding="utf-8") as f:
        manifest = json.load(f)
    pages = []
    for entry in manifest:
        with open(entry["path"], "rb") as f:
            pages.append((f.read(), entry["url"]))

    failures = Failures()
    extruct_log = logging.getLogger("extruct")
    extruct_log.addHandler(failures)
    extruct_log.propagate = False

    # Warm-up: imports and first-call caches of every syntax.
    timed_pass(pages[:WARM_UP_PAGES], SYNTAXES)
    for body, _ in pages[:WARM_UP_PAGES]:
        parse_xmldom_html(body, encoding="UTF-8")
    failures.count = 0

    rows = {"extruct": ([], []), "extruct_without_rdfa": ([], []), "parse": ([], [])}
    per_page = [[] for _ in pages]
    syntax_failures = None
    for _ in range(args.repetitions):
        for name, syntaxes in (("extruct", SYNTAXES), ("extruct_without_rdfa", WITHOUT_RDFA)):
            wall, cpu = timed_pass(pages, syntaxes, per_page if name == "extruct" else None)
            rows[name][0].append(wall)
            rows[name][1].append(cpu)
            if syntax_failures is None:
                syntax_failures = failures.count
        wall, cpu = time.perf_counter(), time.process_time()
        for body, _ in pages:
            parse_xmldom_html(body, encoding="UTF-8")
        rows["parse"][0].append(time.perf_counter() - wall)
        rows["parse"][1].append(time.process_time() - cpu)
    report = {
        "peer": "extruct",
        "extruct": importlib.metadata.version("extruct"),
        "python": sys.version.split()[0],
        "pages": len(pages),
        "bytes": sum(len(body) for body, _ in pages),
        "syntax_failures": syntax_failures or 0,
        "rows": {name: {"wall_secs": w, "cpu_secs": c} for name, (w, c) in rows.items()},
        "extruct_page_us": [statistics.median(times) * 1e6 if times else 0.0 for times in per_page],
    }
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
