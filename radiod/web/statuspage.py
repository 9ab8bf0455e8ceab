# -*- test-case-name: tests.web.test_statuspage -*-
"""
The station's status as HTML pages for people, at the paths Icecast
serves its own (so that links, bookmarks and C{<alias>}es made for an
Icecast server lead to them):

  - L{render_status_page}: C{/status.xsl}, a block per public mount (its
    name, description, content type, when it started, bitrate, current
    and peak listeners, genre, URL and what plays now, with links to
    listen), under what is said of the station (its location, whom to
    contact, its listeners, since when it runs);
  - L{render_server_version}: C{/server_version.xsl}, the server itself
    (location, contact, host, version, start).

Both are built from a L{StationStatus} snapshot, as the other status
documents are (L{radiod.web.status}), and leave hidden mounts out
(L{StationStatus.listed}).  Everything shown is escaped; text HTML cannot
carry (control characters, lone surrogates) is replaced with U+FFFD; a
URL is a link only when it is C{http} or C{https}.  The pages need
nothing but themselves: their style is in the page, and no script runs
(L{PAGE_POLICY} says so to browsers).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from radiod.web.status import MountStatus, StationStatus, http_date, iso8601

__all__ = ["PAGE_POLICY", "render_server_version", "render_status_page"]

PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'"
)
"""
The C{Content-Security-Policy} of both pages: their own style, and
nothing else loaded or run.
"""

# Characters HTML cannot carry, even escaped.
_NOT_HTML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_MAILBOX = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]+")

_STYLE = """
:root { color-scheme: light dark; --line: #8884; --soft: #8881; --dim: #777; }
body { margin: 0 auto; max-width: 46rem; padding: 1.5rem 1rem 3rem;
  font: 16px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { border-bottom: 2px solid var(--line); margin-bottom: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .6rem; overflow-wrap: anywhere; }
h2 { font-size: 1.15rem; margin: 0; overflow-wrap: anywhere; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem;
  margin: 0 0 1rem; }
dl.facts dt { color: var(--dim); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
section.mount { border: 1px solid var(--line); border-radius: .5rem; margin: 0 0 1.2rem;
  padding: .9rem 1rem; background: var(--soft); }
.mount-head { display: flex; flex-wrap: wrap; gap: .3rem 1rem; align-items: baseline;
  justify-content: space-between; margin-bottom: .6rem; }
.listen a { margin-left: .6rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .25rem .5rem .25rem 0;
  border-top: 1px solid var(--line); overflow-wrap: anywhere; }
th { font-weight: normal; color: var(--dim); width: 12rem; }
td.playing { font-weight: 600; }
.off { color: var(--dim); font-style: italic; }
footer { color: var(--dim); font-size: .9rem; margin-top: 2rem; }
footer a { margin-right: 1rem; }
"""


def _text(value: object) -> str:
    """
    C{value} as text escaped for HTML content or a double-quoted
    attribute, with the characters HTML cannot carry replaced.
    """
    return html.escape(_NOT_HTML.sub("\ufffd", str(value)), quote=True)


def _path(name: str, ending: str = "") -> str:
    """
    The escaped address of a mount's path on this server, with
    C{ending} (C{".m3u"}) after it.
    """
    return _text(quote(name + ending, safe="/"))


def _web_link(url: str) -> str:
    """
    C{url} as a link to another site when it is an C{http} or C{https}
    URL, else as text.
    """
    parts = urlsplit(_NOT_HTML.sub("", url).strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return _text(url)
    return f'<a href="{_text(parts.geturl())}" rel="nofollow noopener noreferrer">{_text(url)}</a>'


def _contact(admin: str) -> str:
    """
    The station's contact: a C{mailto:} link when it is an e-mail
    address, else text.
    """
    address = admin.strip()
    if _MAILBOX.fullmatch(address):
        return f'<a href="mailto:{_text(quote(address, safe="@"))}">{_text(address)}</a>'
    return _text(admin)


def _time(seconds: float) -> str:
    """
    A time as Icecast writes it, marked up with its ISO 8601 form.
    """
    return f'<time datetime="{iso8601(seconds)}">{http_date(seconds)}</time>'


def _facts(rows: Iterable[tuple[str, str]], css: str = "facts") -> str:
    """
    A definition list of C{(label, markup)} rows; C{markup} is already
    escaped.
    """
    items = "".join(f"<dt>{_text(label)}</dt><dd>{markup}</dd>" for label, markup in rows)
    return f'<dl class="{css}">{items}</dl>'


def _document(title: str, body: str) -> bytes:
    """
    A whole page: C{title} (text) and C{body} (markup).
    """
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_text(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    ).encode()


def _station_rows(status: StationStatus, contact: str) -> list[tuple[str, str]]:
    """
    What both pages say of the station first: where it is and whom to
    contact, each when the configuration says.

    @param contact: the label of the contact.
    """
    rows = []
    if status.location:
        rows.append(("Location", _text(status.location)))
    if status.admin:
        rows.append((contact, _contact(status.admin)))
    return rows


def _footer(status: StationStatus) -> str:
    return (
        '<footer><a href="/status.xsl">Status</a>'
        '<a href="/server_version.xsl">Server information</a>'
        '<a href="/status-json.xsl">Status as JSON</a>'
        f"<span>{_text(status.server_id)}</span></footer>"
    )


def _mount_block(mount: MountStatus) -> str:
    """
    One mount's block: its path and links to listen, then Icecast's
    facts about it (those with no value left out, as Icecast does).
    """
    rows: list[tuple[str, str]] = []
    if mount.station_name:
        rows.append(("Stream Name", _text(mount.station_name)))
    if mount.description:
        rows.append(("Stream Description", _text(mount.description)))
    rows.append(("Content Type", _text(mount.content_type)))
    rows.append(("Stream started", _time(mount.stream_start)))
    bitrate = f"{mount.bitrate} kbit/s" if mount.bitrate else "unknown"
    rows.append(("Bitrate", _text(bitrate)))
    rows.append(("Listeners (current)", _text(mount.listeners)))
    rows.append(("Listeners (peak)", _text(mount.peak_listeners)))
    if mount.max_listeners:
        rows.append(("Listeners (maximum)", _text(mount.max_listeners)))
    if mount.genre:
        rows.append(("Stream Genre", _text(mount.genre)))
    if mount.url:
        rows.append(("Stream URL", _web_link(mount.url)))
    table = "".join(
        f'<tr><th scope="row">{_text(label)}</th><td>{markup}</td></tr>' for label, markup in rows
    )
    playing = mount.now_playing
    if playing is not None:
        now = f'<td class="playing">{_text(playing.stream_title)}</td>'
    else:
        now = '<td class="off">Off the air</td>'
    table += f'<tr><th scope="row">Currently playing</th>{now}</tr>'
    links = (
        f'<a href="{_path(mount.name)}">Listen</a>'
        f'<a href="{_path(mount.name, ".m3u")}">M3U</a>'
        f'<a href="{_path(mount.name, ".pls")}">PLS</a>'
        f'<a href="{_path(mount.name, ".xspf")}">XSPF</a>'
    )
    return (
        '<section class="mount">'
        f'<div class="mount-head"><h2>Mount point <code>{_text(mount.name)}</code></h2>'
        f'<span class="listen">{links}</span></div>'
        f"<table>{table}</table></section>"
    )


def render_status_page(status: StationStatus, mount: str | None = None) -> bytes:
    """
    The station's status page (C{/status.xsl}): what is said of the
    station, then a block per public mount, in the station's order.

    @param status: the snapshot (its hidden mounts are left out).
    @param mount: only this mount (C{?mount=}, as Icecast's pages take
        it); an unknown or hidden one leaves no block.
    @return: the UTF-8 page.
    """
    listed = status.listed()
    mounts = [m for m in listed.mounts if mount is None or m.name == mount]
    name = status.name or status.host
    rows = _station_rows(status, "Contact")
    rows.append(("Listeners", _text(listed.listeners)))
    rows.append(("Running since", _time(status.started)))
    blocks = "".join(_mount_block(each) for each in mounts)
    if not blocks:
        blocks = '<p class="off">No mounts to show.</p>'
    body = (
        f"<header><h1>{_text(name)}</h1>{_facts(rows)}</header>\n"
        f"<main>{blocks}</main>\n{_footer(status)}"
    )
    return _document(f"{name} \u2013 status", body)


def render_server_version(status: StationStatus) -> bytes:
    """
    The server's page (C{/server_version.xsl}): where it is, whom to
    contact, the host it was reached by, its name and version, and since
    when it runs.

    @param status: the snapshot.
    @return: the UTF-8 page.
    """
    rows = _station_rows(status, "Admin")
    rows += [
        ("Host", _text(status.host)),
        ("Server Version", _text(status.server_id)),
        ("Running since", _time(status.started)),
    ]
    body = (
        f"<header><h1>Server information</h1></header>\n"
        f"<main>{_facts(rows)}</main>\n{_footer(status)}"
    )
    return _document(f"{status.name or status.host} \u2013 server information", body)
