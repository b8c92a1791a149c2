/*
 * The web UI on the broker's HTTP port (src/node/msb-http-ui.c): index.html at / and
 * /index.html, every file of ui/ compiled in and served with its type, ETag revalidation (304),
 * index.html for unknown paths outside /api/ (the single-page app's fallback) and 404 inside it,
 * and the UI's own references (index.html's assets, the JavaScript modules' imports) all served.
 */
#include "itest.h"

#include <libsoup/soup.h>

typedef struct {
	guint status;
	gchar *body;
	gsize len;
	SoupMessageHeaders *headers; /* the response's */
} UiReply;

static void
ui_reply_free(UiReply *r)
{
	g_free(r->body);
	soup_message_headers_unref(r->headers);
	g_free(r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UiReply, ui_reply_free)

/* @method @path with the request headers of @headers ("Name", "value", …, NULL; may be NULL). */
static UiReply *
ui_request(ItestBroker *b, const gchar *method, const gchar *path, const gchar *const *headers)
{
	g_autoptr(SoupSession) session = soup_session_new();
	g_autofree gchar *uri = g_strdup_printf("http://127.0.0.1:%u%s", b->http_port, path);
	g_autoptr(SoupMessage) msg = soup_message_new(method, uri);
	g_autoptr(GBytes) body = NULL;
	g_autoptr(GError) error = NULL;
	UiReply *r = g_new0(UiReply, 1);

	for (guint i = 0; headers != NULL && headers[i] != NULL; i += 2)
		soup_message_headers_replace(soup_message_get_request_headers(msg), headers[i],
		                             headers[i + 1]);
	soup_session_set_timeout(session, ITEST_TIMEOUT_MS / 1000);
	body = soup_session_send_and_read(session, msg, NULL, &error);
	g_assert_no_error(error);
	r->status = soup_message_get_status(msg);
	r->len = g_bytes_get_size(body);
	r->body = g_strndup(g_bytes_get_data(body, NULL), r->len);
	r->headers = soup_message_headers_ref(soup_message_get_response_headers(msg));
	return r;
}

static UiReply *
ui_get(ItestBroker *b, const gchar *path)
{
	return ui_request(b, "GET", path, NULL);
}

static const gchar *
ui_header(UiReply *r, const gchar *name)
{
	return soup_message_headers_get_one(r->headers, name);
}

/* The source folder ui/, beside tests/. */
static gchar *
ui_source_path(const gchar *name)
{
	return g_test_build_filename(G_TEST_DIST, "..", "ui", name, NULL);
}

/* The files the resource lists (ui/msb-ui.gresource.xml), as URL paths ("/js/main.js"). */
static GPtrArray *
ui_listed_files(void)
{
	g_autofree gchar *xml_path = ui_source_path("msb-ui.gresource.xml");
	g_autofree gchar *xml = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GRegex) re = g_regex_new("<file[^>]*>([^<]+)</file>", 0, 0, NULL);
	g_autoptr(GMatchInfo) match = NULL;
	GPtrArray *files = g_ptr_array_new_with_free_func(g_free);

	g_file_get_contents(xml_path, &xml, NULL, &error);
	g_assert_no_error(error);
	g_regex_match(re, xml, 0, &match);
	while (g_match_info_matches(match)) {
		g_autofree gchar *name = g_match_info_fetch(match, 1);
		g_ptr_array_add(files, g_strconcat("/", name, NULL));
		g_match_info_next(match, NULL);
	}
	g_assert_cmpuint(files->len, >, 3);
	return files;
}

static void
test_index(ItestFixture *f, gconstpointer data)
{
	g_autoptr(UiReply) root = ui_get(f->broker, "/");
	g_autoptr(UiReply) index = ui_get(f->broker, "/index.html");
	g_autoptr(UiReply) head = ui_request(f->broker, "HEAD", "/", NULL);

	g_assert_cmpuint(root->status, ==, 200);
	g_assert_cmpstr(ui_header(root, "Content-Type"), ==, "text/html; charset=utf-8");
	/* the modules, bundled at build time (ui/bundle.py) */
	g_assert_nonnull(strstr(root->body, "<script type=\"module\" src=\"/app.js\">"));
	/* the test hooks of the browser test are there from the start */
	g_assert_nonnull(strstr(root->body, "data-testid=\"live-indicator\""));
	g_assert_nonnull(strstr(root->body, "data-testid=\"kpi-msgs\""));
	g_assert_nonnull(ui_header(root, "ETag"));
	g_assert_cmpstr(ui_header(root, "Cache-Control"), ==, "no-cache");
	g_assert_nonnull(ui_header(root, "Content-Security-Policy"));
	/* the boot script is inline, allowed by its hash and by nothing broader */
	{
		const gchar *csp = ui_header(root, "Content-Security-Policy");
		const gchar *start = strstr(root->body, "<script>\n");
		const gchar *end = start != NULL ? strstr(start, "</script>") : NULL;
		g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
		guint8 digest[32];
		gsize len = sizeof(digest);
		g_autofree gchar *b64 = NULL;
		g_autofree gchar *allowed = NULL;

		g_assert_nonnull(end);
		g_assert_nonnull(strstr(start, "/api/Status/First"));
		start += strlen("<script>");
		g_checksum_update(sum, (const guchar *)start, end - start);
		g_checksum_get_digest(sum, digest, &len);
		b64 = g_base64_encode(digest, len);
		allowed = g_strdup_printf("script-src 'self' 'sha256-%s';", b64);
		g_assert_nonnull(strstr(csp, allowed));
		g_assert_null(strstr(csp, "unsafe-inline"));
		/* one inline script only */
		g_assert_null(strstr(end, "<script>"));
	}
	g_assert_cmpstr(ui_header(root, "X-Content-Type-Options"), ==, "nosniff");

	g_assert_cmpuint(index->status, ==, 200);
	g_assert_cmpstr(index->body, ==, root->body);
	g_assert_cmpstr(ui_header(index, "ETag"), ==, ui_header(root, "ETag"));
	/* paths match in any case, as the API's do */
	{
		g_autoptr(UiReply) upper = ui_get(f->broker, "/INDEX.HTML");
		g_assert_cmpuint(upper->status, ==, 200);
		g_assert_cmpstr(upper->body, ==, root->body);
	}

	g_assert_cmpuint(head->status, ==, 200);
	g_assert_cmpuint(head->len, ==, 0);
	g_assert_cmpstr(ui_header(head, "ETag"), ==, ui_header(root, "ETag"));
}

static void
test_files(ItestFixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) files = ui_listed_files();
	g_autoptr(UiReply) js = ui_get(f->broker, "/js/main.js");
	g_autoptr(UiReply) css = ui_get(f->broker, "/app.css");
	g_autoptr(UiReply) svg = ui_get(f->broker, "/favicon.svg");

	g_assert_cmpuint(js->status, ==, 200);
	/* browsers run a module only with a JavaScript type */
	g_assert_true(g_str_has_prefix(ui_header(js, "Content-Type"), "text/javascript"));
	g_assert_nonnull(strstr(js->body, "import "));
	g_assert_cmpuint(css->status, ==, 200);
	g_assert_true(g_str_has_prefix(ui_header(css, "Content-Type"), "text/css"));
	g_assert_cmpuint(svg->status, ==, 200);
	g_assert_cmpstr(ui_header(svg, "Content-Type"), ==, "image/svg+xml");

	/* every listed file is served as it is in the source tree */
	for (guint i = 0; i < files->len; i++) {
		const gchar *path = g_ptr_array_index(files, i);
		g_autoptr(UiReply) r = ui_get(f->broker, path);
		g_autofree gchar *src = ui_source_path(path + 1);
		/* app.js is generated in the build folder */
		g_autofree gchar *built =
		        g_test_build_filename(G_TEST_BUILT, "..", "ui", path + 1, NULL);
		g_autofree gchar *expect = NULL;
		gsize expect_len = 0;

		if (!g_file_get_contents(src, &expect, &expect_len, NULL))
			g_file_get_contents(built, &expect, &expect_len, NULL);
		g_assert_nonnull(expect);
		g_assert_cmpuint(r->status, ==, 200);
		g_assert_cmpuint(r->len, ==, expect_len);
		g_assert_true(memcmp(r->body, expect, expect_len) == 0);
		g_assert_nonnull(ui_header(r, "ETag"));
		g_assert_cmpstr(ui_header(r, "Content-Type"), !=, "application/octet-stream");
	}
}

/* Every file under ui/ that the browser may load is in the resource: a new module that is not
 * listed would be answered with index.html and break the page. */
static void
test_all_listed(void)
{
	g_autoptr(GPtrArray) files = ui_listed_files();
	const gchar *dirs[] = {"", "js", "vendor"};

	for (guint d = 0; d < G_N_ELEMENTS(dirs); d++) {
		g_autofree gchar *dir_path = ui_source_path(dirs[d]);
		g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
		const gchar *name;

		if (dir == NULL)
			continue;
		while ((name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *url = NULL;
			if (!g_str_has_suffix(name, ".js") && !g_str_has_suffix(name, ".css") &&
			    !g_str_has_suffix(name, ".html") && !g_str_has_suffix(name, ".svg"))
				continue;
			url = dirs[d][0] != '\0' ? g_strdup_printf("/%s/%s", dirs[d], name)
			                         : g_strdup_printf("/%s", name);
			if (!g_ptr_array_find_with_equal_func(files, url, g_str_equal, NULL))
				g_error("ui%s is not in ui/msb-ui.gresource.xml", url);
		}
	}
}

/* What index.html loads and what every module imports is served as that type. */
static void
test_references(ItestFixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) files = ui_listed_files();
	g_autoptr(UiReply) index = ui_get(f->broker, "/");
	g_autoptr(GRegex) attr = g_regex_new("(?:src|href)=\"(/[^\"#?]*)\"", 0, 0, NULL);
	g_autoptr(GRegex) import =
	        g_regex_new("(?:from|import)\\s*\\(?\\s*'\\./([^']+)'", 0, 0, NULL);
	g_autoptr(GMatchInfo) m = NULL;
	guint n_imports = 0;

	g_regex_match(attr, index->body, 0, &m);
	while (g_match_info_matches(m)) {
		g_autofree gchar *path = g_match_info_fetch(m, 1);
		/* links out of the UI (the API's pages) are not UI files */
		if (g_str_has_suffix(path, ".js") || g_str_has_suffix(path, ".css") ||
		    g_str_has_suffix(path, ".svg"))
			g_assert_true(
			        g_ptr_array_find_with_equal_func(files, path, g_str_equal, NULL));
		g_match_info_next(m, NULL);
	}
	for (guint i = 0; i < files->len; i++) {
		const gchar *path = g_ptr_array_index(files, i);
		g_autoptr(UiReply) js = NULL;
		g_autoptr(GMatchInfo) im = NULL;

		if (!g_str_has_prefix(path, "/js/"))
			continue;
		js = ui_get(f->broker, path);
		g_regex_match(import, js->body, 0, &im);
		while (g_match_info_matches(im)) {
			g_autofree gchar *name = g_match_info_fetch(im, 1);
			g_autofree gchar *target = g_strconcat("/js/", name, NULL);
			g_autoptr(UiReply) r = ui_get(f->broker, target);

			if (!g_ptr_array_find_with_equal_func(files, target, g_str_equal, NULL))
				g_error("%s imports %s, which is not in the resource", path,
				        target);
			g_assert_true(
			        g_str_has_prefix(ui_header(r, "Content-Type"), "text/javascript"));
			n_imports++;
			g_match_info_next(im, NULL);
		}
	}
	g_assert_cmpuint(n_imports, >, 10);
}

static void
test_etag(ItestFixture *f, gconstpointer data)
{
	g_autoptr(UiReply) first = ui_get(f->broker, "/js/main.js");
	g_autofree gchar *etag = g_strdup(ui_header(first, "ETag"));
	g_autofree gchar *weak = g_strdup_printf("W/%s", etag);
	g_autofree gchar *list = g_strdup_printf("\"nope\", %s", etag);
	const gchar *same[] = {"If-None-Match", etag, NULL};
	const gchar *same_weak[] = {"If-None-Match", weak, NULL};
	const gchar *in_list[] = {"If-None-Match", list, NULL};
	const gchar *other[] = {"If-None-Match", "\"0123456789abcdef\"", NULL};
	g_autoptr(UiReply) r304 = ui_request(f->broker, "GET", "/js/main.js", same);
	g_autoptr(UiReply) r304w = ui_request(f->broker, "GET", "/js/main.js", same_weak);
	g_autoptr(UiReply) r304l = ui_request(f->broker, "GET", "/js/main.js", in_list);
	g_autoptr(UiReply) r200 = ui_request(f->broker, "GET", "/js/main.js", other);
	g_autoptr(UiReply) css = ui_get(f->broker, "/app.css");

	g_assert_nonnull(etag);
	g_assert_true(etag[0] == '"');
	g_assert_cmpuint(r304->status, ==, 304);
	g_assert_cmpuint(r304->len, ==, 0);
	g_assert_cmpstr(ui_header(r304, "ETag"), ==, etag);
	g_assert_cmpuint(r304w->status, ==, 304);
	g_assert_cmpuint(r304l->status, ==, 304);
	g_assert_cmpuint(r200->status, ==, 200);
	g_assert_cmpuint(r200->len, ==, first->len);
	/* each file has its own tag */
	g_assert_cmpstr(ui_header(css, "ETag"), !=, etag);
}

static void
test_fallback(ItestFixture *f, gconstpointer data)
{
	g_autoptr(UiReply) index = ui_get(f->broker, "/");
	g_autoptr(UiReply) deep = ui_get(f->broker, "/topics/orders/queues/billing");
	g_autoptr(UiReply) asset = ui_get(f->broker, "/js/no-such-module.js?x=1");
	g_autoptr(UiReply) api = ui_get(f->broker, "/api/NoSuchThing");
	g_autoptr(UiReply) api_case = ui_get(f->broker, "/API/nothing/here");
	g_autoptr(UiReply) post = ui_request(f->broker, "POST", "/some/page", NULL);
	g_autoptr(UiReply) status = ui_get(f->broker, "/api/Status");
	const gchar *etag[] = {"If-None-Match", ui_header(index, "ETag"), NULL};
	g_autoptr(UiReply) deep304 = ui_request(f->broker, "GET", "/sessions", etag);

	/* unknown GETs outside /api/ get the app, whose routes live after the '#' */
	g_assert_cmpuint(deep->status, ==, 200);
	g_assert_cmpstr(ui_header(deep, "Content-Type"), ==, "text/html; charset=utf-8");
	g_assert_cmpstr(deep->body, ==, index->body);
	g_assert_cmpuint(asset->status, ==, 200);
	g_assert_cmpstr(asset->body, ==, index->body);
	g_assert_cmpuint(deep304->status, ==, 304);
	/* the API answers 404 for what it does not have, never the page */
	g_assert_cmpuint(api->status, ==, 404);
	g_assert_null(strstr(api->body, "<html"));
	g_assert_cmpuint(api_case->status, ==, 404);
	g_assert_cmpuint(post->status, ==, 404);
	/* and its routes still win over the fallback */
	g_assert_cmpuint(status->status, ==, 200);
	g_assert_true(g_str_has_prefix(ui_header(status, "Content-Type"), "application/json"));
}

int
main(int argc, char **argv)
{
	itest_init(&argc, &argv);
	ITEST_ADD("/http-ui/index", NULL, test_index);
	ITEST_ADD("/http-ui/files", NULL, test_files);
	g_test_add_func("/http-ui/all-listed", test_all_listed);
	ITEST_ADD("/http-ui/references", NULL, test_references);
	ITEST_ADD("/http-ui/etag", NULL, test_etag);
	ITEST_ADD("/http-ui/fallback", NULL, test_fallback);
	return g_test_run();
}
