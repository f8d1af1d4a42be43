"""User-supplied files never run on the application's origin (issue #17, items 2 and 15).

Every path that serves a user's bytes — nginx's /storage/, the public and private downloads, the
avatars — answers with a sandboxing CSP, ``nosniff`` exactly once, the edge's framing and referrer
headers, and ``Content-Disposition: attachment`` for everything but raster images. Proven in real
headless Chromium (Debian's package, driven by Playwright): an SVG and an HTML-in-text payload that
would report ``document.cookie`` never run, while the same payload with those headers taken away does
run — so the probe can see a script that runs.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Error, Page, Route, async_playwright

if TYPE_CHECKING:
    from conftest import User

pytestmark = pytest.mark.integration
BASE = "https://localhost"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SANDBOX = "sandbox; default-src 'none'"
PNG = bytes.fromhex(  # 2 x 2 red pixels
    "89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a730000001049444154789c63f8cfc000440c100a"
    "001fee03fd8b5f14d40000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
# what a script on the origin would do: read the cookies and send them away
STEAL = "fetch('/xss-marker?c=' + encodeURIComponent(document.cookie)); document.title = 'XSS ' + document.cookie;"
SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="' + STEAL.replace("'", "&apos;") + '">'
    f"<script>{STEAL}</script><rect width='10' height='10'/></svg>"
).encode()
HTML_IN_TEXT = f"<!doctype html><html><body><script>{STEAL}</script>hello</body></html>\n".encode()


async def served(edge: httpx.AsyncClient, owner: User, name: str, data: bytes) -> dict[str, str]:
    """Uploads ``data`` as ``name`` publicly and privately: every URL that serves those bytes."""
    public = await owner.upload("public", name, data)
    private = await owner.upload("private", name, data)
    assert (public.status_code, private.status_code) == (201, 201), (public.text, private.text)
    return {
        "public download": public.json()["upload"]["url"],
        "nginx /storage/": public.json()["upload"]["public_url"],
        "private download": private.json()["upload"]["url"],
    }


def assert_inert(r: httpx.Response, *, inline: bool, where: str) -> None:
    headers = r.headers
    assert r.status_code == 200, (where, r.status_code)
    assert headers.get_list("content-security-policy") == [SANDBOX], where
    assert headers.get_list("x-content-type-options") == ["nosniff"], f"{where}: nosniff exactly once"
    assert headers.get_list("x-frame-options") == ["DENY"], where
    assert headers.get_list("referrer-policy") == ["strict-origin-when-cross-origin"], where
    assert headers.get_list("strict-transport-security") == ["max-age=63072000"], where
    disposition = headers.get_list("content-disposition")
    assert len(disposition) == 1, where
    assert disposition[0].split(";")[0] == ("inline" if inline else "attachment"), (where, disposition)


@pytest.mark.parametrize(
    ("name", "data", "mime", "inline"),
    [
        ("pixel.png", PNG, "image/png", True),
        ("drawing.svg", SVG, "image/svg+xml", False),
        ("statement.pdf", PDF, "application/pdf", False),
        ("notes.txt", HTML_IN_TEXT, "text/plain", False),
    ],
    ids=["png", "svg", "pdf", "txt"],
)
async def test_every_path_serving_user_bytes_sandboxes_them_and_only_raster_images_are_inline(
    edge: httpx.AsyncClient, users: tuple[User, User], name: str, data: bytes, mime: str, inline: bool
) -> None:
    me, _ = users
    for where, url in (await served(edge, me, name, data)).items():
        r = await me.call("GET", url)
        assert_inert(r, inline=inline, where=where)
        assert r.headers["content-type"].split(";")[0] == mime, where
        assert r.content == data, where


async def test_avatars_are_sandboxed_too(users: tuple[User, User]) -> None:
    me, _ = users
    avatar = await me.upload("avatar", "me.png", PNG)
    assert avatar.status_code == 201, avatar.text
    for url in (avatar.json()["upload"]["url"], "/api/v1/avatar"):
        assert_inert(await me.call("GET", url), inline=True, where=url)


async def test_an_svg_is_refused_as_an_avatar(users: tuple[User, User]) -> None:
    me, _ = users
    assert (await me.upload("avatar", "me.svg", SVG)).status_code == 400


async def test_storage_answers_a_missing_file_with_the_json_error_and_the_edge_headers(edge: httpx.AsyncClient) -> None:
    r = await edge.get(f"/storage/{uuid.uuid4().hex}.svg")
    assert (r.status_code, r.json()["status"]) == (404, "error")
    assert r.headers.get_list("x-content-type-options") == ["nosniff"]
    assert r.headers.get_list("x-frame-options") == ["DENY"]
    assert r.headers.get_list("referrer-policy") == ["strict-origin-when-cross-origin"]


# ---------------------------------------------------------------------------------------- browser


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])  # root in CI
        yield launched
        await launched.close()


class Probe:
    """A browser context holding a script-readable cookie for the origin, recording every request
    a payload's script makes to /xss-marker (answered here, never sent to the server)."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.stolen: list[str] = []

    @classmethod
    async def open(cls, browser: Browser, bearer: dict[str, str]) -> Probe:
        # the local stack's certificate is self-signed (made by make up): accepted for this origin only
        context = await browser.new_context(ignore_https_errors=True, accept_downloads=True)
        await context.add_cookies([{"name": "bs_probe", "value": "secret-cookie", "url": BASE}])
        await context.set_extra_http_headers(bearer)  # the private download needs the owner's token
        probe = cls(context)
        await context.route("**/xss-marker*", probe._record)
        return probe

    async def _record(self, route: Route) -> None:
        self.stolen.append(route.request.url)
        await route.fulfill(status=204)

    async def visit(self, url: str, *, strip: tuple[str, ...] = ()) -> tuple[Page, bool]:
        """Opens ``url`` in a new tab (optionally with some response headers taken away); returns the
        page and whether the browser turned it into a download instead of showing it."""
        page = await self.context.new_page()
        if strip:

            async def without(route: Route) -> None:
                response = await route.fetch()
                headers = {k: v for k, v in response.headers.items() if k.lower() not in strip}
                await route.fulfill(response=response, headers=headers)

            await page.route(BASE + url, without)
        downloads: list[str] = []
        page.on("download", lambda download: downloads.append(download.url))
        aborted = ""
        try:
            await page.goto(BASE + url, wait_until="load")
        except Error as exc:  # Chromium aborts a navigation that became a download
            aborted = str(exc)
        assert not aborted or "Download is starting" in aborted or "ERR_ABORTED" in aborted, aborted
        await page.wait_for_timeout(500)  # give a script that did start the time to call home
        return page, bool(downloads)


async def test_payloads_never_run_on_the_origin_in_a_real_browser(
    browser: Browser, edge: httpx.AsyncClient, users: tuple[User, User]
) -> None:
    me, _ = users
    probe = await Probe.open(browser, me.headers)
    urls = {
        **{f"svg via {k}": v for k, v in (await served(edge, me, "drawing.svg", SVG)).items()},
        **{f"html-in-txt via {k}": v for k, v in (await served(edge, me, "page.txt", HTML_IN_TEXT)).items()},
    }
    for where, url in urls.items():
        page, downloaded = await probe.visit(url)
        assert downloaded, f"{where}: an active type is a download, never shown on the origin"
        assert "XSS" not in await page.title(), where
        # second line of defence: a browser that shows it anyway still runs nothing (CSP sandbox)
        page, downloaded = await probe.visit(url, strip=("content-disposition",))
        assert not downloaded, where
        assert "XSS" not in await page.title(), where
        with pytest.raises(Error, match="sandboxed"):  # an opaque origin: not even DevTools reads a cookie there
            await page.evaluate("document.cookie")
    assert probe.stolen == [], "a payload's script ran and read the cookies"

    # the probe sees a script that runs: the same file without the protective headers does
    await probe.visit(urls["svg via public download"], strip=("content-disposition", "content-security-policy"))
    assert probe.stolen, "the control payload did not run: the probe proves nothing"
    assert "secret-cookie" in probe.stolen[0]
    await probe.context.close()


async def test_a_png_is_shown_inline_and_still_sandboxed_in_a_real_browser(
    browser: Browser, edge: httpx.AsyncClient, users: tuple[User, User]
) -> None:
    me, _ = users
    probe = await Probe.open(browser, me.headers)
    for where, url in (await served(edge, me, "pixel.png", PNG)).items():
        page = await probe.context.new_page()
        response = await page.goto(BASE + url)
        assert response is not None, where
        assert response.status == 200, where
        assert response.headers["content-security-policy"] == SANDBOX, where
        # the image document shows the picture (DevTools may look inside the sandboxed document)
        assert await page.evaluate("[document.images.length, document.images[0].naturalWidth]") == [1, 2], where
    await probe.context.close()
