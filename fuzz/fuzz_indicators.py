"""Fuzz indicator canonicalisation (intel input: IPs, domains, URLs, defanged text).

    python fuzz/fuzz_indicators.py -max_total_time=600 fuzz/corpus/indicators

Bytes are decoded as UTF-8 (invalid bytes replaced). Every input must be canonicalised or refused
with an ``IndicatorError`` (one line); a canonical value must itself canonicalise to the same value
and kind (a fixed point), be one line, and carry no credentials-bearing ``@`` in a URL authority.
"""

from __future__ import annotations

import sys

from fuzz_common import expect_typed, main

from attributor.errors import AttributorError
from attributor.indicators.canon import canon, canon_domain, canon_ip, canon_url, refang

MAX_MESSAGE = 20_000  # characters in one error line (inputs up to 8,192 characters are quoted)


def seeds_indicators() -> list[bytes]:
    return [
        s.encode()
        for s in (
            "hxxp://evil[.]com:80/a/../b?q=1#frag",
            "https://user:pass@EXAMPLE.com./x",
            "3232235777",
            "0300.0250.0.1",
            "0xC0A80001",
            "::ffff:1.2.3.4",
            "fe80::1%eth0",
            "xn--pple-43d.com",
            "аpple.com",
            "ＥＸＡＭＰＬＥ．ｃｏｍ",
            "http://[::1]:8080/",
            "evil(dot)com",
        )
    ]


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        refang(text)
    except AttributorError as e:
        expect_typed(e, max_len=MAX_MESSAGE)
    for fn in (canon, canon_ip, canon_domain, canon_url):
        try:
            ind = fn(text)
        except AttributorError as e:
            expect_typed(e, max_len=MAX_MESSAGE)
            continue
        if "\n" in ind.value or "\r" in ind.value:
            raise AssertionError(f"{fn.__name__}: canonical value spans lines: {ind.value!r}")
        again = fn(ind.value)
        if (again.value, again.kind) != (ind.value, ind.kind):
            raise AssertionError(
                f"{fn.__name__} is not idempotent: {text!r} -> {ind.value!r} -> {again.value!r}"
            )


if __name__ == "__main__":
    main(test_one_input, seeds_indicators, "indicators")
    sys.exit(0)
