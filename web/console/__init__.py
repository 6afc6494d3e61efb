"""The console: the service in a browser at /console/, for the people who label, train and
decide. Server-rendered Django templates, htmx served by the app itself (django-htmx's
static file), SVG drawn on the server; no CDN, no inline script or style (every answer
carries a Content-Security-Policy of `default-src 'self'`).

How a page is added (Data, Review, Training and Versions come this way):

1. A view in a module of its own here, decorated with `console_view(scope, post=scope)`
   (access.py): sign-in is required (others go to the sign-in page and back), `scope` to see
   the page, `post` to send its forms; anyone else gets the 403 page. POST, GET and HEAD
   only; every form holds `{% csrf_token %}`.
2. The view calls the same services, selectors and gRPC client as the API's views
   (web/algorithm_proxy/client.py, web/data/selectors.py, web/accounts/services.py, ...),
   and validates with the API's serializers where the API takes the same input: never a
   second implementation. Logic an API view holds inline moves to a service or selector
   both call. Parts that need the algorithm service are read with `overview.attempt`, so a
   service that does not answer leaves that part saying why.
3. A route in urls.py (app name "console"), before the catch-all 404 at the end, and a
   `Page` in nav.py at its place in the navigation, with the scope it needs: the nav shows
   it only to those who have it.
4. A template extending "console/base.html", filling the blocks `title`, `heading` and
   `content`. The context has `can` (scope -> bool, implications included): a control
   goes inside `{% if can.write %}` (or the scope it needs), so that no one sees a control
   they may not use. Every control has a <label>; charts come from charts.bar_chart and
   "console/_bar_chart.html" (each bar an element with data-key and data-value); an
   explanation's terms from explanations.highlighted. htmx: `hx-post` on a form whose plain
   POST works too; the view answers a partial template when `request.htmx`.
5. Static files go in static/console/ and are linked with {% static %}.
6. A browser test in tests/browser/ (see its conftest.py): sign in with `signed_in`, load
   the page, `check_page` (axe clean, no sideways scroll at 640 px, a screenshot).

Request bodies to /console/ are read on the event loop before they take a thread, up to
limits.MAX_CONSOLE_FORM_BYTES (web/config/asgi.py): a page that takes a file upload adds
its own path and limit there, as the API's import does, and the Data page's import has:
its file may be as large as the API import's, from a console user who may write
(access.importer_of, checked before the body is read)."""
