"""Capabilities: capa's rule engine run over attributor's own disassembly.

:func:`load_rules` compiles a capa rules directory (the public rule set is not shipped with
flare-capa; pass ``--capa-rules DIR``). Compiling ~1,000 rules takes seconds, so the compiled
:class:`capa.rules.RuleSet` is cached by capa's own mechanism (``capa/rules/cache.py``: the key
is a SHA-256 over the capa version and every rule file's content, so an edited rule never hits
a stale entry) in ``$XDG_CACHE_HOME/attributor/capa`` (``~/.cache/attributor/capa``), or in
``ATTRIBUTOR_CAPA_CACHE`` when set. The cache is a pickle this tool writes and reads itself; it
is never taken from a sample or a shared store. An unwritable cache only costs time.

:func:`detect_capabilities` matches the rules against :class:`AttributorFeatureExtractor`
(``attributor/evidence/capa_features.py``) and returns one :class:`Evidence` per rule match
location. Library rules (``lib: true``) and subscope helper rules are matched (other rules
depend on them) but not reported; rules without a static scope never match a static extractor.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attributor.errors import MalformedBinary, RulesError
from attributor.evidence.record import (
    TAG_ANTI_FORENSIC,
    TAG_DESTRUCTIVE,
    TAG_ENCRYPTION,
    Evidence,
    EvidenceKind,
    normalise,
)

if TYPE_CHECKING:
    from capa.rules import Rule, RuleSet

    from attributor.disasm.recover import Program
    from attributor.loading.binary import Binary

log = logging.getLogger(__name__)

_ATTACK_ID = re.compile(r"\[(T\d{4}(?:\.\d{3})?)\]")
# ATT&CK techniques whose presence makes a capability destructive / anti-forensic. T1486 (data
# encrypted for impact) destroys data as surely as a wipe; T1070.* is indicator removal.
_DESTRUCTIVE_IDS = ("T1485", "T1486", "T1490", "T1561")
_ANTI_FORENSIC_IDS = ("T1070",)
_DESTRUCTIVE_NS = ("impact/",)
_ANTI_FORENSIC_NS = ("anti-analysis/anti-forensic",)
_ENCRYPTION_NS = ("data-manipulation/encryption", "data-manipulation/encoding")


def default_cache_dir() -> Path:
    """Where compiled rule sets are cached (see the module docstring)."""
    env = os.environ.get("ATTRIBUTOR_CAPA_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "attributor" / "capa"


# attributor's own rules (capa format), loaded beside the user's: Linux wiping and anti-forensics,
# which the public rule set does not cover (see rules/README.md).
BUILTIN_RULES = Path(__file__).resolve().parent / "rules"


def load_rules(path: str | os.PathLike[str], cache_dir: Path | None = None) -> RuleSet:
    """Compile the capa rules under ``path`` (a directory or one ``.yml`` file), cached.

    attributor's own rules (:data:`BUILTIN_RULES`) are always added.

    Args:
        path: the rules directory, e.g. a checkout of mandiant/capa-rules.
        cache_dir: where compiled rule sets are kept (default :func:`default_cache_dir`).

    Returns:
        The compiled rule set.

    Raises:
        RulesError: ``path`` does not exist, holds no rule, or a rule is invalid (one line).

    Example:
        >>> rules = load_rules("../shared/capa-rules")
    """
    import capa.rules
    import yaml

    root = Path(path)
    if not root.exists():
        raise RulesError(f"capa rules not found: {root}")
    if root.is_dir() and not any(root.rglob("*.yml")):
        raise RulesError(f"no capa rules (*.yml) under {root}")
    cache = _usable_cache(cache_dir or default_cache_dir())
    # capa warns once per non-rule file it walks past; a wrong directory would flood stderr. Our
    # own error (one line) says what is wrong, so its loggers stay at ERROR while it loads.
    capa_log = logging.getLogger("capa")
    level = capa_log.level
    capa_log.setLevel(logging.ERROR)
    try:
        return capa.rules.get_rules([root, BUILTIN_RULES], cache_dir=cache, enable_cache=cache is not None)
    except capa.rules.InvalidRuleWithPath as e:
        raise RulesError(f"invalid capa rule {e.path}: {_one_line(e)}") from e
    except (capa.rules.InvalidRule, yaml.YAMLError, UnicodeDecodeError) as e:
        where = _first_invalid(root) or root
        raise RulesError(f"invalid capa rule {where}: {_one_line(e)}") from e
    except OSError as e:
        raise RulesError(f"cannot read capa rules under {root}: {e.strerror or e}") from e
    finally:
        capa_log.setLevel(level)


def _first_invalid(root: Path) -> Path | None:
    """The first rule file that does not parse on its own (capa's error does not name it)."""
    import capa.rules

    for path in sorted(root.rglob("*.yml")) if root.is_dir() else [root]:
        try:
            capa.rules.Rule.from_yaml(path.read_text("utf-8"))
        except Exception:  # any failure names the culprit; the caller raises RulesError
            return path
    return None


def _usable_cache(cache_dir: Path) -> Path | None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        log.warning("capa rule cache disabled: %s: %s", cache_dir, e.strerror or e)
        return None
    return cache_dir if os.access(cache_dir, os.W_OK) else None


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:300]


def attack_ids(rule: Rule) -> tuple[str, ...]:
    """Sorted ATT&CK technique ids of a rule: ``"... [T1561.002]"`` -> ``("T1561.002",)``."""
    entries = rule.meta.get("att&ck") or []
    return tuple(sorted({m for entry in entries for m in _ATTACK_ID.findall(str(entry))}))


def tags_for(namespace: str, attack: tuple[str, ...]) -> tuple[str, ...]:
    """The evidence tags a rule's namespace and ATT&CK ids imply (see ``TAG_*``)."""
    tags = set()
    if namespace.startswith(_DESTRUCTIVE_NS) or any(a.startswith(_DESTRUCTIVE_IDS) for a in attack):
        tags.add(TAG_DESTRUCTIVE)
    if namespace.startswith(_ANTI_FORENSIC_NS) or any(a.startswith(_ANTI_FORENSIC_IDS) for a in attack):
        tags.add(TAG_ANTI_FORENSIC)
    if namespace.startswith(_ENCRYPTION_NS):
        tags.add(TAG_ENCRYPTION)
    return tuple(sorted(tags))


def _reported(rule: Rule) -> bool:
    static = getattr(rule.scopes, "static", None)
    return static is not None and not rule.meta.get("lib", False) and not rule.is_subscope_rule()


def detect_capabilities(binary: Binary, program: Program, rules: RuleSet) -> list[Evidence]:
    """Capabilities of one sample: every reported rule match, as :class:`Evidence`.

    Args:
        binary: the loaded sample.
        program: its recovered functions (``recover(binary)``).
        rules: from :func:`load_rules`.

    Returns:
        Records of kind CAPABILITY, sorted (:func:`attributor.evidence.record.normalise`):
        value = rule name, subtype = rule namespace, address = match location (None for file
        scope), function = start of the function holding it, source "capa", attack = ATT&CK
        ids from the rule's ``att&ck`` meta, tags by namespace and ATT&CK id.

    Raises:
        MalformedBinary: the disassembly could not be turned into features (a bug surfaced by
            hostile input; the sample is reported incomplete rather than clean).
    """
    import capa.capabilities.static

    from attributor.evidence.capa_features import AttributorFeatureExtractor

    extractor = AttributorFeatureExtractor(binary, program)
    try:
        caps = capa.capabilities.static.find_static_capabilities(rules, extractor, disable_progress=True)
    except (ValueError, KeyError, IndexError, OverflowError, UnicodeError, RecursionError) as e:
        raise MalformedBinary(f"capability matching failed: {type(e).__name__}: {_one_line(e)}") from e
    out = []
    for name, matches in caps.matches.items():
        rule = rules.rules[name]
        if not _reported(rule):
            continue
        out += [_evidence(rule, extractor, addr) for addr, _ in matches]
    return normalise(out)


def _evidence(rule: Rule, extractor: Any, addr: Any) -> Evidence:
    from capa.features.address import AbsoluteVirtualAddress

    namespace = str(rule.meta.get("namespace", ""))
    attack = attack_ids(rule)
    va = int(addr) if isinstance(addr, AbsoluteVirtualAddress) else None
    return Evidence(
        kind=EvidenceKind.CAPABILITY,
        subtype=namespace,
        value=rule.name,
        detail="; ".join(str(a) for a in rule.meta.get("att&ck") or []) or namespace,
        address=va,
        function=None if va is None else extractor.function_containing(va),
        source="capa",
        attack=attack,
        tags=tags_for(namespace, attack),
    )
