"""The crawler's rules on their own: URL normalisation, address safety (IP literals only, so no
lookup and no connection), the category classifier's YAML, and stratified sampling."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from spotdiff.config import ConfigError, CrawlSampleConfig
from spotdiff.crawler.classify import Classifier
from spotdiff.crawler.filters import sample
from spotdiff.crawler.manifest import PageRecord
from spotdiff.crawler.policy import AddressPolicy, Refused, normalize, site_of

REPO = Path(__file__).resolve().parent.parent


def test_urls_are_normalised_and_only_http_passes() -> None:
    assert normalize("HTTP://Example.ORG:80/a?b=1#frag") == "http://example.org/a?b=1"
    assert normalize("../c.html", "https://x.org:8443/a/b/") == "https://x.org:8443/a/c.html"
    assert normalize("https://x.org") == "https://x.org/"
    for bad in ("file:///etc/passwd", "data:text/html,hi", "javascript:alert(1)", "ftp://x/"):
        with pytest.raises(Refused) as e:
            normalize(bad)
        assert e.value.reason == "not_http"
    assert site_of("http://www.x.org/a") == site_of("http://x.org:80/b") != site_of("http://x.org:81/")


@pytest.mark.parametrize("host", [
    "10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1", "169.254.169.254", "0.0.0.0",
    "100.64.0.1", "224.0.0.1", "255.255.255.255", "[::1]", "[fd00::1]", "[fe80::1]",
    "[::ffff:10.0.0.1]", "[::]",
])
def test_non_public_addresses_are_refused(host: str) -> None:
    assert asyncio.run(AddressPolicy().verdict(host)) == "private_address"


def test_allowances() -> None:
    only_loopback = AddressPolicy(networks=["127.0.0.0/8"])
    verdicts = {h: asyncio.run(only_loopback.verdict(h))
                for h in ("127.0.0.5", "10.0.0.1", "169.254.169.254", "93.184.215.14")}
    assert verdicts == {"127.0.0.5": None, "10.0.0.1": "private_address",
                        "169.254.169.254": "private_address", "93.184.215.14": None}
    assert asyncio.run(AddressPolicy(allow_private=True).verdict("10.0.0.1")) is None
    with pytest.raises(Refused):
        asyncio.run(AddressPolicy().check("http://10.0.0.1/"))
    listed = AddressPolicy(networks=["127.0.0.0/8"], hosts=["127.0.0.1"])
    assert asyncio.run(listed.verdict("127.0.0.1")) is None
    assert asyncio.run(listed.verdict("fonts.example.com")) == "host_not_allowed"  # no lookup


def test_category_rules_are_yaml_and_errors_name_file_and_key(tmp_path: Path) -> None:
    classifier = Classifier.from_file(REPO / "spotdiff" / "configs" / "categories.yaml")
    assert len(classifier.spec.categories) >= 15
    assert classifier.classify("https://shop.example/cart", "Basket", "Add to cart") == "e-commerce"
    assert classifier.classify("https://x.org/", "", "") == "other"
    bad = tmp_path / "categories.yaml"
    bad.write_text("categories:\n  news: {url: [news], colour: [red]}\n")
    with pytest.raises(ConfigError) as e:
        Classifier.from_file(bad)
    assert str(bad) in str(e.value) and "categories.news.colour" in str(e.value)


def record(i: int, category: str, elements: int) -> PageRecord:
    return PageRecord(url=f"http://x/{i}", final_url=f"http://x/{i}", status=200, depth=0,
                      category=category, element_count=elements, kept=True)


def test_sampling_is_stratified_and_caps_each_domain() -> None:
    records = ([record(i, "docs", 100 + 500 * (i % 3)) for i in range(30)]
               + [record(100 + i, "news", 200) for i in range(4)]
               + [record(200 + i, "shop", 1500) for i in range(6)])
    sample(records, CrawlSampleConfig(pages=10, max_domain_share=0.4))
    kept = [r for r in records if r.kept]
    assert len(kept) == 10
    by_domain = {d: sum(r.category == d for r in kept) for d in ("docs", "news", "shop")}
    assert by_domain["docs"] == 4 and by_domain["news"] + by_domain["shop"] == 6
    assert {r.complexity for r in kept if r.category == "docs"} == {"simple", "medium", "complex"}
    assert {r.reason for r in records if not r.kept} <= {"domain_cap", "sampled_out"}
    sample(records, CrawlSampleConfig())  # sampling again starts over: everything back
    assert all(r.kept for r in records)
