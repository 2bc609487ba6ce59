"""Infrastructure intel: parsing STIX/MISP/CSV, aliases, warning lists, matching, stores, CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from attributor.cli.main import cli
from attributor.errors import FileAccessError, StoreError
from attributor.intel.actors import candidates, resolve_actor
from attributor.intel.ioc import read_ioc_file
from attributor.intel.load import load_intel, load_intel_file
from attributor.intel.match import MatchKind, Strength, actors_of, match_indicators
from attributor.intel.memory import MemoryIntelStore
from attributor.intel.model import (
    IndicatorType,
    IntelFormatError,
    IntelLimitExceeded,
    IntelRecord,
    IocQuery,
    Provenance,
)
from attributor.intel.sqlite import SQLiteIntelStore
from attributor.intel.store import IntelStore
from attributor.intel.suffix import registrable_domain
from attributor.intel.warninglists import WarningChecker, default_checker
from attributor.store.sqlite import SQLiteStore

FIX = Path(__file__).parent / "fixtures" / "intel"
T = IndicatorType
# The fixtures use documentation ranges and .example names, which the built-in checks rightly call
# non-attributable; matching tests use a checker without them, so that the match logic is visible.
PLAIN = WarningChecker(lists=(), builtin=False)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rec(kind: IndicatorType, value: str, actor: str | None = "actor-a", **kw: object) -> IntelRecord:
    return IntelRecord(type=kind, value=value, actor=actor, provenance=Provenance("t", value), **kw)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IntelStore]:
    s: IntelStore = MemoryIntelStore() if request.param == "memory" else SQLiteIntelStore(tmp_path / "a.db")
    yield s
    s.close()


# -- parsing ---------------------------------------------------------------------------------------


def test_csv_parsed_canonical_with_aliases() -> None:
    """CSV: case-insensitive header, defanged values canonicalised, actor spellings merged."""
    f = load_intel_file(FIX / "northwind.csv")
    assert f.format == "csv"
    got = {(str(r.type), r.value, r.actor) for r in f.records}
    assert got == {
        ("ipv4", "198.51.100.7", "actor-northwind"),
        ("url", "http://c2.northwind.example/gate.php", "actor-northwind"),
        ("domain", "mail.northwind.example", "actor-northwind"),
        ("email", "ops@northwind.example", "actor-northwind"),
        ("ipv4", "192.0.2.44", "APT28"),
    }
    first = f.records[0]
    assert (first.asn, first.confidence, first.source) == (64500, 80, "Example CERT")
    assert first.last_seen == datetime(2024, 3, 31, 23, 59, 59, tzinfo=UTC)  # a date = the whole day
    assert first.provenance == Provenance("northwind.csv", "line 3")


def test_stix_indicators_relationships_and_observed_data() -> None:
    records = load_intel(FIX / "vireo.stix.json")
    got = {(str(r.type), r.value, r.actor, r.asn) for r in records}
    assert got == {
        ("ipv4", "203.0.113.10", "cobalt vireo", None),  # indicates -> intrusion-set
        ("domain", "update.vireo-cdn.example", "cobalt vireo", None),  # indicates -> malware -> set
        ("url", "https://files.vireo-cdn.example/a.bin", "cobalt vireo", None),  # OR in one pattern
        ("email", "billing@vireo-cdn.example", "cobalt vireo", None),
        ("ipv4", "203.0.113.99", "cobalt vireo", 64511),  # observed-data SCO with its AS
    }
    ip = next(r for r in records if r.value == "203.0.113.10")
    assert (ip.source, ip.confidence, ip.first_seen) == ("Example Threat Research", 85, at("2024-02-01"))


def test_misp_attributes_objects_galaxies_and_tags() -> None:
    records = load_intel(FIX / "fancy.misp.json")
    got = {(str(r.type), r.value, r.actor_raw) for r in records}
    assert got == {
        ("ipv4", "192.0.2.45", "Fancy Bear"),
        ("domain", "login.bear-mail.example", "Fancy Bear"),  # domain|ip split
        ("ipv4", "192.0.2.46", "Fancy Bear"),
        ("url", "https://login.bear-mail.example/owa/", "Strontium"),  # attribute tag wins
        ("ipv4", "192.0.2.47", "Fancy Bear"),  # object attribute
    }
    assert {r.actor for r in records} == {"APT28"}
    by_value = {r.value: r for r in records}
    assert by_value["192.0.2.47"].asn == 64501  # AS attribute of the same object
    assert by_value["192.0.2.45"].first_seen == at("2023-09-10")  # event date
    assert by_value["192.0.2.47"].first_seen == at("2023-08-01")  # object first_seen
    assert by_value["192.0.2.45"].confidence == 50 and by_value["192.0.2.45"].source == "Example ISAC"


def test_ioc_file_lines_and_json(tmp_path: Path) -> None:
    queries = read_ioc_file(FIX / "incident.ioc")
    assert [(q.value, q.observed) for q in queries] == [
        ("http://c2.northwind.example/gate.php", at("2024-03-02T10:15:00")),
        ("198.51.100.9", at("2024-02-10")),
        ("8.8.8.8", None),
    ]
    assert {q.value for q in read_ioc_file(FIX / "vireo.stix.json")} >= {"203.0.113.10", "203.0.113.99"}
    odd = tmp_path / "x.ioc"
    odd.write_text("http://a.example/q?x=1,2\n")
    assert read_ioc_file(odd)[0].value == "http://a.example/q?x=1,2"


# -- aliases, warning lists, suffixes -----------------------------------------------------------------


def test_aliases_resolve_to_one_actor() -> None:
    assert resolve_actor("Fancy Bear") == resolve_actor(" sofacy ") == resolve_actor("STRONTIUM") == "APT28"
    assert resolve_actor("ACTOR-Northwind") == resolve_actor("actor-northwind  ") == "actor-northwind"
    assert resolve_actor("Grizzly Steppe") == "grizzly steppe"  # shared by APT28 and APT29: not merged
    assert set(candidates("Grizzly Steppe")) >= {"APT28", "APT29"}
    assert resolve_actor("") is None


def test_two_synonyms_count_once() -> None:
    """Intel naming one address 'Fancy Bear' and another 'Sofacy' attributes one actor."""
    store = MemoryIntelStore(load_intel(FIX / "fancy.misp.json") + load_intel(FIX / "northwind.csv"))
    queries = [IocQuery.parse("192.0.2.45"), IocQuery.parse("192.0.2.44")]
    matches = match_indicators(queries, store, checker=PLAIN)
    assert {m.records[0].actor_raw for m in matches if m.kind is MatchKind.EXACT} == {"Fancy Bear", "Sofacy"}
    assert list(actors_of(matches)) == ["APT28"]


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (T.IPV4, "8.8.8.8", "public-dns-v4"),
        (T.IPV4, "104.16.0.1", "cloudflare"),  # CDN
        (T.IPV4, "10.0.0.1", "builtin:private"),
        (T.IPV4, "10.0.0.1", "rfc1918"),
        (T.IPV4, "192.0.2.1", "builtin:documentation"),
        (T.DOMAIN, "bit.ly", "url-shortener"),
        (T.URL, "https://bit.ly/x1", "url-shortener"),
        (T.DOMAIN, "c2.northwind.example", "builtin:special-use-domain"),
    ],
)
def test_warning_lists(kind: IndicatorType, value: str, expected: str) -> None:
    assert expected in default_checker().check(kind, value)


def test_attributable_address_is_on_no_list() -> None:
    checker = default_checker()
    assert checker.check(T.DOMAIN, "northwind-ops.net") == ()
    assert PLAIN.check(T.IPV4, "10.0.0.1") == ()


def test_registrable_domain() -> None:
    assert registrable_domain("c2.evil.co.uk") == "evil.co.uk"
    assert registrable_domain("x.y.duckdns.org") == "y.duckdns.org"  # dynamic DNS: customers differ
    assert registrable_domain("a.b.northwind.example") == "northwind.example"
    assert registrable_domain("co.uk") is None


# -- matching --------------------------------------------------------------------------------------


def kinds(matches: list, value: str) -> set[tuple[str, str | None]]:
    return {(str(m.kind), m.actor) for m in matches if m.query.value == value}


def test_every_match_kind(store: IntelStore) -> None:
    store.add(
        [
            rec(T.IPV4, "198.51.100.7", asn=64500),
            rec(T.DOMAIN, "mail.northwind.example", actor="actor-b"),
            rec(T.URL, "http://c2.northwind.example/gate.php", actor="actor-c"),
            rec(T.IPV4, "203.0.113.5", actor="actor-d", asn=64999),
        ]
    )
    queries = [
        IocQuery.parse("198.51.100.7"),  # exact
        IocQuery.parse("hxxp://mail.northwind[.]example/x"),  # URL host = intel domain
        IocQuery.parse("c2.northwind.example"),  # domain = intel URL's host
        IocQuery.parse("www.northwind.example"),  # same parent domain
        IocQuery.parse("198.51.100.200"),  # same /24
        IocQuery(T.IPV4, "192.0.2.9", asn=64999),  # same ASN only
    ]
    m = match_indicators(queries, store, checker=PLAIN)
    assert kinds(m, "198.51.100.7") == {("exact", "actor-a")}
    assert kinds(m, "http://mail.northwind.example/x") == {
        ("url-host", "actor-b"),
        ("parent-domain", "actor-c"),
    }
    assert kinds(m, "c2.northwind.example") == {("url-host", "actor-c"), ("parent-domain", "actor-b")}
    assert kinds(m, "www.northwind.example") == {("parent-domain", "actor-b"), ("parent-domain", "actor-c")}
    assert kinds(m, "198.51.100.200") == {("same-/24", "actor-a")}
    assert kinds(m, "192.0.2.9") == {("same-asn", "actor-d")}
    strength = {str(x.kind): x.strength for x in m}
    assert strength == {
        "exact": Strength.STRONG,
        "url-host": Strength.MODERATE,
        "parent-domain": Strength.MODERATE,
        "same-/24": Strength.WEAK,
        "same-asn": Strength.WEAK,
    }


def test_no_asn_match_without_asn_on_both_sides(store: IntelStore) -> None:
    store.add([rec(T.IPV4, "203.0.113.5", asn=64999), rec(T.IPV4, "198.51.100.77")])
    queries = [IocQuery.parse("192.0.2.9"), IocQuery(T.IPV4, "192.0.2.10", asn=64777)]
    assert match_indicators(queries, store, checker=PLAIN) == []


def test_unrelated_parent_does_not_match(store: IntelStore) -> None:
    store.add([rec(T.DOMAIN, "a.duckdns.org"), rec(T.DOMAIN, "evil.co.uk")])
    queries = [IocQuery.parse("b.duckdns.org"), IocQuery.parse("other.co.uk")]
    assert match_indicators(queries, store, checker=PLAIN) == []


def test_time_window(store: IntelStore) -> None:
    store.add([rec(T.IPV4, "198.51.100.7", first_seen=at("2024-01-01"), last_seen=at("2024-03-31"))])

    def window(observed: datetime | None) -> bool | None:
        (m,) = match_indicators([IocQuery(T.IPV4, "198.51.100.7", observed)], store, checker=PLAIN)
        return m.in_window

    assert window(at("2024-02-15")) is True
    assert window(at("2024-04-20")) is True  # within the 30-day tolerance
    assert window(at("2024-06-01")) is False  # kept, but flagged
    assert window(at("2023-11-01")) is False
    assert window(None) is None
    (m,) = match_indicators(
        [IocQuery(T.IPV4, "198.51.100.7", at("2024-04-20"))], store, checker=PLAIN, tolerance=timedelta(0)
    )
    assert m.in_window is False


def test_non_attributable_match_attributes_nothing(store: IntelStore) -> None:
    store.add([rec(T.IPV4, "8.8.8.8"), rec(T.IPV4, "10.0.0.1"), rec(T.IPV4, "104.16.0.1")])
    queries = [IocQuery.parse(v) for v in ("8.8.8.8", "10.0.0.1", "104.16.0.1")]
    matches = match_indicators(queries, store)
    assert len(matches) == 3
    assert all(m.non_attributable and not m.attributes for m in matches)
    assert actors_of(matches) == {}
    assert "public-dns-v4" in next(m for m in matches if m.query.value == "8.8.8.8").non_attributable


# -- stores ----------------------------------------------------------------------------------------


def test_import_is_idempotent(store: IntelStore) -> None:
    records = load_intel(FIX / "northwind.csv")
    assert store.add(records) == len(records)
    assert store.add(records) == 0
    assert store.add(load_intel(FIX / "northwind.csv")) == 0
    assert store.records() == sorted(store.records(), key=lambda r: (str(r.type), r.value))[: len(records)]
    assert store.stats().records == len(records)
    assert store.stats().by_actor == {"APT28": 1, "actor-northwind": 4}


def test_sqlite_shares_the_corpus_file(tmp_path: Path) -> None:
    db = tmp_path / "attributor.db"
    SQLiteStore(db).close()  # the corpus first
    with SQLiteIntelStore(db) as intel:
        intel.add(load_intel(FIX / "vireo.stix.json"))
    with SQLiteStore.open_existing(db) as corpus:
        assert corpus.samples() == [] and corpus.integrity_check() == []
    with SQLiteIntelStore(db, create=False) as intel:
        assert intel.stats().records == 5
        assert {r.value for r in intel.find_under("vireo-cdn.example")} == {
            "update.vireo-cdn.example",
            "https://files.vireo-cdn.example/a.bin",
            "billing@vireo-cdn.example",
        }


def test_sqlite_intel_first_then_corpus(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    with SQLiteIntelStore(db) as intel:
        intel.add(load_intel(FIX / "northwind.csv"))
    with SQLiteStore.open_existing(db) as corpus:
        assert corpus.samples() == []
    with SQLiteIntelStore(db, create=False) as intel:
        assert intel.stats().records == 5


def test_sqlite_refuses_foreign_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no attributor database"):
        SQLiteIntelStore(tmp_path / "missing.db", create=False)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 20)
    with pytest.raises(StoreError):
        SQLiteIntelStore(junk)


# -- hostile input ---------------------------------------------------------------------------------

HEAD = "indicator,actor,first_seen,last_seen,source,confidence\n"
BAD = [
    ("bad.csv", HEAD + "198.51.100.1,a,,,s,\nnot a host!,a,,,s,\n", "line 3"),
    ("conf.csv", HEAD + "198.51.100.1,a,,,s,101\n", "line 2"),
    ("date.csv", HEAD + "198.51.100.1,a,yesterday,,s,\n", "line 2"),
    ("hdr.csv", "ip,who\n198.51.100.1,a\n", "header lacks"),
    ("trunc.json", '{"type": "bundle", "objects": [\n{"type": "indicator",', "line 2"),
    ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("other.json", '{"hello": "world"}', "neither a STIX"),
    ("pat.json", json.dumps({"type": "bundle", "objects": [{"type": "indicator", "id": "indicator--1",
     "pattern": "[ipv4-addr:value = '999.1.1.1']", "pattern_type": "stix"}]}), "indicator--1"),
    ("noid.json", json.dumps({"type": "bundle", "objects": [{"type": "indicator"}]}), "object #0"),
    ("misp.json", json.dumps({"Event": {"uuid": "e1", "Attribute": [{"uuid": "a9", "type": "ip-dst",
     "value": "300.1.1.1"}]}}), "a9"),
    ("utf.csv", b"indicator,actor,first_seen,last_seen,source,confidence\n\xff\xfe,a,,,s,\n", "not UTF-8"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "where"), BAD, ids=[b[0] for b in BAD])
def test_malformed_input_is_typed_and_stores_nothing(
    tmp_path: Path, name: str, content: str | bytes, where: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(IntelFormatError, match=where) as err:
        load_intel(path)
    assert "\n" not in str(err.value) and name in str(err.value)
    db = tmp_path / "x.db"
    result = CliRunner().invoke(
        cli, ["intel", "import", str(path), str(FIX / "northwind.csv"), "--db", str(db)]
    )
    assert result.exit_code == 4  # partial: one file failed, the other imported
    with SQLiteIntelStore(db, create=False) as s:
        assert {r.provenance.file for r in s.records()} == {"northwind.csv"}


def test_size_cap_and_missing_file(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    shutil.copy(FIX / "northwind.csv", big)
    with pytest.raises(IntelLimitExceeded):
        load_intel_file(big, max_bytes=100)
    with pytest.raises(FileAccessError):
        load_intel(tmp_path / "nope.csv")


# -- CLI -------------------------------------------------------------------------------------------


def test_cli_import_stats_lookup(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    files = [str(FIX / n) for n in ("northwind.csv", "vireo.stix.json", "fancy.misp.json")]
    first = runner.invoke(cli, ["intel", "import", *files, "--db", db])
    assert first.exit_code == 0, first.output
    assert "records: 15" in first.stdout and "actor  APT28: 6" in first.stdout
    again = runner.invoke(cli, ["intel", "import", files[0], "--db", db])
    assert again.exit_code == 0 and "0 new" in again.stderr
    stats = runner.invoke(cli, ["intel", "stats", "--db", db, "--format", "json"])
    assert json.loads(stats.stdout)["records"] == 15
    look = runner.invoke(
        cli,
        [
            "intel",
            "lookup",
            "198.51.100.7",
            "--ioc",
            str(FIX / "incident.ioc"),
            "--db",
            db,
            "--format",
            "json",
        ],
    )
    assert look.exit_code == 0, look.output
    doc = json.loads(look.stdout)
    by = {(d["indicator"], d["match"]): d for d in doc}
    assert by[("198.51.100.7", "exact")]["actor"] == "actor-northwind"
    assert by[("198.51.100.9", "same-/24")]["strength"] == "weak"
    exact_url = by[("http://c2.northwind.example/gate.php", "exact")]
    assert exact_url["in_window"] is True
    assert "builtin:special-use-domain" in exact_url["non_attributable"]  # .example names attribute nothing
    text = runner.invoke(cli, ["intel", "lookup", "198.51.100.7", "--db", db])
    assert "exact (strong)" in text.stdout and "NON-ATTRIBUTABLE: builtin:documentation" in text.stdout


def test_cli_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["intel", "lookup", "198.51.100.7", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == StoreError.exit_code
    db = str(tmp_path / "c.db")
    assert runner.invoke(cli, ["intel", "import", str(FIX / "northwind.csv"), "--db", db]).exit_code == 0
    bad = runner.invoke(cli, ["intel", "lookup", "not an indicator!", "--db", db])
    assert bad.exit_code == 23 and bad.stderr.count("\n") == 1
    bad_file = tmp_path / "bad.csv"
    bad_file.write_text("indicator\n1.2.3.4\n")
    only_bad = runner.invoke(cli, ["intel", "import", str(bad_file), "--db", db])
    assert only_bad.exit_code == IntelFormatError.exit_code
