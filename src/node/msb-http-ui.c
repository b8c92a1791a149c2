/*
 * The web UI's files (see msb-http-ui.h).
 *
 * The files are compiled in (ui/msb-ui.gresource.xml), so the UI always matches the broker that
 * serves it and nothing is read from the working directory. Each file is looked up once: its
 * bytes, a strong ETag from its content, and its Content-Type; the table lives as long as the
 * process, as the resource does. Browsers revalidate every file (Cache-Control: no-cache) and get
 * 304 while it is unchanged, so a new broker version's UI is seen on the next load without a
 * stale mix of old and new modules.
 */
#define G_LOG_DOMAIN "msb-http"

#include "msb-http-ui.h"

#include <string.h>

#include "msb-ui-resources.h"

#define MSB_HTTP_UI_PREFIX "/org/myservicebus/ui"

typedef struct {
	GBytes *bytes;
	gchar *etag; /* with its quotes */
	const gchar *content_type;
	gchar *csp; /* HTML pages: their Content-Security-Policy (msb_http_ui_page_csp()) */
} MsbHttpUiFile;

/* The UI only loads its own files (and the inline scripts of its page, by their hashes), and
 * talks to this origin only. */
#define MSB_HTTP_UI_CSP_SCRIPTS "default-src 'self'; script-src 'self'"
#define MSB_HTTP_UI_CSP_REST                                                              \
	"; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; " \
	"form-action 'none'; frame-ancestors 'none'"

gchar *
msb_http_ui_page_csp(const gchar *html, gsize len)
{
	static const gchar open_tag[] = "<script>";
	static const gchar close_tag[] = "</script>";
	GString *csp = g_string_new(MSB_HTTP_UI_CSP_SCRIPTS);
	const gchar *end = html + len;
	const gchar *p = html;

	g_return_val_if_fail(html != NULL || len == 0, NULL);
	while (p != NULL && p < end) {
		const gchar *body;
		const gchar *stop;
		g_autoptr(GChecksum) sum = NULL;
		guint8 digest[32];
		gsize digest_len = sizeof(digest);
		g_autofree gchar *b64 = NULL;

		p = memmem(p, (gsize)(end - p), open_tag, strlen(open_tag));
		if (p == NULL)
			break;
		body = p + strlen(open_tag);
		stop = memmem(body, (gsize)(end - body), close_tag, strlen(close_tag));
		if (stop == NULL)
			break; /* not a script the browser would run either */
		sum = g_checksum_new(G_CHECKSUM_SHA256);
		g_checksum_update(sum, (const guchar *)body, stop - body);
		g_checksum_get_digest(sum, digest, &digest_len);
		b64 = g_base64_encode(digest, digest_len);
		g_string_append_printf(csp, " 'sha256-%s'", b64);
		p = stop + strlen(close_tag);
	}
	g_string_append(csp, MSB_HTTP_UI_CSP_REST);
	return g_string_free(csp, FALSE);
}

static const struct {
	const gchar *suffix;
	const gchar *content_type;
} msb_http_ui_types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".json", "application/json"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".md", "text/plain; charset=utf-8"},
};

static const gchar *
msb_http_ui_content_type(const gchar *path)
{
	for (guint i = 0; i < G_N_ELEMENTS(msb_http_ui_types); i++) {
		if (g_str_has_suffix(path, msb_http_ui_types[i].suffix))
			return msb_http_ui_types[i].content_type;
	}
	return "application/octet-stream";
}

/* Every file under @dir (a resource path ending in '/'), keyed by its URL path. */
static void
msb_http_ui_load_dir(GResource *resource, const gchar *dir, GHashTable *files)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) children =
	        g_resource_enumerate_children(resource, dir, G_RESOURCE_LOOKUP_FLAGS_NONE, &error);

	if (children == NULL) {
		g_warning("web UI: cannot list %s: %s", dir, error->message);
		return;
	}
	for (guint i = 0; children[i] != NULL; i++) {
		g_autofree gchar *path = g_strconcat(dir, children[i], NULL);
		MsbHttpUiFile *file;
		g_autofree gchar *sum = NULL;

		if (g_str_has_suffix(path, "/")) {
			msb_http_ui_load_dir(resource, path, files);
			continue;
		}
		file = g_new0(MsbHttpUiFile, 1);
		file->bytes = g_resource_lookup_data(resource, path, G_RESOURCE_LOOKUP_FLAGS_NONE,
		                                     &error);
		if (file->bytes == NULL) {
			g_warning("web UI: cannot read %s: %s", path, error->message);
			g_clear_error(&error);
			g_free(file);
			continue;
		}
		sum = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, file->bytes);
		file->etag = g_strdup_printf("\"%.24s\"", sum);
		file->content_type = msb_http_ui_content_type(path);
		if (g_str_has_prefix(file->content_type, "text/html")) {
			gsize len = 0;
			const gchar *html = g_bytes_get_data(file->bytes, &len);
			file->csp = msb_http_ui_page_csp(html, len);
		}
		g_hash_table_insert(files, g_strdup(path + strlen(MSB_HTTP_UI_PREFIX)), file);
	}
}

/* URL path ("/js/app.js") → MsbHttpUiFile; built once, kept for the life of the process. */
static GHashTable *
msb_http_ui_files(void)
{
	static gsize once = 0;
	static GHashTable *files = NULL;

	if (g_once_init_enter(&once)) {
		GHashTable *table = g_hash_table_new(g_str_hash, g_str_equal);
		msb_http_ui_load_dir(msb_ui_get_resource(), MSB_HTTP_UI_PREFIX "/", table);
		if (g_hash_table_lookup(table, "/index.html") == NULL)
			g_warning("web UI: the resource has no index.html");
		files = table;
		g_once_init_leave(&once, 1);
	}
	return files;
}

/* Whether If-None-Match (a list of entity tags, or "*") names @etag; weak tags match too
 * (RFC 9110 §13.1.2 compares them weakly). */
static gboolean
msb_http_ui_etag_matches(const gchar *if_none_match, const gchar *etag)
{
	g_auto(GStrv) tags = NULL;

	if (if_none_match == NULL)
		return FALSE;
	tags = g_strsplit(if_none_match, ",", -1);
	for (guint i = 0; tags[i] != NULL; i++) {
		const gchar *tag = g_strstrip(tags[i]);
		if (g_str_has_prefix(tag, "W/"))
			tag += 2;
		if (g_strcmp0(tag, "*") == 0 || g_strcmp0(tag, etag) == 0)
			return TRUE;
	}
	return FALSE;
}

static void
msb_http_ui_send(MsbHttpCall *call, const MsbHttpUiFile *file)
{
	SoupServerMessage *msg = msb_http_call_get_message(call);
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);

	soup_message_headers_replace(headers, "ETag", file->etag);
	soup_message_headers_replace(headers, "Cache-Control", "no-cache");
	soup_message_headers_replace(headers, "X-Content-Type-Options", "nosniff");
	if (g_str_has_prefix(file->content_type, "text/html")) {
		soup_message_headers_replace(headers, "Content-Security-Policy", file->csp);
		soup_message_headers_replace(headers, "Referrer-Policy", "no-referrer");
		soup_message_headers_replace(headers, "X-Frame-Options", "DENY");
	}
	if (msb_http_ui_etag_matches(msb_http_call_get_header(call, "If-None-Match"), file->etag)) {
		soup_server_message_set_status(msg, SOUP_STATUS_NOT_MODIFIED, NULL);
		return;
	}
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_message_headers_replace(headers, "Content-Type", file->content_type);
	soup_message_body_append_bytes(soup_server_message_get_response_body(msg), file->bytes);
}

static void
msb_http_ui_index_cb(MsbHttpCall *call, gpointer user_data)
{
	const MsbHttpUiFile *file = g_hash_table_lookup(msb_http_ui_files(), "/index.html");

	if (file == NULL) {
		msb_http_call_reply_text(call, SOUP_STATUS_NOT_FOUND,
		                         "this broker was built without its web UI\n");
		return;
	}
	msb_http_ui_send(call, file);
}

/* A file of the UI by its path, else index.html: the UI's own routes live after the '#'. */
static void
msb_http_ui_fallback_cb(MsbHttpCall *call, gpointer user_data)
{
	SoupServerMessage *msg = msb_http_call_get_message(call);
	const gchar *path = g_uri_get_path(soup_server_message_get_uri(msg));
	const MsbHttpUiFile *file = g_hash_table_lookup(msb_http_ui_files(), path);

	if (file == NULL) {
		msb_http_ui_index_cb(call, user_data);
		return;
	}
	msb_http_ui_send(call, file);
}

static const MsbHttpRoute msb_http_ui_routes[] = {
        {"GET", "/", MSB_HTTP_ROUTE_NONE, msb_http_ui_index_cb},
        {"GET", "/index.html", MSB_HTTP_ROUTE_NONE, msb_http_ui_index_cb},
};

void
msb_http_ui_register(MsbHttpRouter *router)
{
	g_return_if_fail(router != NULL);
	msb_http_router_add(router, msb_http_ui_routes, G_N_ELEMENTS(msb_http_ui_routes), NULL);
	msb_http_router_set_fallback(router, msb_http_ui_fallback_cb, NULL);
}
