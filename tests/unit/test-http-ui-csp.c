/*
 * msb_http_ui_page_csp(): the web UI page's Content-Security-Policy allows the page's own inline
 * scripts by the SHA-256 of their text, and nothing else inline. The hashes below were computed
 * apart (Python's hashlib and base64), not with the code under test.
 */
#include <string.h>

#include "msb-http-ui.h"

#define REST                                                                              \
	"; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; " \
	"form-action 'none'; frame-ancestors 'none'"

static void
check(const gchar *html, const gchar *expect)
{
	g_autofree gchar *csp = msb_http_ui_page_csp(html, strlen(html));
	g_assert_cmpstr(csp, ==, expect);
}

static void
test_page_csp(void)
{
	/* no inline script: the UI's own files only */
	check("<html><head><script src=\"/app.js\"></script></head></html>",
	      "default-src 'self'; script-src 'self'" REST);
	check("", "default-src 'self'; script-src 'self'" REST);
	/* one inline script: its hash */
	check("<head><script>alert(1)</script><script type=\"module\" src=\"/app.js\"></script>",
	      "default-src 'self'; script-src 'self' "
	      "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='" REST);
	/* two, in order; the text exactly as written, blanks included */
	check("<script>alert(1)</script><p>x</p><script>\n  let a = 1;\n</script>",
	      "default-src 'self'; script-src 'self' "
	      "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI=' "
	      "'sha256-slOEsepuiOfb0vnqIrn8hTpwoWDXQ4rlDdoyTcG8rDU='" REST);
	/* an empty one */
	check("<script></script>", "default-src 'self'; script-src 'self' "
	                           "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='" REST);
	/* never closed: nothing allowed */
	check("<script>alert(1)", "default-src 'self'; script-src 'self'" REST);
}

/* Only the given bytes are read: a page cut short before its closing tag allows nothing. */
static void
test_page_csp_length(void)
{
	const gchar *html = "<script>alert(1)</script>";
	g_autofree gchar *cut = msb_http_ui_page_csp(html, strlen(html) - 1);
	g_autofree gchar *whole = msb_http_ui_page_csp(html, strlen(html));

	g_assert_cmpstr(cut, ==, "default-src 'self'; script-src 'self'" REST);
	g_assert_nonnull(strstr(whole, "'sha256-"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/http-ui-csp/page-csp", test_page_csp);
	g_test_add_func("/http-ui-csp/page-csp-length", test_page_csp_length);
	return g_test_run();
}
