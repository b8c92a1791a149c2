/*
 * Message translation set-up shared by the three programs (gettext, see po/README.md).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The environment variable that overrides the folder of the message catalogues (LOCALEDIR):
 * the tests point it at the build tree's po/ folder. */
#define MSB_I18N_LOCALEDIR_ENV "MSB_LOCALEDIR"

void
msb_i18n_init(const gchar *domain);
const gchar *
msb_i18n_get_domain(void);

G_END_DECLS
