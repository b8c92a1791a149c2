/*
 * Message translation set-up: the locale from the environment and the program's text domain.
 *
 * Each program has its own text domain (msbctl, my-service-bus, my-service-bus-persistence),
 * all compiled from the one catalogue in po/, so that each Debian package ships the messages
 * of its own program without two packages owning the same file (po/README.md). The shared code
 * in src/common translates with _(), which looks in the domain chosen here.
 */
#define G_LOG_DOMAIN "msb-i18n"

#include "msb-i18n.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "msb-config.h"

static const gchar *msb_i18n_domain = GETTEXT_PACKAGE;

void
msb_i18n_init(const gchar *domain)
{
	const gchar *dir = g_getenv(MSB_I18N_LOCALEDIR_ENV);

	g_return_if_fail(domain != NULL);

	setlocale(LC_ALL, "");
	msb_i18n_domain = domain;
	/* an empty value is as good as unset: a test harness that clears variables by emptying
	 * them must not send the lookup to the current folder */
	bindtextdomain(domain, dir != NULL && dir[0] != '\0' ? dir : LOCALEDIR);
	/* GLib prints UTF-8 and converts for the terminal itself */
	bind_textdomain_codeset(domain, "UTF-8");
	textdomain(domain);
}

const gchar *
msb_i18n_get_domain(void)
{
	return msb_i18n_domain;
}
