#!/usr/bin/env python3
"""The peer of `spotcheck bench peers`: a Scrapy spider for the sample marketplace's `/mall/` platform.

It crawls what spotcheck's adapter `site-adapters/sample-mall.toml` crawls and
extracts the same fields with the same CSS selectors:

- page kinds by the adapter's URL patterns (item, shop, search, live, the
  entry page), and only links those patterns know, on the seed's host:port;
- the adapter's link selectors for each page kind;
- item pages: url (canonical), item id (from the URL), title, price, original
  price, availability, stock, sales, category, spec table, price history,
  brand / model / manufacturer / manufacturer address from the spec table,
  images, description, shop id / name / url, certificates (CCC, XK, SC, QS
  numbers from the spec table); a page without a title or a price yields no
  item, as a required field missing in the adapter is an error;
- shop pages: url, shop id, name, operator, USCC, address, licence text;
- values parsed as spotcheck parses them: text with whitespace collapsed,
  prices in yuan as decimals (`¥1,299.00`, `1.5万`), counts with 万/千/亿,
  availability words, URLs resolved against the page.

How it runs, to be comparable with `spotcheck crawl` with politeness off:
no download delay, no robots.txt, no AutoThrottle, no cookies, no Referer
header, no HTTP cache; CONCURRENT_REQUESTS = CONCURRENT_REQUESTS_PER_DOMAIN =
the concurrency given; a FIFO scheduler queue (spotcheck's frontier is FIFO
too, so both crawls see the same mix of list, shop and item pages); Scrapy's
default request de-duplication (an in-memory fingerprint set, like
spotcheck's seen-set) and its default retry and redirect handling; it stops
after N responses (CLOSESPIDER_PAGECOUNT; the requests already in flight still
complete, so it may get a few more). Items go to a JSON-lines feed, so it does
output work comparable to storing them.

What it does NOT do that spotcheck does on every page (so spotcheck carries
more work per page in this comparison, never less):
- keep the evidence: spotcheck stores every raw response body and its capture
  record (headers, timings, redirect chain) content-addressed by SHA-256,
  makes them durable (syncfs) before the page commits, and appends capture
  manifests to a hash-chained ledger; Scrapy keeps nothing but the items feed;
- a durable, resumable frontier: spotcheck keeps its queue and seen-set in
  sled and commits each page (listings versioned only when changed, shops,
  links, counters) in one transaction, so a killed crawl resumes; Scrapy's
  queue and seen-set are in memory and lost on a kill (JOBDIR is off);
- robots.txt (spotcheck fetches and checks it even with politeness off),
  provenance per field, the HTML nesting guard, charset detection beyond
  what Scrapy does.

At the end it prints one JSON line to stdout (logs go to stderr):
  {"peer": "scrapy", "pages": …, "items": …, "listings": …, "shops": …,
   "errors": …, "secs": …, "cpu_secs": …, "cpu_secs_total": …,
   "peak_rss_kib": …, …}
`secs` and `cpu_secs` run from the spider's opening to the end of the
crawl (the feed closed), like spotcheck's figures, which start when the job
starts; `cpu_secs_total` also counts starting Python and importing Scrapy.
CPU comes from getrusage(RUSAGE_SELF): Scrapy runs in one process.

Usage: mall_spider.py START_URL --pages N --concurrency C [--out FILE.jsonl]
"""

import argparse
import json
import os
import re
import resource
import sys
import tempfile
import time
from decimal import Decimal, InvalidOperation
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import signals
from lxml import etree
from parsel.csstranslator import HTMLTranslator
from scrapy.crawler import CrawlerProcess

# The adapter's page patterns, matched against path + "?query", in its order.
PAGE_KINDS = [
    ("item", re.compile(r"^/mall/item/(?P<item_id>\d+)\.html$")),
    ("shop", re.compile(r"^/mall/shop/(?P<shop_id>\d+)(\?page=\d+)?$")),
    ("search", re.compile(r"^/mall/search\?")),
    ("live", re.compile(r"^/mall/live/\d+$")),
    ("search", re.compile(r"^/mall/?$")),
]

# Links followed from each page kind: (CSS selector of <a>, kind), as in the adapter.
LINKS = {
    "item": [(".shop-card a.shop-link", "shop")],
    "shop": [(".item-list a.item-link", "item"), (".pager a.next-page", "shop")],
    "search": [
        (".item-list a.item-link", "item"),
        (".item-list a.shop-link", "shop"),
        (".pager a.next-page", "search"),
        ("a.cat-link", "search"),
        ("a.live-link", "live"),
    ],
    "live": [(".live-cards a.item-link", "item"), (".host a.shop-link", "shop")],
}

# Item fields: name -> (CSS selector, attribute or None for the element's text, parser).
ITEM_FIELDS = {
    "url": ("link[rel=canonical]", "href", "url"),
    "title": ("h1.item-title", None, "text"),
    "price": (".price-box .price", None, "yuan"),
    "original_price": (".price-box del.original-price", None, "yuan"),
    "availability": (".stock .availability", None, "availability"),
    "stock": (".stock .stock-num", None, "count"),
    "sales": (".info .sales", None, "count"),
    "category": (".breadcrumb .category", None, "text"),
    "description": (".desc .desc-text", None, "text"),
    "shop_name": (".shop-card a.shop-link", None, "text"),
    "shop_url": (".shop-card a.shop-link", "href", "url"),
}
# List and table fields, read by their own code below.
ITEM_IMAGES = ".gallery img"  # images: every src, resolved, de-duplicated
ITEM_SPECS = ("table.spec-table tr", "th", "td")  # specs: key -> value, the first key wins
ITEM_PRICE_HISTORY = ("section.price-history tr", "td.date", "td.hist-price")  # price_history: date -> yuan
ITEM_SHOP_ID = (".shop-card a.shop-link", "href", re.compile(r"/mall/shop/(\d+)"))  # shop_id
# Fields read from the spec table: name -> keys tried in order.
ITEM_SPEC_FIELDS = {
    "brand": ["品牌"],
    "model": ["型号"],
    "manufacturer": ["生产厂家", "制造商"],
    "manufacturer_address": ["厂址", "生产地址"],
}
# certificates: kind -> spec keys holding its number.
CERTIFICATES = {
    "ccc": ["3C证书编号", "CCC证书编号"],
    "xk": ["生产许可证编号"],
    "sc": ["食品生产许可证编号"],
    "qs": ["生产许可证"],
}
REQUIRED_ITEM_FIELDS = ("title", "price")

SHOP_FIELDS = {
    "url": ("link[rel=canonical]", "href", "url"),
    "name": ("h1.shop-name", None, "text"),
    "operator_name": (".licence dd.company", None, "text"),
    "uscc": (".licence dd.uscc", None, "text"),
    "address": (".licence dd.address", None, "text"),
    "licence_text": (".licence dd.scope", None, "text"),
}
REQUIRED_SHOP_FIELDS = ("name",)


# --- value parsers, as spotcheck's src/adapters/parsers.rs ---------------------------------

def text(s):
    """Whitespace runs (Unicode, full-width spaces included) collapsed to one space."""
    out = " ".join(s.split())
    return out or None


_NUMBER = re.compile(r"\d+(?:,\d+)*(?:\.\d+)?")
_MAGNITUDE = {"万": 10_000, "w": 10_000, "W": 10_000, "千": 1_000, "k": 1_000, "K": 1_000, "亿": 100_000_000}


def _first_number(s):
    m = _NUMBER.search(s)
    if not m:
        return None
    digits = m.group(0).replace(",", "")
    if len(digits) > 28:
        return None
    try:
        number = Decimal(digits)
    except InvalidOperation:
        return None
    rest = s[m.end():].lstrip()
    return number * _MAGNITUDE.get(rest[:1], 1)


def yuan(s):
    """A price in yuan as shown, with at least two decimals: `¥1,299.00`, `129元`, `1.5万`."""
    value = _first_number(s)
    if value is None:
        return None
    if -value.as_tuple().exponent < 2:
        value = value.quantize(Decimal("0.01"))
    return value


def count(s):
    value = _first_number(s)
    return None if value is None else int(value)


_OUT = ("无货", "缺货", "售罄", "已售完", "下架", "暂不销售", "不可售", "到货通知",
        "outofstock", "out of stock", "soldout", "sold out", "false")
_IN = ("有货", "现货", "在售", "库存充足", "可售", "立即购买", "加入购物车", "instock", "in stock", "true")


def availability(s):
    lower = s.strip().lower()
    if any(w in lower for w in _OUT):
        return "out_of_stock"
    if any(w in lower for w in _IN):
        return "in_stock"
    return None


_TRANSLATOR = HTMLTranslator()
_COMPILED = {}


def select(node, css):
    """The elements under `node` that a CSS selector matches: Scrapy's own CSS-to-XPath
    translation (parsel's), compiled once per selector as spotcheck compiles its selectors
    once per adapter, and run by lxml on the tree Scrapy parsed."""
    xpath = _COMPILED.get(css)
    if xpath is None:
        xpath = _COMPILED[css] = etree.XPath(_TRANSLATOR.css_to_xpath(css))
    return xpath(node)


def page_kind(url):
    parts = urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    for kind, pattern in PAGE_KINDS:
        m = pattern.match(target)
        if m:
            return kind, m
    return None, None


def host_key(url):
    parts = urlsplit(url)
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


class MallSpider(scrapy.Spider):
    name = "sample-mall"

    def __init__(self, start, **kw):
        super().__init__(**kw)
        self.start_urls = [start]
        self.scope = host_key(start)
        self.listings = 0
        self.shops = 0
        self.drift = 0

    def parse(self, response):
        kind, match = page_kind(response.url)
        if kind == "item":
            item = self.item(response, match)
            if item is not None:
                self.listings += 1
                yield item
        elif kind == "shop":
            shop = self.shop(response, match)
            if shop is not None:
                self.shops += 1
                yield shop
        yield from self.links(response, kind)

    # -- extraction --

    def parsed(self, base, value, parser):
        if parser == "text":
            return text(value)
        if parser == "url":
            value = value.strip()
            if not value or value.startswith(("javascript:", "#")):
                return None
            return urljoin(base, value)
        if parser == "yuan":
            return yuan(value)
        if parser == "count":
            return count(value)
        return availability(value)

    def first(self, root, base, css, attr, parser):
        """The first element whose value parses, like an adapter field."""
        for el in select(root, css):
            # An element's text is all its descendant text, as spotcheck reads it.
            raw = el.get(attr) if attr else el.text_content()
            if raw is None:
                continue
            value = self.parsed(base, raw, parser)
            if value is not None:
                return value
        return None

    def fields(self, root, base, record, fields, required):
        """Reads `fields` into `record`; False (and counted) when a required one is missing."""
        for name, (css, attr, parser) in fields.items():
            value = self.first(root, base, css, attr, parser)
            if value is not None:
                record[name] = value
        if any(f not in record for f in required):
            self.drift += 1
            return False
        record.setdefault("url", base)
        return True

    def table(self, root, rows, key, value):
        out = {}
        for row in select(root, rows):
            for k, v in zip(select(row, key), select(row, value)):
                k = text(k.text_content().rstrip(":： "))
                v = text(v.text_content())
                if k is not None and v is not None and k not in out:
                    out[k] = v
        return out

    def item(self, response, match):
        root, base = response.selector.root, response.url
        item = {"kind": "listing", "platform": "sample-mall", "item_id": match.group("item_id")}
        if not self.fields(root, base, item, ITEM_FIELDS, REQUIRED_ITEM_FIELDS):
            return None
        images = []
        for img in select(root, ITEM_IMAGES):
            src = img.get("src")
            src = None if src is None else self.parsed(base, src, "url")
            if src is not None and src not in images:
                images.append(src)
        if images:
            item["images"] = images
        specs = self.table(root, *ITEM_SPECS)
        if specs:
            item["specs"] = specs
        history = self.table(root, *ITEM_PRICE_HISTORY)
        history = {date: p for date, p in ((d, yuan(v)) for d, v in history.items()) if p is not None}
        if history:
            item["price_history"] = history
        for name, keys in ITEM_SPEC_FIELDS.items():
            value = next((specs[k] for k in keys if k in specs), None)
            if value is not None:
                item[name] = value
        certificates = sorted({(kind, specs[k]) for kind, keys in CERTIFICATES.items() for k in keys if k in specs})
        if certificates:
            item["certificates"] = [{"kind": kind, "number": number} for kind, number in certificates]
        css, attr, pattern = ITEM_SHOP_ID
        for a in select(root, css):
            m = pattern.search(a.get(attr) or "")
            if m:
                item["shop_id"] = m.group(1)
                break
        if "price" in item or "original_price" in item:
            item["currency"] = "CNY"
        return item

    def shop(self, response, match):
        root, base = response.selector.root, response.url
        shop = {"kind": "shop", "platform": "sample-mall", "shop_id": match.group("shop_id")}
        return shop if self.fields(root, base, shop, SHOP_FIELDS, REQUIRED_SHOP_FIELDS) else None

    def links(self, response, kind):
        root, base = response.selector.root, response.url
        seen = set()
        for css, link_kind in LINKS.get(kind, ()):
            for a in select(root, css):
                href = a.get("href")
                url = None if href is None else self.parsed(base, href, "url")
                if url is None:
                    continue
                url = url.split("#", 1)[0]
                if not url.startswith(("http://", "https://")) or host_key(url) != self.scope:
                    continue
                if page_kind(url)[0] is None or url in seen:
                    continue
                seen.add(url)
                # Scrapy's de-duplication filter drops what was already requested.
                yield scrapy.Request(url, callback=self.parse)


REACTORS = {
    "asyncio": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    "epoll": "twisted.internet.epollreactor.EPollReactor",
}


def peak_rss_kib(ru):
    """This process's own peak RSS (VmHWM). getrusage's ru_maxrss is not it:
    Linux carries the parent's RSS at fork across exec into ru_maxrss, so a
    spider started by a 150 MB spotcheck would report at least 150 MB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return ru.ru_maxrss


def main():
    started_wall = time.monotonic()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("start", help="the platform's entry page, e.g. http://127.0.0.1:8080/mall/")
    parser.add_argument("--pages", type=int, required=True, help="stop after this many responses")
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--out", help="the JSON-lines feed (default: a temporary file, removed at the end)")
    parser.add_argument("--log-level", default="ERROR")
    parser.add_argument(
        "--reactor",
        default="asyncio",
        choices=sorted(REACTORS),
        help="Twisted reactor: Scrapy's default (asyncio) or the plain epoll one",
    )
    args = parser.parse_args()

    scratch = None
    out = args.out
    if out is None:
        scratch = tempfile.TemporaryDirectory(prefix="mall-spider-")
        out = os.path.join(scratch.name, "items.jsonl")

    settings = {
        "CONCURRENT_REQUESTS": args.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "CONCURRENT_REQUESTS_PER_IP": 0,
        "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": False,
        "AUTOTHROTTLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "REFERER_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "CLOSESPIDER_PAGECOUNT": args.pages,
        # One FIFO queue (every request has priority 0): the order spotcheck's frontier has.
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        "FEEDS": {out: {"format": "jsonlines", "encoding": "utf-8", "overwrite": True}},
        "LOG_LEVEL": args.log_level,
        "LOG_STDOUT": False,
        "TWISTED_REACTOR": REACTORS[args.reactor],
    }
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(MallSpider)
    marks = {}

    def opened(spider):
        marks["t0"] = time.monotonic()
        marks["ru0"] = resource.getrusage(resource.RUSAGE_SELF)

    crawler.signals.connect(opened, signal=signals.spider_opened)
    process.crawl(crawler, start=args.start)
    process.start()

    t1 = time.monotonic()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    ru0 = marks.get("ru0", ru)
    stats = crawler.stats.get_stats()
    spider = crawler.spider
    feed_bytes = os.path.getsize(out) if os.path.exists(out) else 0
    errors = stats.get("downloader/exception_count", 0) + stats.get("spider_exceptions/count", 0) + sum(
        v for k, v in stats.items() if k.startswith("downloader/response_status_count/") and not k.endswith(("/200",))
    )
    report = {
        "peer": "scrapy",
        "scrapy": scrapy.__version__,
        "python": sys.version.split()[0],
        "concurrency": args.concurrency,
        "pages": stats.get("response_received_count", 0),
        "items": stats.get("item_scraped_count", 0),
        "listings": spider.listings,
        "shops": spider.shops,
        "drift": spider.drift,
        "errors": errors,
        "finish_reason": stats.get("finish_reason"),
        "secs": t1 - marks.get("t0", started_wall),
        "cpu_secs": (ru.ru_utime - ru0.ru_utime) + (ru.ru_stime - ru0.ru_stime),
        "cpu_secs_total": ru.ru_utime + ru.ru_stime,
        "peak_rss_kib": peak_rss_kib(ru),
        "feed_bytes": feed_bytes,
    }
    if scratch is not None:
        scratch.cleanup()
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
