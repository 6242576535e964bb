"""Small HTTP header logic: content negotiation for GET config, ETag matching."""

from __future__ import annotations

from collections.abc import Iterator

_TOML = ("application/toml", "text/toml", "application/x-toml")
_JSON = ("application/json", "text/json")


def _accept_items(accept: str) -> dict[str, float]:
    items: dict[str, float] = {}
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        kind = fields[0].lower()
        if not kind:
            continue
        quality = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        items[kind] = max(quality, items.get(kind, 0.0))
    return items


def prefers_toml(accept: str | None) -> bool:
    """True when the Accept header asks for TOML more than for JSON.

    JSON is the default: no header, `*/*` or equal preference give JSON.
    """
    if not accept:
        return False
    items = _accept_items(accept)
    toml_q = max((items.get(t, 0.0) for t in _TOML), default=0.0)
    json_q = max((items.get(t, 0.0) for t in _JSON), default=0.0)
    return toml_q > 0.0 and toml_q > json_q


def _entity_tags(header: str) -> Iterator[tuple[bool, str]]:
    """(weak?, the tag with its quotes and without W/) for each entry of an If-(None-)Match list."""
    for candidate in header.split(","):
        tag = candidate.strip()
        weak = tag.startswith("W/")
        yield weak, tag[2:] if weak else tag


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match against our (strong) ETag, with weak comparison as RFC 9110 asks."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag == etag for _, tag in _entity_tags(if_none_match))


def if_match_tags(if_match: str | None) -> frozenset[str] | None:
    """The entity tags an If-Match header accepts, or None for no precondition (`*` too).

    If-Match compares strongly (RFC 9110): a weak tag never matches. Tags are the
    quoted cluster_hash GET returns as ETag; a bare hash is taken as well.
    """
    if not if_match or if_match.strip() == "*":
        return None
    return frozenset(
        tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else tag
        for weak, tag in _entity_tags(if_match) if tag and not weak
    )
