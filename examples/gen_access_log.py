#!/usr/bin/env python3
"""Generates realistic web access-log lines (Apache/Nginx "combined" format) on stdout.

    examples/gen_access_log.py --count 20000 --seed 7 > access.log

Clients come from public IPv4 and IPv6 addresses and from private ranges (10/8, 172.16/12,
192.168/16) as they appear behind proxies; methods, paths, statuses, sizes, referrers and user
agents follow a plausible skew, timestamps move forward, and about one line in 500 is malformed
(truncated, garbage, broken quoting), as real logs have.
"""
import argparse
import datetime
import random
import sys

METHODS = [("GET", 80), ("POST", 12), ("PUT", 3), ("DELETE", 2), ("HEAD", 2), ("OPTIONS", 1)]
PATHS = [
    "/", "/index.html", "/about", "/login", "/logout", "/search?q=kinesis+replay",
    "/search?q=opensearch&page=2", "/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/users/{id}",
    "/api/v1/cart", "/api/v1/checkout", "/static/app.{hash}.js", "/static/style.{hash}.css",
    "/images/logo.png", "/images/products/{id}.jpg", "/favicon.ico", "/robots.txt",
    "/sitemap.xml", "/wp-login.php", "/.env", "/health",
]
STATUSES = [(200, 70), (304, 8), (301, 3), (302, 3), (404, 8), (400, 2), (401, 2), (403, 1),
            (429, 1), (500, 1), (502, 0.5), (503, 0.5)]
REFERRERS = ["-", "-", "-", "https://www.google.com/", "https://www.bing.com/search?q=shop",
             "https://example.com/", "https://example.com/products", "https://t.co/x1y2z3"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl/7.88.1", "python-requests/2.31.0", "Go-http-client/1.1", "-",
]
USERS = ["-"] * 20 + ["alice", "bob", "carol"]


def weighted(rng, pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def client_ip(rng):
    kind = rng.random()
    if kind < 0.15:
        return "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
    if kind < 0.22:
        return "192.168.%d.%d" % (rng.randrange(256), rng.randrange(1, 255))
    if kind < 0.27:
        return "172.%d.%d.%d" % (rng.randrange(16, 32), rng.randrange(256), rng.randrange(1, 255))
    if kind < 0.33:
        return "2001:db8:%x:%x::%x" % (rng.randrange(65536), rng.randrange(65536),
                                       rng.randrange(1, 65536))
    # Public-looking IPv4 from a pool, so that some clients repeat.
    pool = rng.randrange(400)
    return "%d.%d.%d.%d" % (pool % 200 + 23, pool * 7 % 256, pool * 13 % 256, pool % 250 + 1)


def path(rng):
    p = rng.choice(PATHS)
    return p.replace("{id}", str(rng.randrange(1, 100000))).replace(
        "{hash}", "%08x" % rng.getrandbits(32))


def line(rng, when):
    method = weighted(rng, METHODS)
    status = weighted(rng, STATUSES)
    size = "-" if status in (304,) or method == "HEAD" else str(int(rng.lognormvariate(8, 1.5)))
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return '%s - %s [%s] "%s %s HTTP/%s" %d %s "%s" "%s"' % (
        client_ip(rng), rng.choice(USERS), stamp, method, path(rng),
        rng.choice(["1.1", "1.1", "2.0"]), status, size, rng.choice(REFERRERS),
        rng.choice(AGENTS))


def malformed(rng, good):
    kind = rng.randrange(4)
    if kind == 0:
        return good[: rng.randrange(10, len(good) // 2)]  # truncated write
    if kind == 1:
        return good.replace('"', "", 1)  # broken quoting
    if kind == 2:
        return "\\x16\\x03\\x01\\x00\\xa5\\x01\\x00\\x00\\xa1\\x03\\x03"  # TLS sent to a plain port
    return "-- garbage %08x --" % rng.getrandbits(32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=20000, help="lines to write (default 20000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--malformed-every", type=int, default=500,
                    help="about one malformed line in N (default 500; 0 for none)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    when = datetime.datetime(2024, 3, 1, 0, 0, 0, tzinfo=datetime.timezone.utc)
    out = sys.stdout
    for _ in range(args.count):
        when += datetime.timedelta(milliseconds=rng.randrange(0, 400))
        text = line(rng, when)
        if args.malformed_every and rng.randrange(args.malformed_every) == 0:
            text = malformed(rng, text)
        out.write(text + "\n")


if __name__ == "__main__":
    main()
