"""Indicator canonicalisation: tables of (input, canonical value, flags) and of refusals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attributor.errors import E_INDICATOR, AttributorError, IndicatorError
from attributor.indicators import Flag, Indicator, Kind, canon, canon_domain, canon_ip, canon_url, refang

F = Flag

# -- IP addresses: (input, value, kind, flags that must be present) ------------------------------

IPS: list[tuple[str, str, Kind, set[Flag]]] = [
    ("1.2.3.4", "1.2.3.4", Kind.IPV4, set()),
    (" 8.8.8.8\n", "8.8.8.8", Kind.IPV4, set()),
    ("3232235777", "192.168.1.1", Kind.IPV4, {F.IPV4_INTEGER, F.NOT_GLOBAL}),
    ("0xC0A80001", "192.168.0.1", Kind.IPV4, {F.IPV4_INTEGER, F.IPV4_HEX}),
    ("0300.0250.0.1", "192.168.0.1", Kind.IPV4, {F.IPV4_OCTAL}),
    ("0xc0.0xA8.0.01", "192.168.0.1", Kind.IPV4, {F.IPV4_HEX, F.IPV4_OCTAL}),
    ("017700000001", "127.0.0.1", Kind.IPV4, {F.IPV4_INTEGER, F.IPV4_OCTAL}),
    ("127.1", "127.0.0.1", Kind.IPV4, {F.IPV4_SHORT, F.NOT_GLOBAL}),
    ("10.1.257", "10.1.1.1", Kind.IPV4, {F.IPV4_SHORT}),
    ("1.2.3.4.", "1.2.3.4", Kind.IPV4, {F.TRAILING_DOT}),
    ("0", "0.0.0.0", Kind.IPV4, {F.IPV4_INTEGER, F.NOT_GLOBAL}),
    ("4294967295", "255.255.255.255", Kind.IPV4, {F.IPV4_INTEGER}),
    ("1[.]2[.]3[.]4", "1.2.3.4", Kind.IPV4, {F.REFANGED}),
    ("::ffff:1.2.3.4", "1.2.3.4", Kind.IPV4, {F.IPV4_MAPPED}),
    ("::FFFF:C0A8:0101", "192.168.1.1", Kind.IPV4, {F.IPV4_MAPPED, F.NOT_GLOBAL}),
    ("[::ffff:8.8.4.4]", "8.8.4.4", Kind.IPV4, {F.IPV4_MAPPED}),
    ("[2001:DB8:0:0:0:0:0:1]", "2001:db8::1", Kind.IPV6, set()),
    ("2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1", Kind.IPV6, set()),
    ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7", Kind.IPV6, set()),
    ("2606:4700:4700::1111", "2606:4700:4700::1111", Kind.IPV6, set()),
    ("fe80::1%eth0", "fe80::1", Kind.IPV6, {F.ZONE_REMOVED, F.NOT_GLOBAL}),
    ("::1", "::1", Kind.IPV6, {F.NOT_GLOBAL}),
]

BAD_IPS = [
    ("", "empty part"),
    ("1.2.3.4.5", "5 parts"),
    ("256.1.1.1", "over 255"),
    ("1.2.3.256", "over 255"),
    ("1.2.65536", "over 65535"),
    ("4294967296", "over 4294967295"),
    ("08.1.1.1", "octal"),
    ("1..2.3", "empty part"),
    ("0x1g.1.1.1", "hex"),
    ("-1.2.3.4", "decimal"),
    ("+1.2.3.4", "decimal"),
    ("1_0.1.1.1", "decimal"),
    ("1.2.3.4 5", "decimal"),
    ("１.２.３.４", "decimal"),
    ("1.2.3.4/24", "decimal"),
    ("::ffff:1.2.3.4.5", ""),
    ("1:2:3", "8 parts"),
    ("gggg::1", "hex"),
    ("[1.2.3.4]", ""),
    ("1" * 40, "decimal"),
]


@pytest.mark.parametrize(("text", "value", "kind", "flags"), IPS)
def test_canon_ip(text: str, value: str, kind: Kind, flags: set[Flag]):
    ip = canon_ip(text)
    assert (ip.value, ip.kind) == (value, kind)
    assert flags <= set(ip.flags), ip.flags
    if not flags:
        assert Flag.NOT_GLOBAL not in ip.flags or kind == Kind.IPV6


@pytest.mark.parametrize(("text", "reason"), BAD_IPS)
def test_canon_ip_refuses(text: str, reason: str):
    with pytest.raises(IndicatorError, match=reason or "invalid"):
        canon_ip(text)


def test_flags_say_only_what_happened():
    assert canon_ip("8.8.8.8").flags == ()
    assert canon_ip("192.168.0.1").flags == (Flag.NOT_GLOBAL,)
    assert "private" in canon_ip("10.0.0.1").reasons[0]
    assert "octal" in " ".join(canon_ip("010.0.0.1").reasons)


# -- domains ---------------------------------------------------------------------------------------

DOMAINS: list[tuple[str, str, set[Flag]]] = [
    ("example.com", "example.com", set()),
    ("Example.COM", "example.com", {F.LOWERCASED}),
    ("example.com.", "example.com", {F.TRAILING_DOT}),
    ("evil[.]com", "evil.com", {F.REFANGED}),
    ("evil(dot)com", "evil.com", {F.REFANGED}),
    ("bücher.de", "xn--bcher-kva.de", {F.IDN}),
    ("BÜCHER.de", "xn--bcher-kva.de", {F.IDN, F.LOWERCASED}),
    ("xn--bcher-kva.de", "xn--bcher-kva.de", {F.IDN}),
    ("XN--BCHER-KVA.DE", "xn--bcher-kva.de", {F.IDN, F.LOWERCASED}),
    ("ｅｘａｍｐｌｅ．ｃｏｍ", "example.com", {F.UNICODE_MAPPED}),
    ("example\u3002com", "example.com", {F.UNICODE_MAPPED}),
    ("example.com\u3002", "example.com", {F.UNICODE_MAPPED, F.TRAILING_DOT}),
    ("pay\u00adpal.com", "paypal.com", {F.UNICODE_MAPPED}),
    ("p\u0430ypal.com", "xn--pypal-4ve.com", {F.IDN, F.MIXED_SCRIPT, F.HOMOGLYPH}),
    ("xn--pypal-4ve.com", "xn--pypal-4ve.com", {F.IDN, F.MIXED_SCRIPT, F.HOMOGLYPH}),
    ("g\u043e\u043egle.com", "xn--ggle-55da.com", {F.IDN, F.MIXED_SCRIPT, F.HOMOGLYPH}),
    ("\u03b1pple.com", "xn--pple-zld.com", {F.IDN, F.MIXED_SCRIPT, F.HOMOGLYPH}),
    ("\u0430\u0440\u0440\u04cf\u0435.com", "xn--80ak6aa92e.com", {F.IDN, F.HOMOGLYPH}),
    ("\u0131bm.com", "xn--bm-gpa.com", {F.IDN, F.HOMOGLYPH}),
    ("παράδειγμα.δοκιμή", "xn--hxajbheg2az3al.xn--jxalpdlp", {F.IDN}),
    ("日本語.jp", "xn--wgv71a119e.jp", {F.IDN}),
    ("ひらがなカタカナ漢字.jp", "xn--v8j0cwa6gzha3lrdr510cymwb.jp", {F.IDN}),
    ("例え.テスト", "xn--r8jz45g.xn--zckzah", {F.IDN}),
    ("_dmarc.example.com", "_dmarc.example.com", {F.UNDERSCORE}),
    ("localhost", "localhost", {F.SINGLE_LABEL}),
    ("a-b.c-d.example", "a-b.c-d.example", set()),
    ("a" * 63 + ".com", "a" * 63 + ".com", set()),
    ("1password.com", "1password.com", set()),
    ("123.example", "123.example", set()),
]

BAD_DOMAINS = [
    ("", "empty"),
    (".", "empty label"),
    ("a..b", "empty label"),
    (".example.com", "empty label"),
    ("example.com..", "empty label"),
    ("-a.com", "starts or ends with '-'"),
    ("a-.com", "starts or ends with '-'"),
    ("a b.com", "' '"),
    ("a/b.com", "'/'"),
    ("ex@mple.com", "'@'"),
    ("exa!mple.com", "'!'"),
    ("a\x00b.com", "not allowed|'\\\\x00'"),
    ("a" * 64 + ".com", "64 characters"),
    (".".join(["a" * 63] * 4) + ".com", "characters long"),
    ("1.2.3.4", "ends in a number"),
    ("example.123", "ends in a number"),
    ("example.0x1f", "ends in a number"),
    ("i\u2764.ws", "not allowed"),
    ("xn--zz.com", "label"),
    ("xn--bcher-kva-.de", "label"),
    ("a\u202eb.com", "not allowed"),
    ("a\u200db.com", "label"),
]


@pytest.mark.parametrize(("text", "value", "flags"), DOMAINS)
def test_canon_domain(text: str, value: str, flags: set[Flag]):
    d = canon_domain(text)
    assert (d.value, d.kind) == (value, Kind.DOMAIN)
    assert set(d.flags) == flags, d.flags
    assert d.value.isascii() and d.value == d.value.lower()


@pytest.mark.parametrize(("text", "reason"), BAD_DOMAINS)
def test_canon_domain_refuses(text: str, reason: str):
    with pytest.raises(IndicatorError, match=reason):
        canon_domain(text)


def test_homoglyph_reasons_name_the_letters():
    d = canon_domain("p\u0430ypal.com")
    text = " ".join(d.reasons)
    assert "CYRILLIC SMALL LETTER A" in text and "U+0430" in text and "'paypal'" in text
    assert "Cyrillic and Latin" in text
    assert text.isascii()  # reasons never carry the look-alike characters themselves


# -- URLs ------------------------------------------------------------------------------------------

URLS: list[tuple[str, str, set[Flag]]] = [
    ("http://example.com", "http://example.com/", set()),
    ("http://example.com/a?b=c", "http://example.com/a?b=c", set()),
    ("HTTP://EXAMPLE.COM:80/Path", "http://example.com/Path", {F.LOWERCASED, F.DEFAULT_PORT_REMOVED}),
    ("https://example.com:443/", "https://example.com/", {F.DEFAULT_PORT_REMOVED}),
    ("https://example.com:8443/x", "https://example.com:8443/x", set()),
    ("http://example.com:0080/", "http://example.com/", {F.DEFAULT_PORT_REMOVED}),
    ("http://example.com:/", "http://example.com/", set()),
    ("ftp://files.example.com:21/a", "ftp://files.example.com/a", {F.DEFAULT_PORT_REMOVED}),
    ("hxxp://evil[.]com/gate.php", "http://evil.com/gate.php", {F.REFANGED}),
    ("hxxps[:]//evil[.]com", "https://evil.com/", {F.REFANGED}),
    ("http://user:pass@evil.com/", "http://evil.com/", {F.CREDENTIALS_REMOVED}),
    ("http://google.com@evil.com/login", "http://evil.com/login", {F.CREDENTIALS_REMOVED}),
    ("http://a@b@evil.com/", "http://evil.com/", {F.CREDENTIALS_REMOVED}),
    ("http://[::1]:8080/", "http://[::1]:8080/", {F.NOT_GLOBAL}),
    ("http://[::ffff:7f00:1]/", "http://127.0.0.1/", {F.IPV4_MAPPED, F.NOT_GLOBAL}),
    ("http://3232235777/", "http://192.168.1.1/", {F.IPV4_INTEGER, F.NOT_GLOBAL}),
    ("http://0x7f.1/", "http://127.0.0.1/", {F.IPV4_HEX, F.IPV4_SHORT, F.NOT_GLOBAL}),
    ("http://ex%61mple.com/", "http://example.com/", {F.HOST_PERCENT_DECODED}),
    ("http://bücher.de/ä", "http://xn--bcher-kva.de/%C3%A4", {F.IDN}),
    ("http://p\u0430ypal.com/", "http://xn--pypal-4ve.com/", {F.IDN, F.MIXED_SCRIPT, F.HOMOGLYPH}),
    ("http://example.com/a/b/../../c", "http://example.com/c", {F.DOT_SEGMENTS_REMOVED}),
    ("http://example.com/%7euser/%2e%2e/x", "http://example.com/x", {F.DOT_SEGMENTS_REMOVED}),
    ("http://example.com/%2f%3a", "http://example.com/%2F%3A", set()),
    ("http://example.com/#top", "http://example.com/", {F.FRAGMENT_REMOVED}),
    ("http://example.com?q=1", "http://example.com/?q=1", set()),
    ("http://example.com./", "http://example.com/", {F.TRAILING_DOT}),
    ("http:\\\\evil.com\\path", "http://evil.com/path", {F.BACKSLASH}),
    ("http://evil.com\\@good.com/", "http://evil.com/@good.com/", {F.BACKSLASH}),
    ("custom+scheme://host.example", "custom+scheme://host.example", set()),
]

BAD_URLS = [
    ("example.com/path", "not an absolute URL"),
    ("javascript:alert(1)", "not an absolute URL"),
    ("http://", "no host"),
    ("http:///path", "no host"),
    ("http://user@/", "no host"),
    ("http://exa mple.com/", "whitespace"),
    ("http://example.com/a b", "whitespace"),
    ("http://example.com/\u202e", "control"),
    ("http://example.com:99999/", "port"),
    ("http://example.com:8o/", "port"),
    ("http://[::1/", "'\\['"),
    ("http://[::1]x/", "after the host"),
    ("http://ex%ZZample.com/", "'%'"),
    ("http://%ff.com/", "not UTF-8"),
    ("http://1.2.3.256/", "over 255"),
    ("http://-evil.com/", "starts or ends"),
    ("http://" + "a" * 9000 + ".com/", "longer than"),
]


@pytest.mark.parametrize(("text", "value", "flags"), URLS)
def test_canon_url(text: str, value: str, flags: set[Flag]):
    u = canon_url(text)
    assert (u.value, u.kind) == (value, Kind.URL)
    assert set(u.flags) == flags, u.flags


@pytest.mark.parametrize(("text", "reason"), BAD_URLS)
def test_canon_url_refuses(text: str, reason: str):
    with pytest.raises(IndicatorError, match=reason):
        canon_url(text)


def test_credentials_never_reach_value_or_reasons():
    u = canon_url("ftp://backup:S3cretPw@files.example.com/drop/")
    assert "S3cretPw" not in u.value + " ".join(u.reasons) and "backup" not in u.value


# -- refang and canon() ----------------------------------------------------------------------------

REFANG = [
    ("hxxp://x.com", "http://x.com"),
    ("hXXps://x.com", "https://x.com"),
    ("h**p://x.com", "http://x.com"),
    ("fxp://x.com", "ftp://x.com"),
    ("evil[.]com", "evil.com"),
    ("evil(.)com", "evil.com"),
    ("evil{.}com", "evil.com"),
    ("evil[dot]com", "evil.com"),
    ("evil [dot] com", "evil.com"),
    ("evil(DOT)com", "evil.com"),
    ("evil[ . ]com", "evil.com"),
    ("http[:]//x", "http://x"),
    ("http[://]x", "http://x"),
    ("user[at]x.com", "user@x.com"),
    ("user [@] x.com", "user@x.com"),
    ("a[/]b", "a/b"),
    ("evil\\.com", "evil.com"),
    ("1[.]2[.]3[.]4", "1.2.3.4"),
    ("hxxps[:]//a[.]b[.]c[/]d", "https://a.b.c/d"),
]
UNCHANGED = ["http://x.com", "hexpert", "hxxpfoo", "index[0]", "a.b", "[x]", "dot.com"]


@pytest.mark.parametrize(("text", "value"), REFANG)
def test_refang(text: str, value: str):
    r = refang(text)
    assert (r.value, r.kind, r.flags) == (value, Kind.TEXT, (Flag.REFANGED,))
    assert r.reasons


@pytest.mark.parametrize("text", UNCHANGED)
def test_refang_leaves_plain_text(text: str):
    assert refang(text) == Indicator(text, Kind.TEXT)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("hxxp://evil[.]com", Kind.URL, "http://evil.com/"),
        ("evil[.]com", Kind.DOMAIN, "evil.com"),
        ("1[.]2[.]3[.]4", Kind.IPV4, "1.2.3.4"),
        ("127.1", Kind.IPV4, "127.0.0.1"),
        ("::ffff:1.2.3.4", Kind.IPV4, "1.2.3.4"),
        ("[2001:db8::1]", Kind.IPV6, "2001:db8::1"),
        ("123.example", Kind.DOMAIN, "123.example"),
    ],
)
def test_canon_dispatches(text: str, kind: Kind, value: str):
    assert (canon(text).kind, canon(text).value) == (kind, value)


ALL_VALID = [(canon_ip, t) for t, *_ in IPS] + [(canon_domain, t) for t, *_ in DOMAINS]
ALL_VALID += [(canon_url, t) for t, *_ in URLS]


@pytest.mark.parametrize(("fn", "text"), ALL_VALID)
def test_canonical_forms_are_fixed_points(fn, text: str):
    once = fn(text).value
    assert fn(once).value == once


ALL_BAD = [(canon_ip, t) for t, _ in BAD_IPS] + [(canon_domain, t) for t, _ in BAD_DOMAINS]
ALL_BAD += [(canon_url, t) for t, _ in BAD_URLS]


@pytest.mark.parametrize(("fn", "text"), ALL_BAD)
def test_errors_are_typed_and_one_ascii_line(fn, text: str):
    with pytest.raises(IndicatorError) as info:
        fn(text)
    message = str(info.value)
    assert isinstance(info.value, AttributorError) and info.value.exit_code == E_INDICATOR
    assert "\n" not in message and message.isascii() and len(message) < 400


def test_not_text_is_refused():
    with pytest.raises(IndicatorError, match="expected text"):
        canon_ip(3232235777)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80) | st.from_regex(r"[a-zA-Z0-9.:\[\]%@/\\-]{0,40}", fullmatch=True))
def test_any_text_is_canonicalised_or_refused_with_a_reason(text: str):
    for fn in (canon, canon_ip, canon_domain, canon_url, refang):
        try:
            result = fn(text)
        except IndicatorError as e:
            assert str(e).isascii() and "\n" not in str(e)
        else:
            assert isinstance(result, Indicator)
