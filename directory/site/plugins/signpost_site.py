"""Signpost's one-off Datasette plugin: the visitors' directory (/ and /org/<id>), the maintainers'
review page (/-/review), robots.txt, and the locks that keep the checker's tables private.

Route handlers stay small: the SQL and the shaping of rows live in directory/site_queries.py, the
markup in ../templates/. Datasette registers plugin modules once per process, so nothing here keeps
state between Datasette instances: everything comes from the `datasette` argument.
"""

from __future__ import annotations

import json
import traceback
from html import escape
from urllib.parse import urlencode

from datasette import Response, hookimpl
from datasette.plugins import pm
from datasette.utils import add_cors_headers
from datasette.utils.asgi import Base400
from datasette.views.base import DatasetteError
from markupsafe import Markup

from directory import migrations, site_queries
from directory.publish import DATABASE_NAME

MAINTAINER_ID = "root"  # the actor `signpost serve --root` signs in

# Datasette's introspection pages, and what each shows. Only a maintainer may see them: they list
# versions, settings, file paths and the permission rules.
INTROSPECTION = {
    "metadata": lambda ds, request: ds.metadata(),
    "versions": lambda ds, request: ds._versions(),
    "plugins": lambda ds, request: ds._plugins(request),
    "settings": lambda ds, request: ds._settings,
    "threads": lambda ds, request: ds._threads(),
    "databases": lambda ds, request: ds._connected_databases(),
}

ROBOTS_TXT = """\
# The directory pages are for everyone; the raw tables and the tools behind them are not for crawlers.
User-agent: *
Disallow: /signpost
Disallow: /-/
Allow: /
"""


class SiteConfigError(Exception):
    """metadata.yaml no longer protects something it must; raised at startup, before serving."""


def is_maintainer(actor) -> bool:
    return bool(actor) and actor.get("id") == MAINTAINER_ID


# -- Hooks -------------------------------------------------------------------------------------

@hookimpl
def startup(datasette):
    """Refuse to serve if the configuration would expose the checker's private tables."""
    for table in migrations.PRIVATE_TABLES:
        allow = datasette.metadata("allow", database=DATABASE_NAME, table=table, fallback=False)
        if allow != {"id": MAINTAINER_ID}:
            raise SiteConfigError(f"metadata.yaml must restrict table {table} to the maintainer")
    if datasette.metadata("allow_sql", database=DATABASE_NAME, fallback=False) != {"id": MAINTAINER_ID}:
        raise SiteConfigError("metadata.yaml must restrict arbitrary SQL to the maintainer")
    if datasette.setting("allow_download"):
        raise SiteConfigError("settings.json must keep allow_download false")


@hookimpl
def permission_allowed(actor, action, resource):
    """A second lock behind metadata.yaml: visitors never read private tables, run SQL or
    download the file, whatever the metadata says."""
    if is_maintainer(actor):
        return None
    if action in ("execute-sql", "view-database-download"):
        return False
    if action == "view-table" and resource and resource[1] in migrations.PRIVATE_TABLES:
        return False
    return None


@hookimpl
def register_routes():
    return [
        (r"^/$", home),
        (r"^/org/(?P<org_id>[^/]+)$", organization_page),
        (r"^/-/review$", review_page),
        (r"^/robots\.txt$", robots_txt),
        (r"^/sitemap\.xml$", sitemap_xml),
        (r"^/-/(?P<page>" + "|".join(INTROSPECTION) + r")(\.json)?$", introspection),
    ]


@hookimpl
def extra_template_vars(request):
    return {"is_maintainer": is_maintainer(request.actor if request else None)}


# -- Pages -------------------------------------------------------------------------------------

def _db(datasette):
    return datasette.get_database(DATABASE_NAME)


async def _html(datasette, request, template: str, context: dict, status: int = 200) -> Response:
    body = await datasette.render_template(template, context, request=request)
    return Response.html(body, status=status)


async def _error(datasette, request, status: int, message: str) -> Response:
    """Datasette's error page, rendered here rather than raised (raising logs a traceback)."""
    return await _html(datasette, request, "error.html", {"status": status, "error": message}, status=status)


MAINTAINERS_ONLY = "Only a signed-in maintainer can see this page."


async def home(datasette, request):
    filters = site_queries.Filters.from_args(request.args)
    results = await site_queries.search(_db(datasette), filters)
    if filters.page > results.page_count:
        return await _error(datasette, request, 404, "There is no such page of results.")
    return await _html(datasette, request, "site_home.html", {"results": results, "filters": filters})


async def organization_page(datasette, request):
    org = await site_queries.organization(_db(datasette), request.url_vars["org_id"])
    if org is None:
        return await _error(datasette, request, 404, "We have no organization at this address.")
    if org["withdrawn_at"]:
        return await _html(datasette, request, "site_withdrawn.html", {"org": org}, status=410)
    return await _html(datasette, request, "site_org.html", {"org": org})


async def review_page(datasette, request):
    if not is_maintainer(request.actor):
        return await _error(datasette, request, 403, MAINTAINERS_ONLY)
    items = await site_queries.review_queue(_db(datasette))
    checks = datasette.urls.table(DATABASE_NAME, "checks")
    for item in items:
        item["history_url"] = checks + "?" + urlencode(
            {"organization_id": item["id"], "_sort_desc": "checked_at"})
    response = await _html(datasette, request, "site_review.html", {"items": items})
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def robots_txt(request):
    return Response.text(ROBOTS_TXT + f"Sitemap: {_absolute(request, '/sitemap.xml')}\n")


def _absolute(request, path: str) -> str:
    return f"{request.scheme}://{request.host}{path}"


async def sitemap_xml(datasette, request):
    """Only the canonical pages: filter and search URLs form an endless space crawlers should skip."""
    entries = [{"path": "/", "lastmod": ""}, *await site_queries.sitemap_entries(_db(datasette))]
    urls = "".join(
        f"<url><loc>{escape(_absolute(request, e['path']))}</loc>"
        + (f"<lastmod>{escape(e['lastmod'])}</lastmod>" if e["lastmod"] else "") + "</url>"
        for e in entries)
    body = ('<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>')
    return Response(body, content_type="application/xml; charset=utf-8")


async def introspection(datasette, request):
    if not is_maintainer(request.actor):
        if request.path.endswith(".json"):
            return Response.json({"ok": False, "error": MAINTAINERS_ONLY, "status": 403}, status=403)
        return await _error(datasette, request, 403, MAINTAINERS_ONLY)
    data = INTROSPECTION[request.url_vars["page"]](datasette, request)
    return Response(json.dumps(data, indent=2, default=repr), content_type="application/json; charset=utf-8",
                    headers={"Cache-Control": "private, no-store"})



# Datasette's default error handler prints every exception with rich, local variables included
# (request headers and cookies among them), even for a visitor's 404. A health directory keeps
# its visitors' requests out of its logs, so this plugin's handler replaces it: client errors are
# answered quietly, server errors are logged with a plain traceback and no local variables.
_DEFAULT_HANDLER = pm.get_plugin("datasette.handle_exception")
if _DEFAULT_HANDLER is not None:
    pm.unregister(_DEFAULT_HANDLER)


@hookimpl
def handle_exception(datasette, request, exception):
    if isinstance(exception, DatasetteError):
        status, info, title = exception.status, dict(exception.error_dict), exception.title
        message = Markup(exception.message) if exception.message_is_html else exception.message
    elif isinstance(exception, Base400):
        status, info, title, message = exception.status, {}, None, exception.args[0]
    else:
        status, info, title, message = 500, {}, None, str(exception)
    if status >= 500:
        traceback.print_exception(exception)

    async def inner():
        info.update({"ok": False, "error": message, "status": status, "title": title})
        headers = {}
        if datasette.cors:
            add_cors_headers(headers)
        if request.path.split("?")[0].endswith(".json"):
            return Response.json(info, status=status, headers=headers)
        template = datasette.jinja_env.select_template([f"{status}.html", "error.html"])
        html = await template.render_async(dict(info, urls=datasette.urls, app_css_hash=datasette.app_css_hash(),
                                                menu_links=lambda: [], request=request))
        return Response.html(html, status=status, headers=headers)

    return inner
