"""Network addresses a caller hands to Agora: CDN push URLs (RTMP/RTMPS) and kicking-rule IP addresses.

Each check returns the value to send or raises ``ValueError`` with a sentence saying exactly what is wrong, so
the API can answer a precise 422 before Agora is called.

- A CDN push URL is ``rtmp://`` or ``rtmps://``, then a host (an RFC 1123 host name, an IPv4 literal or a
  bracketed IPv6 literal), an optional port 1..65535, then the app/stream path. No whitespace or control
  characters anywhere, at most ``MAX_RTMP_URL`` characters. Agora's documentation states no length bound for
  ``rtmpUrl``; 1024 is ours (docs/web-recording-cdn.md), far above any CDN ingest address.
- A kicking-rule IP bans every user at that address: it must be one unicast host address. The unspecified,
  broadcast, multicast, loopback, link-local and reserved ranges are refused, naming which, and so is an IPv6
  zone (``fe80::1%eth0``), which means nothing to Agora. Private and documentation ranges pass (a private
  deployment may see them; the examples use 192.0.2.0/24); an IPv4-mapped IPv6 address is checked as IPv4.
"""

from __future__ import annotations

import ipaddress
import re

#: our bound on a CDN push URL (Agora states none)
MAX_RTMP_URL = 1024
#: the schemes Agora's ``rtmp_publish_service`` pushes to
RTMP_SCHEMES = ("rtmp", "rtmps")
#: RFC 1123: a label is 1..63 letters, digits and hyphens, neither starting nor ending with a hyphen
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
#: the whole URL: scheme, authority (host[:port]), then a non-empty path
_RTMP = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/]*)(?P<path>/.*)?$", re.DOTALL)
#: a host name is at most 253 characters (RFC 1035, without the trailing dot)
MAX_HOST_NAME = 253

_LABEL_RE = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TOP_LABEL_RE = r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_OCTET_RE = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_PORT_RE = r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
#: the outline the OpenAPI document states: a subset of what ``check_rtmp_url`` accepts (bracketed IPv6 hosts
#: and all-numeric inner labels pass the check but are left out here), so a request the document allows passes
RTMP_URL_PATTERN = (
    rf"^rtmps?://(?:(?:{_LABEL_RE}\.)*{_TOP_LABEL_RE}|(?:{_OCTET_RE}\.){{3}}{_OCTET_RE})(?::{_PORT_RE})?/[!-~]+$"
)


def _control_characters(text: str) -> bool:
    return any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in text)


def check_host_name(host: str) -> str:
    """An RFC 1123 host name (labels of letters, digits and inner hyphens; not all-numeric at the top)."""
    name = host[:-1] if host.endswith(".") else host
    if not name:
        raise ValueError("the host is empty")
    if len(name) > MAX_HOST_NAME:
        raise ValueError(f"the host name is longer than {MAX_HOST_NAME} characters")
    labels = name.split(".")
    for label in labels:
        if not label:
            raise ValueError(f"the host {host!r} has an empty label (two dots, or a leading dot)")
        if not _LABEL.match(label):
            raise ValueError(
                f"the host {host!r} has an invalid label {label!r} (letters, digits and inner hyphens, 1..63 long)"
            )
    if labels[-1].isdigit():
        raise ValueError(f"the host {host!r} is neither a host name nor a valid IPv4 address")
    return host


def _bracketed_host(authority: str) -> str | None:
    """``[ipv6]`` or ``[ipv6]:port``: the port text (None without one)."""
    end = authority.find("]")
    if end < 0:
        raise ValueError("an IPv6 host must be closed with ']'")
    host, rest = authority[1:end], authority[end + 1 :]
    if rest and not rest.startswith(":"):
        raise ValueError("after an IPv6 host in brackets only ':port' may follow")
    if "%" in host:
        raise ValueError("an IPv6 zone (%...) is not accepted in a CDN address")
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise ValueError(f"the host [{host}] is not a valid IPv6 address") from None
    return rest[1:] if rest else None


def _plain_host(authority: str) -> str | None:
    """``host`` or ``host:port`` (a host name or an IPv4 literal): the port text (None without one)."""
    host, sep, port_part = authority.partition(":")
    if ":" in port_part:
        raise ValueError("an IPv6 host must be written in brackets, e.g. rtmp://[2001:db8::1]/live/key")
    if host.replace(".", "").isdigit():
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"the host {host!r} is not a valid IPv4 address") from None
    else:
        check_host_name(host)
    return port_part if sep else None


def _check_port(port_text: str) -> int:
    if not (port_text.isascii() and port_text.isdigit()) or len(port_text) > 5:
        raise ValueError(f"the port {port_text!r} is not a number in 1..65535")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"the port {port} is outside 1..65535")
    return port


def _check_authority(authority: str) -> None:
    """``host[:port]``, IPv6 literals in brackets."""
    if "@" in authority:
        raise ValueError("user information (user@host) is not accepted in a CDN address")
    port_text = _bracketed_host(authority) if authority.startswith("[") else _plain_host(authority)
    if port_text is not None:
        _check_port(port_text)


def check_rtmp_url(url: str) -> str:
    """A CDN push address Agora can use, unchanged; ``ValueError`` naming the problem otherwise."""
    if len(url) > MAX_RTMP_URL:
        raise ValueError(f"a CDN address is at most {MAX_RTMP_URL} characters (this one has {len(url)})")
    if _control_characters(url):
        raise ValueError("a CDN address must not contain spaces or control characters (NUL, tab, newline ...)")
    if not url.isascii():
        raise ValueError("a CDN address must be ASCII (percent-encode anything else)")
    match = _RTMP.match(url)
    if match is None:
        raise ValueError("a CDN address looks like rtmp://host[:port]/app/stream or rtmps://...")
    if match["scheme"].lower() not in RTMP_SCHEMES:
        raise ValueError(f"the scheme {match['scheme']!r} is not rtmp or rtmps")
    if not match["authority"]:
        raise ValueError("a CDN address needs a host")
    _check_authority(match["authority"])
    path = match["path"] or ""
    if len(path) < 2:
        raise ValueError("a CDN address needs an app/stream path after the host (rtmp://host/app/stream)")
    return url


def check_ban_ip(value: str) -> str:
    """A kicking-rule IP address: one routable unicast address, in its canonical form."""
    text = value.strip()
    if "%" in text:
        zone = text.partition("%")[2]
        raise ValueError(
            f"ip {text} carries an IPv6 zone (%{zone}): a link-local address with a zone names one machine's "
            "interface, never a user Agora sees"
        )
    if "/" in text:
        raise ValueError("ip must be one address, not a network (no /prefix)")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError("ip must be an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    shown = str(address)
    if address.is_unspecified:
        raise ValueError(f"ip {shown} is the unspecified address, not a user's address")
    if isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address("255.255.255.255"):
        raise ValueError(f"ip {shown} is the broadcast address, not a user's address")
    if address.is_multicast:
        raise ValueError(f"ip {shown} is a multicast address, not a user's address")
    if address.is_loopback:
        raise ValueError(f"ip {shown} is a loopback address, not a user's address")
    if address.is_link_local:
        raise ValueError(f"ip {shown} is a link-local address, never seen by Agora")
    if address.is_reserved or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local):
        raise ValueError(f"ip {shown} is in a reserved range, not a user's address")
    return shown


def describe_ban_ip_rule() -> str:
    """The rule in one sentence, for the API's description of the field."""
    return (
        "one unicast IPv4 or IPv6 host address, as Agora sees the user: not unspecified (0.0.0.0, ::), "
        "broadcast (255.255.255.255), multicast, loopback, link-local or reserved; no zone (%eth0), no /prefix"
    )
